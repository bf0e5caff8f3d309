// One small error taxonomy; the API's error middleware maps each to problem+json.

export interface FieldError { path: string; message: string }

export abstract class AppError extends Error {
  abstract readonly status: number;
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  readonly status = 400;
  constructor(code: string, message: string, readonly errors: FieldError[] = []) { super(code, message); }
}

export class UnauthorizedError extends AppError { readonly status = 401; }
export class ForbiddenError extends AppError { readonly status = 403; }
export class NotFoundError extends AppError { readonly status = 404; }
export class ConflictError extends AppError { readonly status = 409; }
export class UnsupportedMediaTypeError extends AppError { readonly status = 415; }

/** A stream was not at the revision the writer expected: re-read and decide again. */
export class ConcurrencyError extends AppError {
  readonly status = 409;
  constructor(readonly streamId: string, readonly expected: string, readonly actual: string) {
    super('stream.wrong_expected_revision', `Stream ${streamId} is at revision ${actual}, expected ${expected}`);
  }
}

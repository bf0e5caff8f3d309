// The payment gateway as the order lifecycle sees it. Every call carries an idempotency key: the
// same key always gets the first call's outcome, so a job retried after a crash or a lost
// response never authorises, captures or refunds twice.

export interface AuthorizeRequest { token: string; amount: number; currency: string; reference: string; idempotencyKey: string }
export interface CaptureRequest { authorizationId: string; amount: number; idempotencyKey: string }
export interface VoidRequest { authorizationId: string; idempotencyKey: string }
export interface RefundRequest { authorizationId: string; amount: number; idempotencyKey: string }

export interface PaymentGateway {
  /** Holds the amount on the card. Throws PaymentDeclined (final) or GatewayUnavailable (try again). */
  authorize(r: AuthorizeRequest): Promise<{ authorizationId: string }>;
  capture(r: CaptureRequest): Promise<{ captureId: string }>;
  void(r: VoidRequest): Promise<void>;
  refund(r: RefundRequest): Promise<{ refundId: string }>;
}

/** The gateway said no: retrying the same request cannot change that. */
export class PaymentDeclined extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'PaymentDeclined';
  }
}

/** A transient failure or a timeout: the outcome is unknown, and the same idempotency key may be tried again. */
export class GatewayUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnavailable';
  }
}

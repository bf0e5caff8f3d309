import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ValidationError, type FieldError } from '../platform/errors.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, discriminator: true, strict: false }));

export type Check<T> = (value: unknown) => T;

/** Compiles a JSON Schema once; the returned check throws a 400 listing every problem. */
export function compile<T>(schema: object, what = 'body'): Check<T> {
  const validate = ajv.compile(schema);
  return (value) => {
    if (validate(value)) return value as T;
    throw new ValidationError('request.invalid', `The request ${what} does not match the schema`, toFieldErrors(validate.errors ?? []));
  };
}

function toFieldErrors(errors: ErrorObject[]): FieldError[] {
  return errors.map((e) => {
    const p = e.params as { missingProperty?: string; additionalProperty?: string };
    if (e.keyword === 'required') return { path: `${e.instancePath}/${p.missingProperty}`, message: 'is required' };
    if (e.keyword === 'additionalProperties') return { path: `${e.instancePath}/${p.additionalProperty}`, message: 'is not an allowed field' };
    if (e.keyword === 'not') return { path: e.instancePath || '/', message: 'must not be 0' };
    return { path: e.instancePath || '/', message: e.message ?? 'is invalid' };
  });
}

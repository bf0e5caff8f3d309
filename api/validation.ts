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
    if (!validate(value)) {
      throw new ValidationError('request.invalid', `The request ${what} does not match the schema`, toFieldErrors(validate.errors ?? []));
    }
    const bad = unstorableText(value, '');
    if (bad !== null) {
      throw new ValidationError('request.invalid', `The request ${what} does not match the schema`,
        [{ path: bad || '/', message: 'must be text without NUL characters or unpaired surrogates' }]);
    }
    return value as T;
  };
}

/** The path of the first string (or key) that PostgreSQL could not store as text or jsonb, else null. */
function unstorableText(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\u0000') || !(value as unknown as { isWellFormed(): boolean }).isWellFormed() ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = unstorableText(value[i], `${path}/${i}`);
      if (bad !== null) return bad;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const bad = unstorableText(k, `${path}/${k}`) ?? unstorableText(v, `${path}/${k}`);
      if (bad !== null) return bad;
    }
  }
  return null;
}

function toFieldErrors(errors: ErrorObject[]): FieldError[] {
  // A union told apart by a property (schemas.ts, byMethod) reports a missing or unknown tag on the
  // property's own schema too; the discriminator's error would say it again without the values.
  return errors.filter((e) => e.keyword !== 'discriminator').map((e) => {
    const p = e.params as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
    if (e.keyword === 'required') return { path: `${e.instancePath}/${p.missingProperty}`, message: 'is required' };
    if (e.keyword === 'additionalProperties') return { path: `${e.instancePath}/${p.additionalProperty}`, message: 'is not an allowed field' };
    if (e.keyword === 'enum') return { path: e.instancePath || '/', message: `must be one of ${p.allowedValues!.join(', ')}` };
    if (e.keyword === 'not') return { path: e.instancePath || '/', message: 'must not be 0' };
    return { path: e.instancePath || '/', message: e.message ?? 'is invalid' };
  });
}

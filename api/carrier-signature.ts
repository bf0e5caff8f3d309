import { timingSafeEqual } from 'node:crypto';
import { signature } from '../notifications/webhook-notifier.js';

// A carrier's tracking webhook is signed as the contract says: `X-Carrier-Timestamp` (Unix
// seconds) and `X-Carrier-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with
// the carrier's secret. The timestamp bounds how long a captured request can be replayed.

export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export interface SignedRequest {
  /** The carrier's secret; undefined when the carrier has none (an unknown carrier). */
  secret: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  /** The body exactly as received. */
  rawBody: string;
  now: Date;
}

export function verifyCarrierSignature(r: SignedRequest): SignatureCheck {
  if (r.secret === undefined) return { ok: false, reason: 'no secret is configured for this carrier' };
  const given = /^sha256=([0-9a-f]{64})$/i.exec(r.signature ?? '');
  if (!given) return { ok: false, reason: 'X-Carrier-Signature is missing or is not sha256=<64 hex digits>' };
  if (!/^\d{1,12}$/.test(r.timestamp ?? '')) return { ok: false, reason: 'X-Carrier-Timestamp is missing or is not Unix seconds' };
  if (Math.abs(r.now.getTime() - Number(r.timestamp) * 1000) > SIGNATURE_TOLERANCE_MS) return { ok: false, reason: 'X-Carrier-Timestamp is more than 5 minutes off' };
  const expected = Buffer.from(signature(r.secret, r.timestamp!, r.rawBody), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(given[1], 'hex'))) return { ok: false, reason: 'the signature does not match' };
  return { ok: true };
}

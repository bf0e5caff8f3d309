import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import {
  GatewayUnavailable, PaymentDeclined, type AuthorizeRequest, type CaptureRequest, type PaymentGateway, type RefundRequest, type VoidRequest,
} from './payment-gateway.port.js';

/**
 * A sandbox gateway that behaves like a real one: it answers after network latency, keeps its own
 * records (in its own tables, as a gateway would on its side), honours idempotency keys, checks
 * amounts, and fails by token:
 *   tok_declined      declined
 *   tok_fail_once     a transient failure on the first attempt of each request, then success
 *   tok_timeout       never answers in time
 *   tok_timeout_once  authorises on the first attempt but the answer is lost (a timeout)
 *   any other tok_... authorised
 * Its records are what tests and the fault benchmarks count: one authorisation per order, at most.
 */
export class SandboxGateway implements PaymentGateway {
  private ready?: Promise<void>;

  constructor(private readonly knex: Knex, private readonly options: { latencyMs?: number; timeoutMs?: number } = {}) {}

  async authorize(r: AuthorizeRequest): Promise<{ authorizationId: string }> {
    return this.operation(r.idempotencyKey, 'authorize', r, async (trx, attempt) => {
      if (!/^tok_[A-Za-z0-9_]+$/.test(r.token)) return { declined: { code: 'invalid_token', message: 'The card token is not valid' } };
      if (r.token === 'tok_declined') return { declined: { code: 'card_declined', message: 'The card was declined' } };
      if (r.token === 'tok_fail_once' && attempt === 1) throw new GatewayUnavailable('sandbox: transient failure (tok_fail_once)');
      if (r.token === 'tok_timeout') {
        await sleep(this.options.timeoutMs ?? 2000);
        throw new GatewayUnavailable('sandbox: the gateway did not answer in time (tok_timeout)');
      }
      const authorizationId = `auth_${randomUUID()}`;
      await trx('sandbox_payment_authorizations').insert({ authorization_id: authorizationId, reference: r.reference, token: r.token, amount: r.amount, currency: r.currency });
      return { result: { authorizationId }, loseAnswer: r.token === 'tok_timeout_once' && attempt === 1 };
    });
  }

  async capture(r: CaptureRequest): Promise<{ captureId: string }> {
    return this.operation(r.idempotencyKey, 'capture', r, async (trx) => {
      const a = await this.authorization(trx, r.authorizationId);
      if (!a) return { declined: { code: 'unknown_authorization', message: `No authorisation ${r.authorizationId}` } };
      if (a.voided) return { declined: { code: 'authorization_voided', message: 'The authorisation was voided' } };
      if (r.amount <= 0 || Number(a.captured) + r.amount > Number(a.amount)) {
        return { declined: { code: 'amount_exceeds_authorization', message: `Capturing ${r.amount} exceeds what is left of ${a.amount}` } };
      }
      await trx('sandbox_payment_authorizations').where({ authorization_id: r.authorizationId }).increment('captured', r.amount);
      return { result: { captureId: `cap_${randomUUID()}` } };
    });
  }

  async void(r: VoidRequest): Promise<void> {
    await this.operation(r.idempotencyKey, 'void', r, async (trx) => {
      const a = await this.authorization(trx, r.authorizationId);
      if (!a) return { declined: { code: 'unknown_authorization', message: `No authorisation ${r.authorizationId}` } };
      if (Number(a.captured) > 0) return { declined: { code: 'already_captured', message: 'Captured money is refunded, not voided' } };
      await trx('sandbox_payment_authorizations').where({ authorization_id: r.authorizationId }).update({ voided: true });
      return { result: {} };
    });
  }

  async refund(r: RefundRequest): Promise<{ refundId: string }> {
    return this.operation(r.idempotencyKey, 'refund', r, async (trx) => {
      const a = await this.authorization(trx, r.authorizationId);
      if (!a) return { declined: { code: 'unknown_authorization', message: `No authorisation ${r.authorizationId}` } };
      if (r.amount <= 0 || Number(a.refunded) + r.amount > Number(a.captured)) {
        return { declined: { code: 'amount_exceeds_capture', message: `Refunding ${r.amount} exceeds what is left of ${a.captured} captured` } };
      }
      await trx('sandbox_payment_authorizations').where({ authorization_id: r.authorizationId }).increment('refunded', r.amount);
      return { result: { refundId: `ref_${randomUUID()}` } };
    });
  }

  /** The sandbox's own records of one order (its `reference`): what tests and benchmarks count. */
  async records(reference: string): Promise<{ authorizations: { authorizationId: string; amount: number; captured: number; refunded: number; voided: boolean }[] }> {
    await this.setUp();
    const rows = await this.knex('sandbox_payment_authorizations').where({ reference }).orderBy('created_at');
    return { authorizations: rows.map((a) => ({ authorizationId: a.authorization_id, amount: Number(a.amount), captured: Number(a.captured), refunded: Number(a.refunded), voided: a.voided })) };
  }

  /**
   * Runs one request under its idempotency key: a key seen before gets its first outcome again;
   * a key reused for a different request is refused. Success and declines are remembered,
   * transient failures are not (they are what a retry is for).
   */
  private async operation<T>(key: string, kind: string, request: object,
    perform: (trx: Knex.Transaction, attempt: number) => Promise<{ result?: T; declined?: { code: string; message: string }; loseAnswer?: boolean }>): Promise<T> {
    await this.setUp();
    // Network latency both ways: a caller that dies while the answer travels back has been served.
    const latency = () => sleep((this.options.latencyMs ?? 30) * (0.25 + Math.random() / 2));
    await latency();
    const fingerprint = JSON.stringify({ kind, ...request });
    const outcome = await this.knex.transaction(async (trx) => {
      // One request per key at a time, as a gateway serialises requests under one key.
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`sandbox:${key}`]);
      const seen = await trx('sandbox_payment_operations').where({ idempotency_key: key }).first();
      if (seen) {
        if (seen.request !== fingerprint) return { declined: { code: 'idempotency_key_reused', message: `Key ${key} was used for a different request` } };
        return seen.outcome as { result?: T; declined?: { code: string; message: string } };
      }
      const [{ attempts }] = await trx('sandbox_payment_attempts').insert({ idempotency_key: key, attempts: 1 })
        .onConflict('idempotency_key').merge({ attempts: trx.raw('sandbox_payment_attempts.attempts + 1') }).returning('attempts');
      let done;
      try {
        done = await perform(trx, attempts);
      } catch (err) {
        if (err instanceof GatewayUnavailable) return { unavailable: err.message };
        throw err;
      }
      const { loseAnswer, ...kept } = done;
      await trx('sandbox_payment_operations').insert({ idempotency_key: key, kind, request: fingerprint, outcome: kept });
      return loseAnswer ? { unavailable: 'sandbox: the answer was lost on the way back (tok_timeout_once)' } : kept;
    });
    await latency();
    if ('unavailable' in outcome && outcome.unavailable) throw new GatewayUnavailable(outcome.unavailable);
    const o = outcome as { result?: T; declined?: { code: string; message: string } };
    if (o.declined) throw new PaymentDeclined(o.declined.code, o.declined.message);
    return o.result as T;
  }

  private authorization(trx: Knex.Transaction, authorizationId: string) {
    return trx('sandbox_payment_authorizations').where({ authorization_id: authorizationId }).forUpdate().first();
  }

  private setUp(): Promise<void> {
    this.ready ??= this.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(current_schema() || \':sandbox-gateway\'))');
      await trx.raw(`
        CREATE TABLE IF NOT EXISTS sandbox_payment_authorizations (
          authorization_id text PRIMARY KEY, reference text NOT NULL, token text NOT NULL, amount bigint NOT NULL, currency text NOT NULL,
          captured bigint NOT NULL DEFAULT 0, refunded bigint NOT NULL DEFAULT 0, voided boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE INDEX IF NOT EXISTS sandbox_payment_authorizations_reference ON sandbox_payment_authorizations (reference);
        CREATE TABLE IF NOT EXISTS sandbox_payment_operations (
          idempotency_key text PRIMARY KEY, kind text NOT NULL, request text NOT NULL, outcome jsonb NOT NULL,
          created_at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE TABLE IF NOT EXISTS sandbox_payment_attempts (idempotency_key text PRIMARY KEY, attempts int NOT NULL);
      `);
    }).catch((err) => { this.ready = undefined; throw err; });
    return this.ready;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

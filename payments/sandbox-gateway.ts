import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
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
 *   tok_refund_refused_once  the first refund asked for is refused (refund_refused), later ones made
 *   tok_refund_lost_once     the first refund is made but its answer is lost (a timeout)
 *   any other tok_... authorised
 * Each request is one call of a database function (`sandbox_payment_apply`), serialised per
 * idempotency key; requests arriving together share a statement (see applyMany). Its records are
 * what tests and the fault benchmarks count: one authorisation per order, at most. Its tables and
 * functions come with the service's schema (migration 008-sandbox-gateway): `knex` is on a
 * migrated schema.
 */
export class SandboxGateway implements PaymentGateway {
  /** The requests that reach the sandbox within 2 ms of each other go to the database in one statement. */
  private readonly calls = new DataLoader<SandboxCall, SandboxOutcome>((calls) => this.applyMany(calls), {
    cache: false, maxBatchSize: 200, batchScheduleFn: (run) => setTimeout(run, 2),
  });

  constructor(private readonly knex: Knex, private readonly options: { latencyMs?: number; timeoutMs?: number } = {}) {}

  async authorize(r: AuthorizeRequest): Promise<{ authorizationId: string }> {
    return this.apply(r.idempotencyKey, 'authorize', { token: r.token, amount: r.amount, currency: r.currency, reference: r.reference });
  }

  async capture(r: CaptureRequest): Promise<{ captureId: string }> {
    return this.apply(r.idempotencyKey, 'capture', { authorizationId: r.authorizationId, amount: r.amount });
  }

  async void(r: VoidRequest): Promise<void> {
    await this.apply(r.idempotencyKey, 'void', { authorizationId: r.authorizationId });
  }

  async refund(r: RefundRequest): Promise<{ refundId: string }> {
    return this.apply(r.idempotencyKey, 'refund', { authorizationId: r.authorizationId, amount: r.amount });
  }

  /**
   * Runs one request under its idempotency key: a key seen before gets its first outcome again;
   * a key reused for a different request is refused. Successes and declines are remembered,
   * transient failures are not (they are what a retry is for).
   */
  private async apply<T>(key: string, kind: string, request: Record<string, unknown>): Promise<T> {
    // Network latency both ways: a caller that dies while the answer travels back has been served.
    const latency = () => sleep((this.options.latencyMs ?? 30) * (0.25 + Math.random() / 2));
    await latency();
    const o = await this.calls.load({ key, kind, request: { kind, ...request }, newId: randomUUID() });
    if (o.timeout) {
      await sleep(this.options.timeoutMs ?? 2000);
      throw new GatewayUnavailable('sandbox: the gateway did not answer in time (tok_timeout)');
    }
    await latency();
    if (o.unavailable) throw new GatewayUnavailable(o.unavailable);
    if (o.lost) throw new GatewayUnavailable('sandbox: the answer was lost on the way back (tok_timeout_once)');
    if (o.declined) throw new PaymentDeclined(o.declined.code, o.declined.message);
    return o.result as T;
  }

  /**
   * Each call is applied on its own (`sandbox_payment_apply`), one after the other in a single
   * statement, in the order of their keys. Should the statement fail (two of them locking the
   * same authorisations in opposite orders, say), nothing of it was kept, and each call is tried
   * again in a statement of its own.
   */
  private async applyMany(calls: readonly SandboxCall[]): Promise<(SandboxOutcome | Error)[]> {
    const order = calls.map((_, i) => i).sort((a, b) => (calls[a].key < calls[b].key ? -1 : calls[a].key > calls[b].key ? 1 : a - b));
    try {
      const { rows } = await this.knex.raw('SELECT sandbox_payment_apply_many(?::jsonb) AS o', [JSON.stringify(order.map((i) => calls[i]))]);
      const outcomes = new Array<SandboxOutcome>(calls.length);
      (rows[0].o as SandboxOutcome[]).forEach((o, j) => { outcomes[order[j]] = o; });
      return outcomes;
    } catch (err) {
      if (calls.length === 1) return [err as Error];
      return Promise.all(calls.map(async (c) => (await this.applyMany([c]))[0]));
    }
  }
}

// The sandbox's own records, read from its tables on the database it runs on: what tests and
// benchmarks count. A real gateway's would be read from its dashboard, so they are not on the port.

export interface SandboxAuthorization { authorizationId: string; amount: number; captured: number; refunded: number; voided: boolean }

/** The authorisations the sandbox holds for one order (its `reference`), oldest first. */
export async function sandboxRecords(knex: Knex, reference: string): Promise<{ authorizations: SandboxAuthorization[] }> {
  const rows = await knex('sandbox_payment_authorizations').where({ reference }).orderBy('created_at');
  return { authorizations: rows.map((a) => ({ authorizationId: a.authorization_id, amount: Number(a.amount), captured: Number(a.captured), refunded: Number(a.refunded), voided: a.voided })) };
}

/** How many authorisations the sandbox holds per order (`reference`), for every order it has authorised. */
export async function sandboxAuthorizationCounts(knex: Knex): Promise<Map<string, number>> {
  const rows: { reference: string; n: string }[] = await knex('sandbox_payment_authorizations').select('reference').count({ n: '*' }).groupBy('reference');
  return new Map(rows.map((r) => [String(r.reference), Number(r.n)]));
}

/** How many requests under this idempotency key have reached the sandbox (0 for none). */
export async function sandboxAttempts(knex: Knex, idempotencyKey: string): Promise<number> {
  const row = await knex('sandbox_payment_attempts').where({ idempotency_key: idempotencyKey }).first('attempts');
  return row ? Number(row.attempts) : 0;
}

interface SandboxCall { key: string; kind: string; request: Record<string, unknown>; newId: string }
interface SandboxOutcome { result?: unknown; declined?: { code: string; message: string }; unavailable?: string; timeout?: boolean; lost?: boolean }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The refunds the sandbox made on one order's (`reference`) authorisations, oldest first, with the key each was asked under. */
export async function sandboxRefunds(knex: Knex, reference: string): Promise<{ amount: number; idempotencyKey: string }[]> {
  const { rows } = await knex.raw(`SELECT o.idempotency_key, (o.request->>'amount')::bigint AS amount FROM sandbox_payment_operations o
      JOIN sandbox_payment_authorizations a ON a.authorization_id = o.request->>'authorizationId'
     WHERE a.reference = ? AND o.kind = 'refund' AND o.outcome->'result' IS NOT NULL ORDER BY o.created_at`, [reference]);
  return (rows as { idempotency_key: string; amount: string }[]).map((r) => ({ amount: Number(r.amount), idempotencyKey: r.idempotency_key }));
}

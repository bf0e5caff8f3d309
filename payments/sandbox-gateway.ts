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
 *   any other tok_... authorised
 * Each request is one call of a database function (`sandbox_payment_apply`), serialised per
 * idempotency key; requests arriving together share a statement (see applyMany). Its records are
 * what tests and the fault benchmarks count: one authorisation per order, at most.
 */
export class SandboxGateway implements PaymentGateway {
  private ready?: Promise<void>;
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

  /** The sandbox's own records of one order (its `reference`): what tests and benchmarks count. */
  async records(reference: string): Promise<{ authorizations: { authorizationId: string; amount: number; captured: number; refunded: number; voided: boolean }[] }> {
    await this.setUp();
    const rows = await this.knex('sandbox_payment_authorizations').where({ reference }).orderBy('created_at');
    return { authorizations: rows.map((a) => ({ authorizationId: a.authorization_id, amount: Number(a.amount), captured: Number(a.captured), refunded: Number(a.refunded), voided: a.voided })) };
  }

  /**
   * Runs one request under its idempotency key: a key seen before gets its first outcome again;
   * a key reused for a different request is refused. Successes and declines are remembered,
   * transient failures are not (they are what a retry is for).
   */
  private async apply<T>(key: string, kind: string, request: Record<string, unknown>): Promise<T> {
    await this.setUp();
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

  private setUp(): Promise<void> {
    this.ready ??= this.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(current_schema() || \':sandbox-gateway\'))');
      await trx.raw(SANDBOX_SCHEMA);
    }).catch((err) => { this.ready = undefined; throw err; });
    return this.ready;
  }
}

interface SandboxCall { key: string; kind: string; request: Record<string, unknown>; newId: string }
interface SandboxOutcome { result?: unknown; declined?: { code: string; message: string }; unavailable?: string; timeout?: boolean; lost?: boolean }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The attempts row, locked by the upsert until the statement ends, serialises requests under one
// key; each later statement in the function sees what an earlier request under that key committed.
const SANDBOX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS sandbox_payment_authorizations (
    authorization_id text PRIMARY KEY, reference text NOT NULL, token text NOT NULL, amount bigint NOT NULL, currency text NOT NULL,
    captured bigint NOT NULL DEFAULT 0, refunded bigint NOT NULL DEFAULT 0, voided boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE INDEX IF NOT EXISTS sandbox_payment_authorizations_reference ON sandbox_payment_authorizations (reference);
  CREATE TABLE IF NOT EXISTS sandbox_payment_operations (
    idempotency_key text PRIMARY KEY, kind text NOT NULL, request jsonb NOT NULL, outcome jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE IF NOT EXISTS sandbox_payment_attempts (idempotency_key text PRIMARY KEY, attempts int NOT NULL);
  CREATE OR REPLACE FUNCTION sandbox_payment_apply(p_key text, p_kind text, p_request jsonb, p_new_id text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE AS $fn$
  DECLARE
    n int;
    seen sandbox_payment_operations%ROWTYPE;
    a sandbox_payment_authorizations%ROWTYPE;
    token text := p_request->>'token';
    v_amount bigint := (p_request->>'amount')::bigint;
    outcome jsonb;
    lost boolean := false;
  BEGIN
    INSERT INTO sandbox_payment_attempts AS t (idempotency_key, attempts) VALUES (p_key, 1)
      ON CONFLICT (idempotency_key) DO UPDATE SET attempts = t.attempts + 1 RETURNING attempts INTO n;
    SELECT * INTO seen FROM sandbox_payment_operations WHERE idempotency_key = p_key;
    IF FOUND THEN
      IF seen.request <> p_request THEN
        RETURN jsonb_build_object('declined', jsonb_build_object('code', 'idempotency_key_reused', 'message', 'Key ' || p_key || ' was used for a different request'));
      END IF;
      RETURN seen.outcome;
    END IF;
    IF p_kind = 'authorize' THEN
      IF token !~ '^tok_[A-Za-z0-9_]+$' THEN
        outcome := jsonb_build_object('declined', jsonb_build_object('code', 'invalid_token', 'message', 'The card token is not valid'));
      ELSIF token = 'tok_declined' THEN
        outcome := jsonb_build_object('declined', jsonb_build_object('code', 'card_declined', 'message', 'The card was declined'));
      ELSIF token = 'tok_fail_once' AND n = 1 THEN
        RETURN jsonb_build_object('unavailable', 'sandbox: transient failure (tok_fail_once)');
      ELSIF token = 'tok_timeout' THEN
        RETURN jsonb_build_object('timeout', true);
      ELSE
        INSERT INTO sandbox_payment_authorizations (authorization_id, reference, token, amount, currency)
          VALUES ('auth_' || p_new_id, p_request->>'reference', token, v_amount, p_request->>'currency');
        outcome := jsonb_build_object('result', jsonb_build_object('authorizationId', 'auth_' || p_new_id));
        lost := token = 'tok_timeout_once' AND n = 1;
      END IF;
    ELSE
      SELECT * INTO a FROM sandbox_payment_authorizations WHERE authorization_id = p_request->>'authorizationId' FOR UPDATE;
      IF NOT FOUND THEN
        outcome := jsonb_build_object('declined', jsonb_build_object('code', 'unknown_authorization', 'message', 'No authorisation ' || (p_request->>'authorizationId')));
      ELSIF p_kind = 'capture' THEN
        IF a.voided THEN
          outcome := jsonb_build_object('declined', jsonb_build_object('code', 'authorization_voided', 'message', 'The authorisation was voided'));
        ELSIF v_amount <= 0 OR a.captured + v_amount > a.amount THEN
          outcome := jsonb_build_object('declined', jsonb_build_object('code', 'amount_exceeds_authorization', 'message', 'Capturing ' || v_amount || ' exceeds what is left of ' || a.amount));
        ELSE
          UPDATE sandbox_payment_authorizations SET captured = captured + v_amount WHERE authorization_id = a.authorization_id;
          outcome := jsonb_build_object('result', jsonb_build_object('captureId', 'cap_' || p_new_id));
        END IF;
      ELSIF p_kind = 'void' THEN
        IF a.captured > 0 THEN
          outcome := jsonb_build_object('declined', jsonb_build_object('code', 'already_captured', 'message', 'Captured money is refunded, not voided'));
        ELSE
          UPDATE sandbox_payment_authorizations SET voided = true WHERE authorization_id = a.authorization_id;
          outcome := jsonb_build_object('result', '{}'::jsonb);
        END IF;
      ELSIF p_kind = 'refund' THEN
        IF v_amount <= 0 OR a.refunded + v_amount > a.captured THEN
          outcome := jsonb_build_object('declined', jsonb_build_object('code', 'amount_exceeds_capture', 'message', 'Refunding ' || v_amount || ' exceeds what is left of ' || a.captured || ' captured'));
        ELSE
          UPDATE sandbox_payment_authorizations SET refunded = refunded + v_amount WHERE authorization_id = a.authorization_id;
          outcome := jsonb_build_object('result', jsonb_build_object('refundId', 'ref_' || p_new_id));
        END IF;
      ELSE
        RAISE EXCEPTION 'unknown sandbox operation %', p_kind;
      END IF;
    END IF;
    INSERT INTO sandbox_payment_operations (idempotency_key, kind, request, outcome) VALUES (p_key, p_kind, p_request, outcome);
    RETURN outcome || jsonb_build_object('lost', lost);
  END
  $fn$;
  CREATE OR REPLACE FUNCTION sandbox_payment_apply_many(p_calls jsonb) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE AS $fn$
  DECLARE
    c jsonb;
    outcomes jsonb := '[]'::jsonb;
  BEGIN
    FOR c IN SELECT value FROM jsonb_array_elements(p_calls) LOOP
      outcomes := outcomes || jsonb_build_array(sandbox_payment_apply(c->>'key', c->>'kind', c->'request', c->>'newId'));
    END LOOP;
    RETURN outcomes;
  END
  $fn$;
`;

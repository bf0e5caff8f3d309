import { expect } from 'chai';
import type { Knex } from 'knex';
import { GatewayUnavailable, PaymentDeclined } from '../../payments/payment-gateway.port.js';
import { SandboxGateway, sandboxAttempts, sandboxAuthorizationCounts, sandboxRecords } from '../../payments/sandbox-gateway.js';
import { createKnex } from '../../platform/db.js';
import { migrate } from '../../platform/migrate.js';
import { schemaMigrations } from '../../platform/schema.migrations.js';
import { isolatedSchema } from '../support/test-env.js';
import { readModelWorld } from '../support/world.js';
import { failure } from '../support/failure.js';

describe('sandbox payment gateway', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  let gateway: SandboxGateway;
  before(async () => {
    ({ knex, cleanup } = await readModelWorld());
    gateway = new SandboxGateway(knex, { latencyMs: 2, timeoutMs: 50 });
  });
  after(async () => { await cleanup(); });

  const auth = (reference: string, token: string, key = `authorize:${reference}`) => gateway.authorize({ token, amount: 5000, currency: 'EUR', reference, idempotencyKey: key });

  it('authorises once per idempotency key, however often and however concurrently it is asked', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => auth('o-1', 'tok_ok')));
    expect(new Set(answers.map((a) => a.authorizationId)).size).to.equal(1);
    expect((await sandboxRecords(knex, 'o-1')).authorizations).to.have.length(1);
    expect((await sandboxAuthorizationCounts(knex)).get('o-1')).to.equal(1);
  });

  it('refuses a key reused for a different request', async () => {
    await auth('o-2', 'tok_ok');
    const err = await failure(gateway.authorize({ token: 'tok_ok', amount: 9999, currency: 'EUR', reference: 'o-2', idempotencyKey: 'authorize:o-2' }));
    expect(err).to.be.instanceOf(PaymentDeclined);
    expect((err as PaymentDeclined).code).to.equal('idempotency_key_reused');
  });

  it('declines tok_declined, and gives the same answer to the same key', async () => {
    for (let i = 0; i < 2; i++) expect(((await failure(auth('o-3', 'tok_declined'))) as PaymentDeclined).code).to.equal('card_declined');
    expect((await sandboxRecords(knex, 'o-3')).authorizations).to.have.length(0);
  });

  it('fails tok_fail_once transiently once, then authorises', async () => {
    expect(await failure(auth('o-4', 'tok_fail_once'))).to.be.instanceOf(GatewayUnavailable);
    expect((await auth('o-4', 'tok_fail_once')).authorizationId).to.match(/^auth_/);
    expect(await sandboxAttempts(knex, 'authorize:o-4')).to.equal(2);
  });

  it('never answers tok_timeout in time', async () => {
    expect(await failure(auth('o-5', 'tok_timeout'))).to.be.instanceOf(GatewayUnavailable);
    expect((await sandboxRecords(knex, 'o-5')).authorizations).to.have.length(0);
  });

  it('authorises tok_timeout_once but loses the answer; the retry with the same key gets that authorisation', async () => {
    expect(await failure(auth('o-6', 'tok_timeout_once'))).to.be.instanceOf(GatewayUnavailable);
    const [held] = (await sandboxRecords(knex, 'o-6')).authorizations;
    expect((await auth('o-6', 'tok_timeout_once')).authorizationId).to.equal(held.authorizationId);
    expect((await sandboxRecords(knex, 'o-6')).authorizations).to.have.length(1);
  });

  it('captures up to the authorisation, refunds up to the capture, and voids only what is not captured', async () => {
    const { authorizationId } = await auth('o-7', 'tok_ok');
    await gateway.capture({ authorizationId, amount: 3000, idempotencyKey: 'cap-1' });
    await gateway.capture({ authorizationId, amount: 3000, idempotencyKey: 'cap-1' });          // the same capture again
    expect(((await failure(gateway.capture({ authorizationId, amount: 2001, idempotencyKey: 'cap-2' }))) as PaymentDeclined).code).to.equal('amount_exceeds_authorization');
    expect(((await failure(gateway.void({ authorizationId, idempotencyKey: 'void-1' }))) as PaymentDeclined).code).to.equal('already_captured');
    await gateway.refund({ authorizationId, amount: 3000, idempotencyKey: 'ref-1' });
    expect(((await failure(gateway.refund({ authorizationId, amount: 1, idempotencyKey: 'ref-2' }))) as PaymentDeclined).code).to.equal('amount_exceeds_capture');
    expect((await sandboxRecords(knex, 'o-7')).authorizations[0]).to.include({ captured: 3000, refunded: 3000, voided: false });
    const other = await auth('o-8', 'tok_ok');
    await gateway.void({ authorizationId: other.authorizationId, idempotencyKey: 'void-2' });
    expect(((await failure(gateway.capture({ authorizationId: other.authorizationId, amount: 1, idempotencyKey: 'cap-3' }))) as PaymentDeclined).code).to.equal('authorization_voided');
  });
});

describe('migration 008-sandbox-gateway on a database the sandbox gateway ran on before', () => {
  let knex: Knex;
  let db: Awaited<ReturnType<typeof isolatedSchema>>;
  const sandbox = schemaMigrations.find((m) => m.name === '008-sandbox-gateway')!;
  const authorize = (reference: string, amount = 5000) =>
    new SandboxGateway(knex, { latencyMs: 1 }).authorize({ token: 'tok_ok', amount, currency: 'EUR', reference, idempotencyKey: `authorize:${reference}` });
  beforeEach(async () => {
    db = await isolatedSchema('pay');
    knex = createKnex(db);
    await migrate(knex, 'oms_migrations', schemaMigrations.filter((m) => m !== sandbox), db.schema);
  });
  afterEach(async () => { await knex.destroy(); await db.drop(); });

  it('succeeds where the gateway made its tables and functions itself, and keeps their records', async () => {
    await sandbox.up(knex);                                          // what the gateway ran when first called
    const first = await authorize('o-1');
    await migrate(knex, 'oms_migrations', schemaMigrations, db.schema);
    expect(await knex('oms_migrations').where({ name: sandbox.name })).to.have.length(1);
    expect(await authorize('o-1')).to.deep.equal(first);
    expect(((await failure(authorize('o-1', 1))) as PaymentDeclined).code).to.equal('idempotency_key_reused');
  });

  it('makes the first version\'s requests (text, with the key in them) what the gateway compares now', async () => {
    await knex.raw(`CREATE TABLE sandbox_payment_operations (
      idempotency_key text PRIMARY KEY, kind text NOT NULL, request text NOT NULL, outcome jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await knex('sandbox_payment_operations').insert({
      idempotency_key: 'authorize:o-2', kind: 'authorize', outcome: { result: { authorizationId: 'auth_first_version' } },
      request: JSON.stringify({ kind: 'authorize', token: 'tok_ok', amount: 5000, currency: 'EUR', reference: 'o-2', idempotencyKey: 'authorize:o-2' }),
    });
    await migrate(knex, 'oms_migrations', schemaMigrations, db.schema);
    expect(await authorize('o-2')).to.deep.equal({ authorizationId: 'auth_first_version' });
    expect(((await failure(authorize('o-2', 1))) as PaymentDeclined).code).to.equal('idempotency_key_reused');
  });
});

import { expect } from 'chai';
import { UnrecoverableError } from 'bullmq';
import { scoreOrderFraud, type FraudScoringDeps } from '../../jobs/fraud-scoring.job.js';
import { DEFAULT_FRAUD_RULES } from '../../platform/config.js';
import type { VelocityCounts, VelocityQuery } from '../../read-side/orders.queries.js';
import { meta, NOW } from '../support/given-when-then.js';
import { aJob, jobWorld } from '../support/job-world.js';
import { failure } from '../support/failure.js';

const QUIET: VelocityCounts = { customer1h: 0, customer24h: 0, email1h: 0, email24h: 0, address1h: 0, address24h: 0, card1h: 0, card24h: 0, returningCustomer: true };

describe('fraud scoring job', () => {
  let world: ReturnType<typeof jobWorld>;
  let asked: VelocityQuery[];
  /** Velocity as the read model answers it: null (not there yet) for the first `notYet` questions. */
  const deps = (counts: VelocityCounts, notYet = 0): FraudScoringDeps => ({
    write: world.write, rules: DEFAULT_FRAUD_RULES, now: () => new Date('2026-11-26T11:00:00.000Z'), readModelWaitMs: 200,
    async velocity(q) {
      asked.push(q);
      return asked.length > notYet ? counts : null;
    },
  });
  beforeEach(() => { world = jobWorld(); asked = []; });

  const placedJob = async (orderId: string) => aJob('OrderPlaced', await world.eventOf(orderId, 'OrderPlaced'));
  const assessments = async (orderId: string) => (await world.events(orderId)).filter((e) => e.type === 'FraudAssessed');

  it('asks for the velocity of the order\'s customer, email, address and card, and records the score once', async () => {
    const orderId = await world.placeOrder();
    const job = await placedJob(orderId);
    const d = deps({ ...QUIET, returningCustomer: false, customer1h: 3 });
    await scoreOrderFraud(job, d);
    await scoreOrderFraud(job, d);
    expect(asked).to.have.length(1);
    expect(asked[0]).to.include({ orderId, position: job.data.position, customerId: 'c-1', email: 'ana@example.com', addressKey: '1mainst|04109|de', at: NOW });
    expect(asked[0].card).to.be.a('string').and.not.equal('tok_ok');
    const recorded = await assessments(orderId);
    expect(recorded).to.have.length(1);
    expect(recorded[0].data).to.deep.include({ score: 40, decision: 'approve', at: '2026-11-26T11:00:00.000Z' });
    expect((recorded[0].data as { reasons: { code: string }[] }).reasons.map((r) => r.code)).to.deep.equal(['new_customer', 'customer_velocity_1h']);
    expect(recorded[0].metadata).to.include({ correlationId: orderId, causationId: job.data.eventId });
    expect(recorded[0].metadata.actor).to.deep.equal({ kind: 'job', id: `fraud-scoring/${job.id}` });
  });

  it('waits for the read model to take in the order, then scores it', async () => {
    const orderId = await world.placeOrder();
    await scoreOrderFraud(await placedJob(orderId), deps(QUIET, 3));
    expect(asked).to.have.length(4);
    expect(await assessments(orderId)).to.have.length(1);
  });

  it('fails the run, to be retried, when the read model does not reach the order in time, and records nothing', async () => {
    const orderId = await world.placeOrder();
    const err = await failure(scoreOrderFraud(await placedJob(orderId), deps(QUIET, Infinity)));
    expect((err as Error).message).to.contain('has not reached order');
    expect(err).not.to.be.instanceOf(UnrecoverableError);
    expect(await assessments(orderId)).to.have.length(0);
  });

  it('leaves an order cancelled before it was scored alone', async () => {
    const orderId = await world.placeOrder();
    await world.write.cancelOrder(orderId, 'changed my mind', meta());
    await scoreOrderFraud(await placedJob(orderId), deps(QUIET));
    expect(asked).to.have.length(0);
    expect(await assessments(orderId)).to.have.length(0);
  });

  it('fails for good on an order that does not exist', async () => {
    const job = aJob('OrderPlaced', { orderId: 'no-such-order', eventId: '0190f0a0-0000-7000-8000-000000000000', position: 1 });
    expect(await failure(scoreOrderFraud(job, deps(QUIET)))).to.be.instanceOf(UnrecoverableError);
  });
});

import { expect } from 'chai';
import { scoreOrder } from '../../jobs/fraud-rules.js';
import { DEFAULT_FRAUD_RULES } from '../../platform/config.js';
import type { VelocityCounts } from '../../read-side/orders.queries.js';
import type { PlacedOrder } from '../../write-side/orders/order.events.js';

const order = (over: Partial<PlacedOrder> = {}): PlacedOrder => ({
  orderId: 'o-1', channel: 'web', currency: 'USD', customer: { id: 'c-1', email: 'a@example.com' },
  lines: [{ sku: 'A', quantity: 1, unitPrice: 2000 }], total: 2000,
  delivery: { method: 'ship', speed: 'standard', address: { line1: '1 Main', city: 'X', postalCode: '1', country: 'US', geo: { lat: 1, lon: 1 } } },
  payment: { method: 'card', token: 'tok_ok' }, placedAt: '2026-11-26T10:00:00.000Z', placedBy: 'k', ...over,
});
const quiet: VelocityCounts = { customer1h: 0, customer24h: 0, email1h: 0, email24h: 0, address1h: 0, address24h: 0, card1h: 0, card24h: 0, returningCustomer: true };
const codes = (a: { reasons: { code: string }[] }) => a.reasons.map((r) => r.code);

describe('fraud rules', () => {
  it('approves a modest order from a returning customer with no reasons', () => {
    expect(scoreOrder(order(), quiet, DEFAULT_FRAUD_RULES)).to.deep.equal({ score: 0, decision: 'approve', reasons: [] });
  });

  it('adds points for a first-time customer and says why', () => {
    const a = scoreOrder(order(), { ...quiet, returningCustomer: false }, DEFAULT_FRAUD_RULES);
    expect(a.score).to.equal(DEFAULT_FRAUD_RULES.newCustomer);
    expect(a.reasons[0]).to.include({ code: 'new_customer' });
    expect(a.reasons[0].detail).to.contain('c-1');
  });

  it('counts a very high value instead of, not as well as, a high value', () => {
    const a = scoreOrder(order({ total: 300_000 }), quiet, DEFAULT_FRAUD_RULES);
    expect(codes(a)).to.deep.equal(['very_high_value']);
    expect(codes(scoreOrder(order({ total: 60_000 }), quiet, DEFAULT_FRAUD_RULES))).to.deep.equal(['high_value']);
  });

  it('sends an order to review when velocity signals add up', () => {
    const a = scoreOrder(order({ total: 60_000 }), { ...quiet, customer1h: 5, address24h: 12 }, DEFAULT_FRAUD_RULES);
    expect(codes(a)).to.have.members(['high_value', 'customer_velocity_1h', 'address_velocity_24h']);
    expect(a.score).to.equal(70);
    expect(a.decision).to.equal('review');
  });

  it('rejects at the reject threshold and caps the score at 100', () => {
    const a = scoreOrder(order({ total: 300_000, lines: [{ sku: 'A', quantity: 50, unitPrice: 6000 }] }),
      { ...quiet, customer1h: 9, customer24h: 9, email24h: 20, address24h: 20, returningCustomer: false }, DEFAULT_FRAUD_RULES);
    expect(a.decision).to.equal('reject');
    expect(a.score).to.equal(100);
  });

  it('follows configured thresholds and weights', () => {
    const rules = { ...DEFAULT_FRAUD_RULES, newCustomer: 45, reviewAt: 40 };
    expect(scoreOrder(order(), { ...quiet, returningCustomer: false }, rules).decision).to.equal('review');
  });

  it('counts units of one SKU across lines toward a large quantity', () => {
    const lines = Array.from({ length: 10 }, () => ({ sku: 'A', quantity: 2, unitPrice: 1 }));
    const a = scoreOrder(order({ lines }), quiet, DEFAULT_FRAUD_RULES);
    expect(a.reasons).to.deep.include({ code: 'large_quantity', points: DEFAULT_FRAUD_RULES.largeQuantity.points, detail: '20 units of A' });
  });

  it('flags a shipping address without coordinates but not a pickup order', () => {
    const noGeo = order({ delivery: { method: 'ship', speed: 'express', address: { line1: '1', city: 'X', postalCode: '1', country: 'US' } } });
    expect(codes(scoreOrder(noGeo, quiet, DEFAULT_FRAUD_RULES))).to.deep.equal(['address_not_geocoded']);
    expect(codes(scoreOrder(order({ delivery: { method: 'pickup', locationId: 's-1' } }), quiet, DEFAULT_FRAUD_RULES))).to.deep.equal([]);
  });
});

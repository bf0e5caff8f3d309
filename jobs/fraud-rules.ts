import type { FraudRules } from '../platform/config.js';
import type { VelocityCounts } from '../read-side/orders.queries.js';
import type { FraudAssessment, FraudReason, PlacedOrder } from '../write-side/orders/order.events.js';

/** Transparent rule-based fraud scoring: each rule that fires adds points and a reason. Pure. */
export function scoreOrder(order: PlacedOrder, v: VelocityCounts, rules: FraudRules): FraudAssessment {
  const reasons: FraudReason[] = [];
  const add = (code: string, points: number, detail: string) => { if (points > 0) reasons.push({ code, points, detail }); };

  if (order.total >= rules.veryHighValue.minor) {
    add('very_high_value', rules.veryHighValue.points, `order value ${order.total} ${order.currency} is at least ${rules.veryHighValue.minor}`);
  } else if (order.total >= rules.highValue.minor) {
    add('high_value', rules.highValue.points, `order value ${order.total} ${order.currency} is at least ${rules.highValue.minor}`);
  }
  if (!v.returningCustomer) add('new_customer', rules.newCustomer, `first order of customer ${order.customer.id}`);
  if (v.customer1h >= rules.velocityCustomer1h.max) {
    add('customer_velocity_1h', rules.velocityCustomer1h.points, `${v.customer1h} other orders by this customer in the last hour`);
  }
  if (v.email24h >= rules.velocityEmail24h.max) {
    add('email_velocity_24h', rules.velocityEmail24h.points, `${v.email24h} other orders with this email in 24 hours`);
  }
  if (v.address24h >= rules.velocityAddress24h.max) {
    add('address_velocity_24h', rules.velocityAddress24h.points, `${v.address24h} other orders to this address in 24 hours`);
  }
  const perSku = new Map<string, number>();
  for (const l of order.lines) perSku.set(l.sku, (perSku.get(l.sku) ?? 0) + l.quantity);
  const [sku, most] = [...perSku].reduce((a, b) => (b[1] > a[1] ? b : a));
  if (most >= rules.largeQuantity.min) add('large_quantity', rules.largeQuantity.points, `${most} units of ${sku}`);
  if (order.delivery.method === 'ship' && !order.delivery.address.geo) {
    add('address_not_geocoded', rules.missingAddressGeo, 'the shipping address has no coordinates');
  }

  const score = Math.min(100, reasons.reduce((s, r) => s + r.points, 0));
  const decision = score >= rules.rejectAt ? 'reject' : score >= rules.reviewAt ? 'review' : 'approve';
  return { score, decision, reasons };
}

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
  const velocity = (code: string, count: number, rule: { max: number; points: number }, what: string) => {
    if (count >= rule.max) add(code, rule.points, `${count} other orders ${what}`);
  };
  velocity('customer_velocity_1h', v.customer1h, rules.velocityCustomer1h, 'by this customer in the last hour');
  velocity('customer_velocity_24h', v.customer24h, rules.velocityCustomer24h, 'by this customer in 24 hours');
  velocity('email_velocity_1h', v.email1h, rules.velocityEmail1h, 'with this email in the last hour');
  velocity('email_velocity_24h', v.email24h, rules.velocityEmail24h, 'with this email in 24 hours');
  velocity('address_velocity_1h', v.address1h, rules.velocityAddress1h, 'to this address in the last hour');
  velocity('address_velocity_24h', v.address24h, rules.velocityAddress24h, 'to this address in 24 hours');
  velocity('card_velocity_1h', v.card1h, rules.velocityCard1h, 'with this card in the last hour');
  velocity('card_velocity_24h', v.card24h, rules.velocityCard24h, 'with this card in 24 hours');
  add(`delivery_${order.delivery.method}`, rules.delivery[order.delivery.method], `delivered by ${order.delivery.method}`);
  add(`channel_${order.channel}`, rules.channel[order.channel], `placed through the ${order.channel} channel`);
  const skus = new Set(order.lines.map((l) => l.sku)).size;
  if (skus >= rules.wideBasket.min) add('wide_basket', rules.wideBasket.points, `${skus} different SKUs in one order`);
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

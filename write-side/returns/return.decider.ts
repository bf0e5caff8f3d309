import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../../platform/errors.js';
import type { Command, Decider } from '../decider.js';
import { validUpdate } from '../fulfilments/fulfilment.rules.js';
import { knownUpdate } from '../fulfilments/fulfilment.state.js';
import type { ShipmentLabel, TrackingUpdate } from '../fulfilments/fulfilment.events.js';
import type { SkuQuantity } from '../orders/order.events.js';
import { unitsAlong } from '../orders/order-progress.js';
import type { ReceivedLine, ReturnCarrierDecision, ReturnCondition, ReturnEvent, ReturnLine, ReturnOrigin, ReturnResolution } from './return.events.js';
import { evolve, initialState, receivedUnits, returnMovesOn, unitsOf, type OpenReturn, type Return } from './return.state.js';

export const returnStream = (returnId: string): string => `return-${returnId}`;

const CONDITIONS: readonly ReturnCondition[] = ['resellable', 'damaged'];

export type ReturnCommand =
  | Command<'OpenReturn', {
    returnId: string; orderId: string; customerId: string; placedBy: string; currency: string; lines: ReturnLine[];
    resolution: ReturnResolution; exchangeLines?: SkuQuantity[]; origin: ReturnOrigin;
  }>
  | Command<'RecordReturnCarrierChoice', { returnId: string; decision: ReturnCarrierDecision }>
  | Command<'RecordReturnLabel', { returnId: string; label: ShipmentLabel; locationId: string }>
  | Command<'RecordReturnTracking', { returnId: string; update: TrackingUpdate }>
  | Command<'ReceiveReturn', { returnId: string; receiptId: string; locationId: string; lines: { sku: string; quantity: number; condition: ReturnCondition }[]; receivedBy: string }>
  | Command<'RecordReturnRefund', { returnId: string; receiptId: string; amount: number; refundId: string | null }>
  /** `attempt`: how many refusals were recorded when the refused request was made. */
  | Command<'RecordReturnRefundFailure', { returnId: string; receiptId: string; amount: number; code: string; detail: string; attempt: number }>
  | Command<'RecordExchangeOrder', { returnId: string; exchangeOrderId: string }>;

type Decide<T extends ReturnCommand['type']> = (command: Extract<ReturnCommand, { type: T }>, state: Return) => ReturnEvent[];

function existing(state: Return, returnId: string): OpenReturn {
  if (state.status === 'none') throw new NotFoundError('return.not_found', `Return ${returnId} does not exist`);
  return state;
}

const ids = (r: OpenReturn, at: string) => ({ returnId: r.returnId, orderId: r.orderId, at });

const openReturn: Decide<'OpenReturn'> = (command, state) => {
  if (state.status !== 'none') return [];                            // opened already (the request again, or the process after a crash)
  const { exchangeLines, ...data } = command.data;
  return [{ type: 'ReturnOpened', data: { ...data, ...(exchangeLines === undefined ? {} : { exchangeLines }), at: command.metadata.now } }];
};

const recordCarrierChoice: Decide<'RecordReturnCarrierChoice'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  if (r.carrierDecision || r.label) return [];                       // the first recorded holds
  return [{ type: 'ReturnCarrierChosen', data: { ...ids(r, command.metadata.now), decision: command.data.decision } }];
};

const recordLabel: Decide<'RecordReturnLabel'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  const { label, locationId } = command.data;
  if (r.label) {
    if (r.label.trackingNumber === label.trackingNumber && r.label.carrierId === label.carrierId) return [];
    throw new ConflictError('return.already_labelled', `Return ${r.returnId} ships back as ${r.label.trackingNumber} with ${r.label.carrierId}`);
  }
  if (r.receipts.length > 0) throw new ConflictError('return.already_received', `Return ${r.returnId} has been received: it needs no label`);
  return [{ type: 'ReturnLabelled', data: { ...ids(r, command.metadata.now), label, locationId } }];
};

const recordTracking: Decide<'RecordReturnTracking'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  const update = validUpdate(command.data.update);
  if (!r.label) throw new ConflictError('return.not_labelled', `Return ${r.returnId} has no label to track`);
  if (update.carrierId !== r.label.carrierId || update.trackingNumber !== r.label.trackingNumber) {
    throw new ConflictError('return.wrong_tracking_number', `Return ${r.returnId} ships back as ${r.label.trackingNumber} with ${r.label.carrierId}`);
  }
  if (knownUpdate(r.tracking, update)) return [];
  return [{ type: 'ReturnTracked', data: { ...update, returnId: r.returnId, orderId: r.orderId, moved: returnMovesOn(r, update.at) } }];
};

/**
 * A receipt at a location: each line's units and their condition, no more of a SKU than the
 * return holds less what was received before. The units are priced along the return's lines for
 * their SKU, after those received before.
 */
const receiveReturn: Decide<'ReceiveReturn'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  const { receiptId, locationId, receivedBy } = command.data;
  if (r.receipts.some((x) => x.receiptId === receiptId)) return [];  // the same receipt again
  const lines = validReceipt(command.data.lines);
  const held = unitsOf(r.lines);
  const before = receivedUnits(r);
  const now = new Map<string, number>();
  for (const l of lines) {
    if (!held.has(l.sku)) throw new ConflictError('return.sku_not_in_return', `Return ${r.returnId} holds no ${l.sku}`);
    now.set(l.sku, (now.get(l.sku) ?? 0) + l.quantity);
  }
  for (const [sku, n] of now) {
    const left = held.get(sku)! - (before.get(sku) ?? 0);
    if (n > left) throw new ConflictError('return.receipt_exceeds_return', `${n} of ${sku} received, but return ${r.returnId} has ${left} of it still to come`);
  }
  const taken = new Map(before);
  const priced: ReceivedLine[] = [];
  for (const l of lines) {
    const from = taken.get(l.sku) ?? 0;
    taken.set(l.sku, from + l.quantity);
    priced.push(...pricedUnits(r.lines.filter((x) => x.sku === l.sku), from, l.quantity, l.condition));
  }
  return [{ type: 'ReturnReceived', data: { ...ids(r, command.metadata.now), receiptId, locationId, lines: priced, receivedBy } }];
};

function pricedUnits(lines: ReturnLine[], from: number, quantity: number, condition: ReturnCondition): ReceivedLine[] {
  return unitsAlong(lines, from, quantity).map(({ line, quantity: n }) => ({ sku: line.sku, quantity: n, condition, unitPrice: line.unitPrice }));
}

const recordRefund: Decide<'RecordReturnRefund'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  const { receiptId, amount, refundId } = command.data;
  if (!r.receipts.some((x) => x.receiptId === receiptId)) throw new ConflictError('return.receipt_not_found', `Return ${r.returnId} has no receipt ${receiptId}`);
  if (r.refunds.some((f) => f.receiptId === receiptId && f.settled)) return [];
  return [{ type: 'ReturnRefunded', data: { ...ids(r, command.metadata.now), receiptId, amount, refundId } }];
};

const recordRefundFailure: Decide<'RecordReturnRefundFailure'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  const { receiptId, amount, code, detail, attempt } = command.data;
  if (!r.receipts.some((x) => x.receiptId === receiptId)) throw new ConflictError('return.receipt_not_found', `Return ${r.returnId} has no receipt ${receiptId}`);
  const known = r.refunds.find((f) => f.receiptId === receiptId);
  if (known?.settled || (known && attempt < known.failures)) return [];   // paid meanwhile, or this refusal is recorded
  return [{ type: 'RefundFailed', data: { ...ids(r, command.metadata.now), receiptId, amount, code, detail, attempt } }];
};

const recordExchangeOrder: Decide<'RecordExchangeOrder'> = (command, state) => {
  const r = existing(state, command.data.returnId);
  const { exchangeOrderId } = command.data;
  if (r.resolution !== 'exchange') throw new ConflictError('return.not_exchange', `Return ${r.returnId} is refunded, not exchanged`);
  if (r.exchangeOrderId === exchangeOrderId) return [];
  if (r.exchangeOrderId) throw new ConflictError('return.already_exchanged', `Return ${r.returnId} is exchanged by order ${r.exchangeOrderId}`);
  return [{ type: 'ReturnExchangeOrdered', data: { ...ids(r, command.metadata.now), exchangeOrderId } }];
};

function validReceipt(lines: { sku: string; quantity: number; condition: ReturnCondition }[]): { sku: string; quantity: number; condition: ReturnCondition }[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(lines) || lines.length === 0) throw new ValidationError('return.no_lines', 'A receipt has at least one line', [{ path: '/lines', message: 'empty' }]);
  lines.forEach((l, i) => {
    if (typeof l.sku !== 'string' || l.sku.length === 0) errors.push({ path: `/lines/${i}/sku`, message: 'a SKU is required' });
    if (!Number.isInteger(l.quantity) || l.quantity <= 0) errors.push({ path: `/lines/${i}/quantity`, message: 'a whole number above 0' });
    if (!CONDITIONS.includes(l.condition)) errors.push({ path: `/lines/${i}/condition`, message: `one of ${CONDITIONS.join(', ')}` });
  });
  if (errors.length > 0) throw new ValidationError('return.invalid_receipt', 'Each received line has a SKU, a whole quantity and a condition', errors);
  return lines.map(({ sku, quantity, condition }) => ({ sku, quantity, condition }));
}

const decisions: { [T in ReturnCommand['type']]: Decide<T> } = {
  OpenReturn: openReturn,
  RecordReturnCarrierChoice: recordCarrierChoice,
  RecordReturnLabel: recordLabel,
  RecordReturnTracking: recordTracking,
  ReceiveReturn: receiveReturn,
  RecordReturnRefund: recordRefund,
  RecordReturnRefundFailure: recordRefundFailure,
  RecordExchangeOrder: recordExchangeOrder,
};

export const returnDecider: Decider<Return, ReturnCommand, ReturnEvent> = {
  initialState,
  evolve,
  decide(command, state) {
    const decide = decisions[command.type] as Decide<ReturnCommand['type']> | undefined;
    if (!decide) throw new Error(`Unhandled command ${command.type}`);
    return decide(command, state);
  },
};

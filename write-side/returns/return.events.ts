import type { DomainEvent } from '../decider.js';
import type { CarrierDecision, ShipmentLabel, ShipmentStatus, TrackingUpdate } from '../fulfilments/fulfilment.events.js';
import type { Address, ReturnLine, ReturnResolution, SkuQuantity } from '../orders/order.events.js';

// A return: units of a delivered order on their way back, from the customer's request to the
// receipts at a location and the refunds (or the exchange) they lead to. The order decided that
// the units may come back (OrderReturnAuthorized); the return's own stream follows them.

export type { ReturnLine, ReturnResolution };

export type ReturnCondition = 'resellable' | 'damaged';

/** Units received in one receipt, priced as the return holds them. */
export interface ReceivedLine { sku: string; quantity: number; condition: ReturnCondition; unitPrice: number }

/**
 * The carrier a return's label is bought from, recorded before anything is bought, with the
 * request it is bought for: from the customer (`from`: the address's coordinates and when the
 * parcel leaves) to the receiving location (`to`: its id and the address the carrier is given).
 * A return's label is one purchase, under one key.
 */
export type ReturnCarrierDecision = Omit<CarrierDecision, 'attempt'> & { to: { locationId: string; address: Address } };

/** Where the parcel comes from: the customer's address, or the store the order was collected at (brought back over the counter). */
export type ReturnOrigin = { kind: 'address'; address: Address } | { kind: 'store'; locationId: string };

type Ids = { returnId: string; orderId: string; at: string };

export type ReturnEvent =
  | DomainEvent<'ReturnOpened', Ids & {
    customerId: string; placedBy: string; currency: string; lines: ReturnLine[]; resolution: ReturnResolution; exchangeLines?: SkuQuantity[]; origin: ReturnOrigin;
  }>
  | DomainEvent<'ReturnCarrierChosen', Ids & { decision: ReturnCarrierDecision }>
  | DomainEvent<'ReturnLabelled', Ids & { label: ShipmentLabel; locationId: string }>
  | DomainEvent<'ReturnTracked', TrackingUpdate & { returnId: string; orderId: string; moved: boolean }>
  | DomainEvent<'ReturnReceived', Ids & { receiptId: string; locationId: string; lines: ReceivedLine[]; receivedBy: string }>
  /** The refund a receipt was owed, paid (`refundId`) or owed nothing (`amount` 0, no refund id). */
  | DomainEvent<'ReturnRefunded', Ids & { receiptId: string; amount: number; refundId: string | null }>
  /** `attempt`: the gateway's refusals of this receipt's refund recorded before this one (absent: 0). */
  | DomainEvent<'RefundFailed', Ids & { receiptId: string; amount: number; code: string; detail: string; attempt?: number }>
  | DomainEvent<'ReturnExchangeOrdered', Ids & { exchangeOrderId: string }>;

export type ReturnEventType = ReturnEvent['type'];
export type { ShipmentStatus };

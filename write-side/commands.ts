import { v5 as uuidv5 } from 'uuid';
import type { EventStore } from '../event-store/event-store.port.js';
import { NotFoundError, ValidationError } from '../platform/errors.js';
import { CommandHandler } from './command-handler.js';
import type { CommandMetadata } from './decider.js';
import { fulfilmentDecider, fulfilmentIdFor, fulfilmentStream, type CreateFulfilmentData, type FulfilmentCommand } from './fulfilments/fulfilment.decider.js';
import type { CarrierDecision, FulfilmentEvent, FulfilmentLine, InboundTransfer, PackageSpec, ShipmentLabel, TrackingUpdate } from './fulfilments/fulfilment.events.js';
import type { ExistingFulfilment, Fulfilment } from './fulfilments/fulfilment.state.js';
import { available, stockDecider, stockStream, type StockCommand, type StockLedger } from './inventory/stock.decider.js';
import { locationDecider, locationStream, type LocationCommand } from './locations/location.decider.js';
import { orderDecider, orderStream, type OrderCommand, type PlaceOrderData } from './orders/order.decider.js';
import type { Order } from './orders/order.state.js';
import type { FraudAssessment, Reallocation } from './orders/order.events.js';
import { sourcingRecord, type SourcingRecord } from './sourcing/reallocation.js';
import { returnDecider, returnStream, type ReturnCommand } from './returns/return.decider.js';
import type { ReturnEvent, ReturnOrigin } from './returns/return.events.js';
import type { OpenReturn, Return } from './returns/return.state.js';
import type { ReturnCommand as OrderReturnCommand } from './orders/order-returns.js';
import { toDomain } from './to-domain.js';

// The write side's entry points: what the API and the job processors call.

const CHANNEL_ORDER_NAMESPACE = '6f1c1f0e-5d8b-4a53-9a39-0c2b8f3c9e41';

/** One channel order always maps to the same order id, so concurrent duplicates meet on one stream. */
export function orderIdForChannelOrder(channel: string, source: string | undefined, externalId: string): string {
  return uuidv5(`${channel}\u0000${source ?? ''}\u0000${externalId}`, CHANNEL_ORDER_NAMESPACE);
}

export interface PlaceOrderResult { orderId: string; duplicate: boolean; status: string; placedAt: string; placedBy: string; position: number | null }

export type WriteSide = ReturnType<typeof createWriteSide>;

/** What a fulfilment command leaves: the fulfilment, the events it appended (none when its outcome already held) and their position. */
export interface FulfilmentResult { fulfilment: ExistingFulfilment; events: FulfilmentEvent[]; position: number | null }

/**
 * How old the pickup location a new order names may be as this process knows it: the same second
 * the allocator's own view of the locations allows. A change made through this process is known
 * at once; one made through another may take that long to be refused here, and sourcing, whose
 * view of the locations is as old, may still allocate at a location closed within it, as it
 * would an order placed a moment before the closure.
 */
const PICKUP_CHECK_MAX_AGE_MS = 1000;

export function createWriteSide(store: EventStore) {
  const orders = new CommandHandler(store, orderDecider);
  const locations = new CommandHandler(store, locationDecider);
  const stock = new CommandHandler(store, stockDecider, { cacheSize: 50_000 });
  const fulfilments = new CommandHandler(store, fulfilmentDecider);
  const returns = new CommandHandler(store, returnDecider);

  async function requireLocation(locationId: string) {
    const { state } = await locations.load(locationStream(locationId));
    if (state.status === 'none') throw new NotFoundError('location.not_found', `Location ${locationId} does not exist`);
    return state.details;
  }

  return {
    async placeOrder(data: Omit<PlaceOrderData, 'orderId' | 'externalId'> & { externalId: string }, metadata: CommandMetadata): Promise<PlaceOrderResult> {
      if (data.delivery.method === 'pickup') {
        const { locationId } = data.delivery;
        const { state } = await locations.load(locationStream(locationId), { maxAgeMs: PICKUP_CHECK_MAX_AGE_MS });
        if (state.status === 'none' || !state.details.active || !state.details.canPickup) {
          throw new ValidationError('order.invalid_pickup_location', 'The pickup location does not exist or does not offer pickup',
            [{ path: '/delivery/locationId', message: `${locationId} is not an active pickup location` }]);
        }
      }
      const orderId = orderIdForChannelOrder(data.channel, data.source, data.externalId);
      const result = await orders.handle(orderStream(orderId), { type: 'PlaceOrder', data: { ...data, orderId }, metadata }, { assumeNew: true });
      const placed = result.state as Exclude<Order, { status: 'none' }>;
      return { orderId, duplicate: result.events.length === 0, status: placed.status, placedAt: placed.order.placedAt, placedBy: placed.order.placedBy, position: result.position };
    },

    async cancelOrder(orderId: string, reason: string, metadata: CommandMetadata) {
      const r = await orders.handle(orderStream(orderId), { type: 'CancelOrder', data: { orderId, reason }, metadata });
      return { orderId, status: r.state.status, position: r.position };
    },

    async recordFraudAssessment(orderId: string, assessment: FraudAssessment, metadata: CommandMetadata) {
      const r = await orders.handle(orderStream(orderId), { type: 'RecordFraudAssessment', data: { orderId, ...assessment }, metadata });
      return { recorded: r.events.length > 0, position: r.position };
    },

    async reviewOrder(data: Extract<OrderCommand, { type: 'ReviewOrder' }>['data'], metadata: CommandMetadata) {
      const r = await orders.handle(orderStream(data.orderId), { type: 'ReviewOrder', data, metadata });
      return { orderId: data.orderId, status: r.state.status, position: r.position };
    },

    /** Records what the payment gateway answered; a retried job records nothing twice. */
    async recordPayment(command: Extract<OrderCommand, { type: `RecordPayment${string}` }>) {
      const r = await orders.handle(orderStream(command.data.orderId), command);
      return { recorded: r.events.length > 0, state: r.state, position: r.position };
    },

    async recordAllocation(data: Extract<OrderCommand, { type: 'RecordAllocation' }>['data'], metadata: CommandMetadata) {
      const r = await orders.handle(orderStream(data.orderId), { type: 'RecordAllocation', data, metadata });
      return { recorded: r.events.length > 0, position: r.position };
    },

    async recordBackorder(data: Extract<OrderCommand, { type: 'RecordBackorder' }>['data'], metadata: CommandMetadata) {
      const r = await orders.handle(orderStream(data.orderId), { type: 'RecordBackorder', data, metadata });
      return { recorded: r.events.length > 0, position: r.position };
    },

    /** Records part of an allocated order sourced again; the same re-allocation again records nothing. */
    async recordReallocation(data: Reallocation, metadata: CommandMetadata) {
      const r = await orders.handle(orderStream(data.orderId), { type: 'RecordReallocation', data, metadata });
      return { recorded: r.events.length > 0, position: r.position };
    },

    /**
     * Records on the order what one of its fulfilments did: shipped, delivered, ready at the
     * counter, collected, or sent on to the pickup store and received there. A fact already
     * recorded records nothing.
     */
    async recordOrderFulfilment(command: Extract<OrderCommand, {
      type: 'RecordFulfilmentShipped' | 'RecordFulfilmentDelivered' | 'RecordReadyForPickup' | 'RecordCollection' | 'RecordTransferShipped' | 'RecordTransferReceived';
    }>) {
      const r = await orders.handle(orderStream(command.data.orderId), command);
      return { recorded: r.events.length > 0, state: r.state, position: r.position };
    },

    /** What the order's own events say it holds where and how it was re-sourced, read up to date. */
    async loadSourcingRecord(orderId: string): Promise<SourcingRecord> {
      return sourcingRecord((await store.readStream(orderStream(orderId))).map((e) => toDomain(e)));
    },

    /**
     * The order as last seen by this process (read when not seen yet), enough for its immutable
     * placement facts; `fresh` reads what has happened since.
     */
    async loadOrder(orderId: string, options: { fresh?: boolean } = {}): Promise<Order> {
      return (await orders.load(orderStream(orderId), { cachedOk: !options.fresh })).state;
    },

    async registerLocation(data: LocationCommand['data'], metadata: CommandMetadata) {
      const r = await locations.handle(locationStream(data.locationId), { type: 'RegisterLocation', data, metadata });
      return { created: r.events.some((e) => e.type === 'LocationRegistered'), position: r.position, location: r.state };
    },

    /** A command on the ledger of one SKU at one location; `locationMustExist` checks the location first (404). */
    async onLedger(command: StockCommand, options: { locationMustExist?: boolean } = {}) {
      const { sku, locationId } = command.data;
      if (options.locationMustExist) await requireLocation(locationId);
      const r = await stock.handle(stockStream(sku, locationId), command);
      return { ...ledgerResult(command.data, r.state, r.position), changed: r.events.length > 0 };
    },

    /** Receives a stock transfer at its destination; `receivedAt` is when it first arrived there (receiving it again records nothing). */
    async receiveTransfer(data: Extract<StockCommand, { type: 'TransferStockIn' }>['data'], metadata: CommandMetadata) {
      const r = await stock.handle(stockStream(data.sku, data.locationId), { type: 'TransferStockIn', data, metadata });
      return { receivedAt: r.state.transfersIn.get(data.transferId)!, position: r.position };
    },

    /** A ledger as last seen here (`cachedOk`) or read up to date. */
    async loadLedger(sku: string, locationId: string, options: { cachedOk?: boolean } = {}): Promise<StockLedger> {
      return (await stock.load(stockStream(sku, locationId), options)).state;
    },

    location: requireLocation,

    // Fulfilments: every command but the creation answers 404 for a fulfilment that does not exist.

    /** Creates the fulfilment of one allocation at one location, under its derived id; creating it again records nothing. */
    async createFulfilment(data: Omit<CreateFulfilmentData, 'fulfilmentId'>, metadata: CommandMetadata): Promise<FulfilmentResult & { fulfilmentId: string }> {
      const fulfilmentId = fulfilmentIdFor(data.orderId, data.allocationSeq, data.locationId);
      return { fulfilmentId, ...await onFulfilment({ type: 'CreateFulfilment', data: { ...data, fulfilmentId }, metadata }, { assumeNew: true }) };
    },

    recordPick(fulfilmentId: string, lines: FulfilmentLine[], metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordPick', data: { fulfilmentId, lines }, metadata });
    },

    rejectFulfilment(fulfilmentId: string, reason: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RejectFulfilment', data: { fulfilmentId, reason }, metadata });
    },

    packFulfilment(fulfilmentId: string, packages: PackageSpec[], metadata: CommandMetadata) {
      return onFulfilment({ type: 'PackFulfilment', data: { fulfilmentId, packages }, metadata });
    },

    /** Records the carrier a packed fulfilment's label is to be bought from; the first one recorded holds, and is answered. */
    async recordCarrierChoice(fulfilmentId: string, decision: CarrierDecision, metadata: CommandMetadata): Promise<CarrierDecision> {
      const r = await onFulfilment({ type: 'RecordCarrierChoice', data: { fulfilmentId, decision }, metadata });
      const f = r.fulfilment;
      return 'carrierDecision' in f && f.carrierDecision ? f.carrierDecision : decision;
    },

    /** Records the label a carrier job bought; the same label again records nothing. */
    recordLabel(fulfilmentId: string, label: ShipmentLabel, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordLabel', data: { fulfilmentId, label }, metadata });
    },

    /** Records that the carrier chosen for purchase `attempt` refused it: that choice is let go. */
    recordLabelRefusal(fulfilmentId: string, refusal: Omit<Extract<FulfilmentCommand, { type: 'RecordLabelRefusal' }>['data'], 'fulfilmentId'>, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordLabelRefusal', data: { fulfilmentId, ...refusal }, metadata });
    },

    /** Records that the label job gave up; the same failure again records nothing. */
    recordLabelFailure(fulfilmentId: string, failure: Omit<Extract<FulfilmentCommand, { type: 'RecordLabelFailure' }>['data'], 'fulfilmentId'>, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordLabelFailure', data: { fulfilmentId, ...failure }, metadata });
    },

    /** Records a cancelled fulfilment's label voided at its carrier. */
    recordLabelCancellation(fulfilmentId: string, label: { carrierId: string; trackingNumber: string }, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordLabelCancellation', data: { fulfilmentId, ...label }, metadata });
    },

    /** Records that the carrier would not void a cancelled fulfilment's label. */
    recordLabelCancellationRefusal(fulfilmentId: string, refusal: { carrierId: string; trackingNumber: string; code: string; reason: string }, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordLabelCancellationRefusal', data: { fulfilmentId, ...refusal }, metadata });
    },

    /** Hands a labelled shipment to its carrier, or a packed transfer to the store replenishment run. */
    shipFulfilment(fulfilmentId: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'ShipFulfilment', data: { fulfilmentId }, metadata });
    },

    /** The pickup store receives a transfer fulfilment on its way there; receiving it again records nothing. */
    receiveTransferFulfilment(fulfilmentId: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'ReceiveTransfer', data: { fulfilmentId }, metadata });
    },

    /** Adds a re-allocation's part for the pickup store to a pickup not picked yet (409 once it is); the same re-allocation again records nothing. */
    extendPickup(fulfilmentId: string, part: { allocationSeq: number; lines: FulfilmentLine[]; inbound: InboundTransfer[] }, metadata: CommandMetadata) {
      return onFulfilment({ type: 'ExtendPickup', data: { fulfilmentId, ...part }, metadata });
    },

    /** Records on a pickup that a transfer it waits for arrived, with what it brought. */
    recordTransferArrival(fulfilmentId: string, transferId: string, lines: FulfilmentLine[], metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordTransferArrival', data: { fulfilmentId, transferId, lines }, metadata });
    },

    /** Records on a pickup that a transfer it waits for will not come. */
    dropTransfer(fulfilmentId: string, transferId: string, reason: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'DropTransfer', data: { fulfilmentId, transferId, reason }, metadata });
    },

    /** Records a carrier's tracking update (a webhook or a poll); the same update again records nothing. */
    recordTracking(fulfilmentId: string, update: TrackingUpdate, metadata: CommandMetadata) {
      return onFulfilment({ type: 'RecordTracking', data: { fulfilmentId, update }, metadata });
    },

    markReadyForPickup(fulfilmentId: string, pickup: { code: string; expiresAt: string }, metadata: CommandMetadata) {
      return onFulfilment({ type: 'MarkReadyForPickup', data: { fulfilmentId, ...pickup }, metadata });
    },

    collectFulfilment(fulfilmentId: string, code: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'CollectFulfilment', data: { fulfilmentId, code }, metadata });
    },

    /** Expires a pickup not collected by its expiry; `metadata.now` is the time it is judged at. */
    expirePickup(fulfilmentId: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'ExpirePickup', data: { fulfilmentId }, metadata });
    },

    cancelFulfilment(fulfilmentId: string, reason: string, metadata: CommandMetadata) {
      return onFulfilment({ type: 'CancelFulfilment', data: { fulfilmentId, reason }, metadata });
    },

    // Returns: the order decides whether the units may come back (the policy, across all its
    // returns), the return's own stream follows them back.

    /**
     * Asks to return units of a delivered order: the order authorises it under the policy (409
     * naming the broken rule), then the return is opened from what the order authorised. Asking
     * again under the same return id records nothing; a return authorised and not yet opened (the
     * process stopped between the two) is opened now, as the returns process also does.
     */
    async requestReturn(data: Extract<OrderReturnCommand, { type: 'AuthorizeReturn' }>['data'], metadata: CommandMetadata): Promise<{ return: OpenReturn; position: number | null }> {
      const r = await orders.handle(orderStream(data.orderId), { type: 'AuthorizeReturn', data, metadata });
      const opened = await openReturn(r.state, data.returnId, metadata);
      return { return: opened.return, position: opened.position ?? r.position };
    },

    openReturn,

    recordReturnCarrierChoice: (data: Extract<ReturnCommand, { type: 'RecordReturnCarrierChoice' }>['data'], metadata: CommandMetadata) =>
      onReturn({ type: 'RecordReturnCarrierChoice', data, metadata }),
    recordReturnLabel: (data: Extract<ReturnCommand, { type: 'RecordReturnLabel' }>['data'], metadata: CommandMetadata) =>
      onReturn({ type: 'RecordReturnLabel', data, metadata }),
    recordReturnTracking: (returnId: string, update: TrackingUpdate, metadata: CommandMetadata) =>
      onReturn({ type: 'RecordReturnTracking', data: { returnId, update }, metadata }),
    receiveReturn: (data: Extract<ReturnCommand, { type: 'ReceiveReturn' }>['data'], metadata: CommandMetadata) =>
      onReturn({ type: 'ReceiveReturn', data, metadata }),
    recordReturnRefund: (data: Extract<ReturnCommand, { type: 'RecordReturnRefund' }>['data'], metadata: CommandMetadata) =>
      onReturn({ type: 'RecordReturnRefund', data, metadata }),
    recordReturnRefundFailure: (data: Extract<ReturnCommand, { type: 'RecordReturnRefundFailure' }>['data'], metadata: CommandMetadata) =>
      onReturn({ type: 'RecordReturnRefundFailure', data, metadata }),
    recordExchangeOrder: (returnId: string, exchangeOrderId: string, metadata: CommandMetadata) =>
      onReturn({ type: 'RecordExchangeOrder', data: { returnId, exchangeOrderId }, metadata }),

    /** A refund owed on the order for a receipt (see order-returns.ts requestRefund), or a refusal of the gateway recorded on it. */
    async onOrderRefund(command: Extract<OrderCommand, { type: 'RequestRefund' | 'RecordRefundFailure' }>) {
      const r = await orders.handle(orderStream(command.data.orderId), command);
      return { recorded: r.events.length > 0, state: r.state, position: r.position };
    },

    /** The return read up to date (`status: 'none'` when it does not exist), or as last seen here (`cachedOk`). */
    async loadReturn(returnId: string, options: { cachedOk?: boolean } = {}): Promise<Return> {
      return (await returns.load(returnStream(returnId), options)).state;
    },

    /** The fulfilment read up to date (`status: 'none'` when it does not exist), or as last seen here (`cachedOk`). */
    async loadFulfilment(fulfilmentId: string, options: { cachedOk?: boolean } = {}): Promise<Fulfilment> {
      return (await fulfilments.load(fulfilmentStream(fulfilmentId), options)).state;
    },
  };

  /** Opens the return the order authorised under `returnId`, with the order's customer and where the parcel comes from. */
  async function openReturn(order: Order, returnId: string, metadata: CommandMetadata): Promise<{ return: OpenReturn; position: number | null }> {
    if (order.status === 'none') throw new NotFoundError('order.not_found', 'The order does not exist');
    const authorized = order.returns.returns.find((x) => x.returnId === returnId);
    if (!authorized) throw new NotFoundError('return.not_found', `Order ${order.order.orderId} has authorised no return ${returnId}`);
    const { delivery, customer, currency, placedBy, orderId } = order.order;
    const origin: ReturnOrigin = delivery.method === 'ship' ? { kind: 'address', address: delivery.address } : { kind: 'store', locationId: delivery.locationId };
    const r = await onReturn({
      type: 'OpenReturn',
      data: {
        returnId, orderId, customerId: customer.id, placedBy, currency, lines: authorized.lines, resolution: authorized.resolution,
        ...(authorized.exchangeLines === undefined ? {} : { exchangeLines: authorized.exchangeLines }), origin,
      },
      metadata,
    }, { assumeNew: true });
    return { return: r.return, position: r.position };
  }

  async function onReturn(command: ReturnCommand, options: { assumeNew?: boolean } = {}): Promise<{ return: OpenReturn; events: ReturnEvent[]; position: number | null }> {
    const r = await returns.handle(returnStream(command.data.returnId), command, options);
    return { return: r.state as OpenReturn, events: r.events, position: r.position };
  }

  async function onFulfilment(command: FulfilmentCommand, options: { assumeNew?: boolean } = {}): Promise<FulfilmentResult> {
    const r = await fulfilments.handle(fulfilmentStream(command.data.fulfilmentId), command, options);
    return { fulfilment: r.state as ExistingFulfilment, events: r.events, position: r.position };
  }
}

function ledgerResult(key: { sku: string; locationId: string }, s: StockLedger, position: number | null) {
  return { sku: key.sku, locationId: key.locationId, onHand: s.onHand, reserved: s.reserved, quarantined: s.quarantined, safetyStock: s.safetyStock, available: available(s), position };
}

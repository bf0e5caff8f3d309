import { Map as ImmutableMap, Set as ImmutableSet } from 'immutable';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import type { Command, Decider, DomainEvent } from '../decider.js';

// The inventory ledger of one SKU at one location. Every movement is an event; on-hand never
// drops below what is reserved plus what is quarantined, and a reservation never takes more
// than is available (on-hand less reserved, quarantined and safety stock).

type At = { sku: string; locationId: string; at: string };

export type StockEvent =
  | DomainEvent<'StockReceived', At & { quantity: number; reference?: string }>
  | DomainEvent<'StockAdjusted', At & { delta: number; reason: string; orderId?: string; fulfilmentId?: string }>
  | DomainEvent<'StockReserved', At & { orderId: string; quantity: number }>
  | DomainEvent<'StockReservationReleased', At & { orderId: string; quantity: number; reason: string }>
  /** `fulfilmentId`: the shipment the units left with (absent on events recorded before fulfilments). */
  | DomainEvent<'StockShipped', At & { orderId: string; quantity: number; fulfilmentId?: string }>
  /** `orderId`, `fulfilmentId`: the order whose units these are, sent to its pickup store by that transfer fulfilment (absent for a stock transfer). */
  | DomainEvent<'StockTransferredOut', At & { transferId: string; to: string; quantity: number } & ForOrder>
  | DomainEvent<'StockTransferredIn', At & { transferId: string; from: string; quantity: number } & ForOrder>
  /** `receiptId`: the return receipt the units came back with (absent on units returned by hand). */
  | DomainEvent<'StockReturned', At & { quantity: number; reference: string; receiptId?: string }>
  | DomainEvent<'StockQuarantined', At & { quantity: number; reason: string }>
  | DomainEvent<'SafetyStockSet', At & { quantity: number }>;

type Key = { sku: string; locationId: string };
/** The order a transfer carries units of, and its transfer fulfilment. */
type ForOrder = { orderId?: string; fulfilmentId?: string };
export type StockCommand =
  | Command<'ReceiveStock', Key & { quantity: number; reference?: string }>
  | Command<'AdjustStock', Key & { delta: number; reason: string }>
  /**
   * The order is to hold `quantity` units here in all. `alreadyHeld`: what it holds here before,
   * as its own record says (none when absent); the difference is reserved.
   */
  | Command<'ReserveStock', Key & { orderId: string; quantity: number; alreadyHeld?: number }>
  /** Releases what the order holds here down to `keep` units (none when absent). */
  | Command<'ReleaseReservation', Key & { orderId: string; reason: string; keep?: number }>
  /** Writes off units a fulfilment found missing on the shelf, with the order's reservation of them. */
  | Command<'WriteOffShortPick', Key & { orderId: string; fulfilmentId: string; quantity: number }>
  | Command<'ShipReservedStock', Key & { orderId: string; quantity: number; fulfilmentId?: string }>
  /** With `orderId`: the order's units leave with its reservation of them here. */
  | Command<'TransferStockOut', Key & { transferId: string; to: string; quantity: number } & ForOrder>
  /** With `orderId`: the units arrive reserved for the order, never available to another on the way. */
  | Command<'TransferStockIn', Key & { transferId: string; from: string; quantity: number } & ForOrder>
  | Command<'ReturnStock', Key & { quantity: number; reference: string }>
  | Command<'QuarantineStock', Key & { quantity: number; reason: string }>
  /** Units of a return received here: back on hand, the `damaged` ones of them held in quarantine; one receipt is taken in once. */
  | Command<'ReceiveReturnedStock', Key & { quantity: number; damaged: number; receiptId: string; returnId: string }>
  | Command<'SetSafetyStock', Key & { quantity: number }>;

export interface StockLedger {
  onHand: number;
  reserved: number;
  quarantined: number;
  safetyStock: number;
  /** Open reservations by order id (a persistent map: a hot SKU holds many, and evolve must not copy them all). */
  reservations: ImmutableMap<string, number>;
  /** When each transfer already received here arrived, so a repeated receipt records nothing and can say when. */
  transfersIn: ImmutableMap<string, string>;
  /** Transfers already sent from here, so a repeated sending records nothing. */
  transfersOut: ImmutableSet<string>;
  /** Fulfilments whose short pick has been written off here, so a repeated write-off records nothing. */
  shortPicks: ImmutableSet<string>;
  /** Shipments already taken off this ledger (`fulfilmentId`), so a repeated handover takes nothing twice. */
  shipped: ImmutableSet<string>;
  /** Return receipts already taken in here, so a repeated receipt returns nothing twice. */
  receipts: ImmutableSet<string>;
}

export const stockStream = (sku: string, locationId: string): string => `stock-${sku}@${locationId}`;

/** What can still be promised: on-hand less reserved, quarantined and safety stock. */
export const available = (s: StockLedger): number => Math.max(0, s.onHand - s.reserved - s.quarantined - s.safetyStock);

/** No ledger holds more than this many units: far beyond any real stock, well inside exact integers. */
export const MAX_ON_HAND = 1_000_000_000_000;

export const stockDecider: Decider<StockLedger, StockCommand, StockEvent> = {
  initialState: {
    onHand: 0, reserved: 0, quarantined: 0, safetyStock: 0, reservations: ImmutableMap(), transfersIn: ImmutableMap(), transfersOut: ImmutableSet(), shortPicks: ImmutableSet(),
    shipped: ImmutableSet(), receipts: ImmutableSet(),
  },

  evolve(state, event) {
    switch (event.type) {
      case 'StockReceived':
        return { ...state, onHand: state.onHand + event.data.quantity };
      case 'StockReturned': {
        const { receiptId } = event.data;
        return { ...state, onHand: state.onHand + event.data.quantity, receipts: receiptId === undefined ? state.receipts : state.receipts.add(receiptId) };
      }
      case 'StockAdjusted': {
        const { fulfilmentId } = event.data;
        return { ...state, onHand: state.onHand + event.data.delta, shortPicks: fulfilmentId === undefined ? state.shortPicks : state.shortPicks.add(fulfilmentId) };
      }
      case 'StockReserved':
        return { ...state, reserved: state.reserved + event.data.quantity, reservations: state.reservations.update(event.data.orderId, 0, (q) => q + event.data.quantity) };
      case 'StockReservationReleased':
        return { ...state, reserved: state.reserved - event.data.quantity, reservations: less(state.reservations, event.data.orderId, event.data.quantity) };
      case 'StockShipped':
        return {
          ...state, onHand: state.onHand - event.data.quantity, reserved: state.reserved - event.data.quantity, reservations: less(state.reservations, event.data.orderId, event.data.quantity),
          shipped: event.data.fulfilmentId === undefined ? state.shipped : state.shipped.add(event.data.fulfilmentId),
        };
      case 'StockTransferredOut':
        return { ...state, onHand: state.onHand - event.data.quantity, transfersOut: state.transfersOut.add(event.data.transferId) };
      case 'StockTransferredIn':
        return { ...state, onHand: state.onHand + event.data.quantity, transfersIn: state.transfersIn.set(event.data.transferId, event.data.at) };
      case 'StockQuarantined':
        return { ...state, quarantined: state.quarantined + event.data.quantity };
      case 'SafetyStockSet':
        return { ...state, safetyStock: event.data.quantity };
      default: {
        const unknown: never = event;
        void unknown;
        return state;
      }
    }
  },

  decide(command, state) {
    const { sku, locationId } = command.data;
    const at = { sku, locationId, at: command.metadata.now };
    switch (command.type) {
      case 'ReceiveStock': {
        const { quantity, reference } = command.data;
        positive(quantity);
        capped(state.onHand + quantity);
        return [{ type: 'StockReceived', data: { ...at, quantity, ...(reference ? { reference } : {}) } }];
      }
      case 'AdjustStock': {
        const { delta, reason } = command.data;
        if (!Number.isInteger(delta) || delta === 0) throw new ValidationError('stock.invalid_quantity', 'An adjustment must be a non-zero whole quantity');
        const onHand = state.onHand + delta;
        capped(onHand);
        if (onHand < 0) throw new ConflictError('stock.negative_on_hand', `On-hand ${state.onHand} cannot be adjusted by ${delta}`);
        if (onHand < state.reserved + state.quarantined) {
          throw new ConflictError('stock.below_reserved', `On-hand would be ${onHand}, below the ${state.reserved} reserved and ${state.quarantined} quarantined`);
        }
        return [{ type: 'StockAdjusted', data: { ...at, delta, reason } }];
      }
      case 'ReserveStock': {
        const { orderId, quantity } = command.data;
        const before = command.data.alreadyHeld ?? 0;
        positive(quantity);
        if (!Number.isInteger(before) || before < 0 || before >= quantity) {
          throw new ValidationError('stock.invalid_quantity', 'What the order already holds must be a whole quantity below what it is to hold');
        }
        const held = state.reservations.get(orderId, 0);
        if (held === quantity) return [];                                 // this order already holds these units here
        if (held !== before) {
          throw new ConflictError('stock.reserved_otherwise', `Order ${orderId} already holds ${held} of ${sku} at ${locationId}, not ${before === 0 ? quantity : before}`);
        }
        const adding = quantity - before;
        if (adding > available(state)) {
          throw new ConflictError('stock.insufficient', `${adding} of ${sku} wanted at ${locationId}, ${available(state)} available`);
        }
        return [{ type: 'StockReserved', data: { ...at, orderId, quantity: adding } }];
      }
      case 'ReleaseReservation': {
        const { orderId, reason } = command.data;
        const keep = command.data.keep ?? 0;
        if (!Number.isInteger(keep) || keep < 0) throw new ValidationError('stock.invalid_quantity', 'What the order keeps must be a whole quantity of zero or more');
        const held = state.reservations.get(orderId, 0);
        if (held <= keep) return [];
        return [{ type: 'StockReservationReleased', data: { ...at, orderId, quantity: held - keep, reason } }];
      }
      case 'WriteOffShortPick': {
        // Released first, then written off: the ledger never shows more reserved than on hand.
        const { orderId, fulfilmentId, quantity } = command.data;
        positive(quantity);
        if (state.shortPicks.has(fulfilmentId)) return [];
        const held = state.reservations.get(orderId, 0);
        if (quantity > held) throw new ConflictError('stock.not_reserved', `Order ${orderId} holds ${held} of ${sku} at ${locationId}, fewer than the ${quantity} found missing`);
        return [
          { type: 'StockReservationReleased', data: { ...at, orderId, quantity, reason: 'short_pick' } },
          { type: 'StockAdjusted', data: { ...at, delta: -quantity, reason: 'short_pick', orderId, fulfilmentId } },
        ];
      }
      case 'ShipReservedStock': {
        const { orderId, quantity, fulfilmentId } = command.data;
        positive(quantity);
        if (fulfilmentId !== undefined && state.shipped.has(fulfilmentId)) return [];          // this shipment already left
        const held = state.reservations.get(orderId, 0);
        if (quantity > held) throw new ConflictError('stock.not_reserved', `Order ${orderId} holds ${held} of ${sku} at ${locationId}, not ${quantity}`);
        return [{ type: 'StockShipped', data: { ...at, orderId, quantity, ...(fulfilmentId === undefined ? {} : { fulfilmentId }) } }];
      }
      case 'TransferStockOut': {
        const { transferId, to, quantity, orderId, fulfilmentId } = command.data;
        positive(quantity);
        if (to === locationId) throw new ValidationError('stock.transfer_to_itself', 'A transfer must go to another location');
        if (state.transfersOut.has(transferId)) return [];
        const out: StockEvent = { type: 'StockTransferredOut', data: { ...at, transferId, to, quantity, ...forOrder(orderId, fulfilmentId) } };
        if (orderId === undefined) {
          if (quantity > available(state)) throw new ConflictError('stock.insufficient', `${quantity} of ${sku} to move from ${locationId}, ${available(state)} available`);
          return [out];
        }
        // Released first, then sent, as a short pick is written off. Units the order no longer
        // holds here (released as it closed while the parcel left) leave from the unreserved ones.
        const fromReserved = Math.min(state.reservations.get(orderId, 0), quantity);
        const unreserved = state.onHand - state.reserved - state.quarantined;
        if (quantity - fromReserved > unreserved) {
          throw new ConflictError('stock.insufficient', `${quantity} of ${sku} to send from ${locationId} for order ${orderId}, which holds ${fromReserved}; ${unreserved} unreserved`);
        }
        const release: StockEvent[] = fromReserved > 0 ? [{ type: 'StockReservationReleased', data: { ...at, orderId, quantity: fromReserved, reason: 'transferred' } }] : [];
        return [...release, out];
      }
      case 'TransferStockIn': {
        const { transferId, from, quantity, orderId, fulfilmentId } = command.data;
        positive(quantity);
        if (state.transfersIn.has(transferId)) return [];
        capped(state.onHand + quantity);
        const received: StockEvent = { type: 'StockTransferredIn', data: { ...at, transferId, from, quantity, ...forOrder(orderId, fulfilmentId) } };
        return orderId === undefined ? [received] : [received, { type: 'StockReserved', data: { ...at, orderId, quantity } }];
      }
      case 'ReturnStock': {
        const { quantity, reference } = command.data;
        positive(quantity);
        capped(state.onHand + quantity);
        return [{ type: 'StockReturned', data: { ...at, quantity, reference } }];
      }
      case 'QuarantineStock': {
        const { quantity, reason } = command.data;
        positive(quantity);
        const free = state.onHand - state.reserved - state.quarantined;
        if (quantity > free) throw new ConflictError('stock.insufficient', `${quantity} of ${sku} to quarantine at ${locationId}, ${free} unreserved`);
        return [{ type: 'StockQuarantined', data: { ...at, quantity, reason } }];
      }
      case 'ReceiveReturnedStock': {
        const { quantity, damaged, receiptId, returnId } = command.data;
        positive(quantity);
        if (!Number.isInteger(damaged) || damaged < 0 || damaged > quantity) throw new ValidationError('stock.invalid_quantity', 'The damaged units are some of those returned');
        if (state.receipts.has(receiptId)) return [];
        capped(state.onHand + quantity);
        const returned: StockEvent = { type: 'StockReturned', data: { ...at, quantity, reference: `return ${returnId}`, receiptId } };
        return damaged > 0 ? [returned, { type: 'StockQuarantined', data: { ...at, quantity: damaged, reason: `damaged in return ${returnId}` } }] : [returned];
      }
      case 'SetSafetyStock': {
        const { quantity } = command.data;
        if (!Number.isInteger(quantity) || quantity < 0) throw new ValidationError('stock.invalid_quantity', 'Safety stock must be a whole quantity of zero or more');
        capped(quantity);
        if (quantity === state.safetyStock) return [];
        return [{ type: 'SafetyStockSet', data: { ...at, quantity } }];
      }
      default: {
        const unknown: never = command;
        throw new Error(`Unhandled command ${(unknown as StockCommand).type}`);
      }
    }
  },
};

function forOrder(orderId: string | undefined, fulfilmentId: string | undefined): ForOrder {
  return { ...(orderId === undefined ? {} : { orderId }), ...(fulfilmentId === undefined ? {} : { fulfilmentId }) };
}

/** The order's reservation less `quantity`; none left, no entry. */
function less(reservations: ImmutableMap<string, number>, orderId: string, quantity: number): ImmutableMap<string, number> {
  const left = reservations.get(orderId, 0) - quantity;
  return left > 0 ? reservations.set(orderId, left) : reservations.remove(orderId);
}

function positive(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity <= 0) throw new ValidationError('stock.invalid_quantity', 'A quantity must be a positive whole number');
}

function capped(onHand: number): void {
  if (onHand > MAX_ON_HAND) throw new ConflictError('stock.limit_exceeded', `A ledger holds at most ${MAX_ON_HAND} units`);
}


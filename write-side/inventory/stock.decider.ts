import { ConflictError, ValidationError } from '../../platform/errors.js';
import type { Command, Decider, DomainEvent } from '../decider.js';

// The inventory ledger of one SKU at one location. On-hand never drops below what is reserved.

export type StockEvent =
  | DomainEvent<'StockReceived', { sku: string; locationId: string; quantity: number; reference?: string; at: string }>
  | DomainEvent<'StockAdjusted', { sku: string; locationId: string; delta: number; reason: string; at: string }>;

export type StockCommand =
  | Command<'ReceiveStock', { sku: string; locationId: string; quantity: number; reference?: string }>
  | Command<'AdjustStock', { sku: string; locationId: string; delta: number; reason: string }>;

export interface StockLedger {
  onHand: number;
  reserved: number;
}

export const stockStream = (sku: string, locationId: string): string => `stock-${sku}@${locationId}`;

export const available = (s: StockLedger): number => s.onHand - s.reserved;

/** No ledger holds more than this many units: far beyond any real stock, well inside exact integers. */
export const MAX_ON_HAND = 1_000_000_000_000;

export const stockDecider: Decider<StockLedger, StockCommand, StockEvent> = {
  initialState: { onHand: 0, reserved: 0 },

  evolve(state, event) {
    switch (event.type) {
      case 'StockReceived':
        return { ...state, onHand: state.onHand + event.data.quantity };
      case 'StockAdjusted':
        return { ...state, onHand: state.onHand + event.data.delta };
      default: {
        const unknown: never = event;
        void unknown;
        return state;
      }
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'ReceiveStock': {
        const { sku, locationId, quantity, reference } = command.data;
        if (!Number.isInteger(quantity) || quantity <= 0) throw new ValidationError('stock.invalid_quantity', 'A receipt must be a positive whole quantity');
        if (state.onHand + quantity > MAX_ON_HAND) throw new ConflictError('stock.limit_exceeded', `A ledger holds at most ${MAX_ON_HAND} units`);
        return [{ type: 'StockReceived', data: { sku, locationId, quantity, ...(reference ? { reference } : {}), at: command.metadata.now } }];
      }
      case 'AdjustStock': {
        const { sku, locationId, delta, reason } = command.data;
        if (!Number.isInteger(delta) || delta === 0) throw new ValidationError('stock.invalid_quantity', 'An adjustment must be a non-zero whole quantity');
        const onHand = state.onHand + delta;
        if (onHand > MAX_ON_HAND) throw new ConflictError('stock.limit_exceeded', `A ledger holds at most ${MAX_ON_HAND} units`);
        if (onHand < 0) {
          throw new ConflictError('stock.negative_on_hand', `On-hand ${state.onHand} cannot be adjusted by ${delta}`);
        }
        if (onHand < state.reserved) {
          throw new ConflictError('stock.below_reserved', `On-hand would be ${onHand}, below the ${state.reserved} reserved`);
        }
        return [{ type: 'StockAdjusted', data: { sku, locationId, delta, reason, at: command.metadata.now } }];
      }
      default: {
        const unknown: never = command;
        throw new Error(`Unhandled command ${(unknown as StockCommand).type}`);
      }
    }
  },
};

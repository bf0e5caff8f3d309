import type { Command, Decider } from '../decider.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import type { FraudAssessment, OrderAllocation, OrderEvent, PlacedOrder, SkuQuantity, SourcingExplanation } from './order.events.js';

export type PlaceOrderData = Omit<PlacedOrder, 'total' | 'placedAt'>;

export type OrderCommand =
  | Command<'PlaceOrder', PlaceOrderData>
  | Command<'CancelOrder', { orderId: string; reason: string }>
  | Command<'RecordFraudAssessment', FraudAssessment & { orderId: string }>
  | Command<'RecordAllocation', OrderAllocation & SourcingExplanation & { orderId: string; cost: number }>
  | Command<'RecordBackorder', SourcingExplanation & { orderId: string; missing: SkuQuantity[] }>;

interface Placed { order: PlacedOrder; fraud: FraudAssessment | null; allocation: OrderAllocation | null }

export type Order =
  | { status: 'none' }
  | Placed & { status: 'received' }
  | Placed & { status: 'backordered'; missing: SkuQuantity[] }
  | Placed & { status: 'cancelled'; cancellation: { reason: string; at: string } };

export const orderStream = (orderId: string): string => `order-${orderId}`;

export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState: { status: 'none' },

  evolve(state, event) {
    switch (event.type) {
      case 'OrderPlaced':
        return { status: 'received', order: event.data, fraud: null, allocation: null };
      case 'OrderCancelled':
        if (state.status === 'none') return state;
        return { status: 'cancelled', order: state.order, fraud: state.fraud, allocation: state.allocation, cancellation: { reason: event.data.reason, at: event.data.at } };
      case 'OrderAllocated': {
        if (state.status === 'none') return state;
        const { allocations, transfers } = event.data;
        return { status: 'received', order: state.order, fraud: state.fraud, allocation: { allocations, transfers } };
      }
      case 'OrderBackordered':
        if (state.status === 'none') return state;
        return { status: 'backordered', order: state.order, fraud: state.fraud, allocation: null, missing: event.data.missing };
      case 'FraudAssessed': {
        if (state.status === 'none') return state;
        const { score, decision, reasons } = event.data;
        return { ...state, fraud: { score, decision, reasons } };
      }
      default: {
        const unknown: never = event;
        void unknown;
        return state;
      }
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'PlaceOrder': {
        if (state.status !== 'none') return [];                      // the same channel order again
        const total = command.data.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
        return [{ type: 'OrderPlaced', data: { ...command.data, total, placedAt: command.metadata.now } }];
      }
      case 'CancelOrder': {
        if (state.status === 'none') throw new NotFoundError('order.not_found', `Order ${command.data.orderId} does not exist`);
        if (state.status === 'cancelled') return [];
        return [{ type: 'OrderCancelled', data: { orderId: state.order.orderId, reason: command.data.reason, at: command.metadata.now } }];
      }
      case 'RecordFraudAssessment': {
        if (state.status === 'none') throw new NotFoundError('order.not_found', `Order ${command.data.orderId} does not exist`);
        if (state.fraud) return [];                                  // a retried scoring job
        const { score, decision, reasons } = command.data;
        return [{ type: 'FraudAssessed', data: { orderId: state.order.orderId, score, decision, reasons, at: command.metadata.now } }];
      }
      case 'RecordAllocation': {
        if (state.status === 'none') throw new NotFoundError('order.not_found', `Order ${command.data.orderId} does not exist`);
        if (state.status === 'cancelled') throw new ConflictError('order.cancelled', 'The order was cancelled: its reservations must be released');
        if (state.allocation) return [];
        const { orderId, allocations, transfers, cost, why, candidates } = command.data;
        return [{ type: 'OrderAllocated', data: { orderId, allocations, transfers, cost, why, candidates, at: command.metadata.now } }];
      }
      case 'RecordBackorder': {
        if (state.status === 'none') throw new NotFoundError('order.not_found', `Order ${command.data.orderId} does not exist`);
        if (state.status !== 'received' || state.allocation) return [];
        const { orderId, missing, why, candidates } = command.data;
        return [{ type: 'OrderBackordered', data: { orderId, missing, why, candidates, at: command.metadata.now } }];
      }
      default: {
        const unknown: never = command;
        throw new Error(`Unhandled command ${(unknown as OrderCommand).type}`);
      }
    }
  },
};

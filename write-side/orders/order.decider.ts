import { NotFoundError } from '../../platform/errors.js';
import type { Command, Decider } from '../decider.js';
import type { FraudAssessment, OrderEvent, PlacedOrder } from './order.events.js';

export type PlaceOrderData = Omit<PlacedOrder, 'total' | 'placedAt'>;

export type OrderCommand =
  | Command<'PlaceOrder', PlaceOrderData>
  | Command<'CancelOrder', { orderId: string; reason: string }>
  | Command<'RecordFraudAssessment', FraudAssessment & { orderId: string }>;

export type Order =
  | { status: 'none' }
  | { status: 'received'; order: PlacedOrder; fraud: FraudAssessment | null }
  | { status: 'cancelled'; order: PlacedOrder; fraud: FraudAssessment | null; cancellation: { reason: string; at: string } };

export const orderStream = (orderId: string): string => `order-${orderId}`;

export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState: { status: 'none' },

  evolve(state, event) {
    switch (event.type) {
      case 'OrderPlaced':
        return { status: 'received', order: event.data, fraud: null };
      case 'OrderCancelled':
        if (state.status === 'none') return state;
        return { status: 'cancelled', order: state.order, fraud: state.fraud, cancellation: { reason: event.data.reason, at: event.data.at } };
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
      default: {
        const unknown: never = command;
        throw new Error(`Unhandled command ${(unknown as OrderCommand).type}`);
      }
    }
  },
};

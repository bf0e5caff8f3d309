import { expect } from 'chai';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { stockDecider, type StockEvent } from '../../write-side/inventory/stock.decider.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

const given = specFor(stockDecider);
const key = { sku: 'SKU-1', locationId: 'wh-1' };
const received = (quantity: number): StockEvent => ({ type: 'StockReceived', data: { ...key, quantity, at: NOW } });

describe('stock ledger decider', () => {
  describe('an empty ledger', () => {
    it('records a receipt with its reference', () => {
      given([]).when({ type: 'ReceiveStock', data: { ...key, quantity: 5, reference: 'PO-1' }, metadata: meta() })
        .then([{ type: 'StockReceived', data: { ...key, quantity: 5, reference: 'PO-1', at: NOW } }]);
    });

    it('refuses a negative adjustment with 409', () => {
      given([]).when({ type: 'AdjustStock', data: { ...key, delta: -1, reason: 'damaged' }, metadata: meta() })
        .thenThrows(ConflictError, 'stock.negative_on_hand');
    });

    it('refuses a zero receipt', () => {
      given([]).when({ type: 'ReceiveStock', data: { ...key, quantity: 0 }, metadata: meta() })
        .thenThrows(ValidationError, 'stock.invalid_quantity');
    });
  });

  describe('a ledger with ten on hand', () => {
    it('records a downward adjustment with its reason', () => {
      given([received(10)]).when({ type: 'AdjustStock', data: { ...key, delta: -4, reason: 'cycle count' }, metadata: meta() })
        .then([{ type: 'StockAdjusted', data: { ...key, delta: -4, reason: 'cycle count', at: NOW } }]);
    });

    it('refuses an adjustment that would take on-hand below zero', () => {
      given([received(10)]).when({ type: 'AdjustStock', data: { ...key, delta: -11, reason: 'lost' }, metadata: meta() })
        .thenThrows(ConflictError, 'stock.negative_on_hand');
    });

    it('accepts an adjustment down to exactly zero', () => {
      given([received(10)]).when({ type: 'AdjustStock', data: { ...key, delta: -10, reason: 'recall' }, metadata: meta() })
        .then([{ type: 'StockAdjusted', data: { ...key, delta: -10, reason: 'recall', at: NOW } }]);
    });
  });

  describe('a ledger with units reserved', () => {
    it('refuses to take on-hand below what is reserved', () => {
      // No reservation events exist yet (sourcing adds them), so the state is given directly.
      const state = { onHand: 10, reserved: 8 };
      expect(() => stockDecider.decide({ type: 'AdjustStock', data: { ...key, delta: -3, reason: 'damaged' }, metadata: meta() }, state))
        .to.throw(ConflictError).with.property('code', 'stock.below_reserved');
    });
  });
});

import { expect } from 'chai';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import { available, stockDecider, type StockEvent } from '../../write-side/inventory/stock.decider.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

const given = specFor(stockDecider);
const key = { sku: 'SKU-1', locationId: 'wh-1' };
const at = { ...key, at: NOW };
const received = (quantity: number): StockEvent => ({ type: 'StockReceived', data: { ...at, quantity } });
const reserved = (orderId: string, quantity: number): StockEvent => ({ type: 'StockReserved', data: { ...at, orderId, quantity } });
const m = meta();

describe('stock ledger decider', () => {
  describe('an empty ledger', () => {
    it('records a receipt with its reference', () => {
      given([]).when({ type: 'ReceiveStock', data: { ...key, quantity: 5, reference: 'PO-1' }, metadata: m })
        .then([{ type: 'StockReceived', data: { ...at, quantity: 5, reference: 'PO-1' } }]);
    });

    it('refuses a negative adjustment with 409', () => {
      given([]).when({ type: 'AdjustStock', data: { ...key, delta: -1, reason: 'damaged' }, metadata: m }).thenThrows(ConflictError, 'stock.negative_on_hand');
    });

    it('refuses a zero receipt', () => {
      given([]).when({ type: 'ReceiveStock', data: { ...key, quantity: 0 }, metadata: m }).thenThrows(ValidationError, 'stock.invalid_quantity');
    });

    it('refuses a reservation: nothing is available', () => {
      given([]).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 1 }, metadata: m }).thenThrows(ConflictError, 'stock.insufficient');
    });
  });

  describe('a ledger with ten on hand', () => {
    it('records a downward adjustment with its reason', () => {
      given([received(10)]).when({ type: 'AdjustStock', data: { ...key, delta: -4, reason: 'cycle count' }, metadata: m })
        .then([{ type: 'StockAdjusted', data: { ...at, delta: -4, reason: 'cycle count' } }]);
    });

    it('refuses an adjustment that would take on-hand below zero', () => {
      given([received(10)]).when({ type: 'AdjustStock', data: { ...key, delta: -11, reason: 'lost' }, metadata: m }).thenThrows(ConflictError, 'stock.negative_on_hand');
    });

    it('reserves for an order, up to what is available', () => {
      given([received(10)]).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 10 }, metadata: m }).then([reserved('o-1', 10)]);
      given([received(10)]).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 11 }, metadata: m }).thenThrows(ConflictError, 'stock.insufficient');
    });

    it('moves stock out on a transfer, but not more than is available, nor to itself', () => {
      given([received(10)]).when({ type: 'TransferStockOut', data: { ...key, transferId: 't-1', to: 'store-1', quantity: 4 }, metadata: m })
        .then([{ type: 'StockTransferredOut', data: { ...at, transferId: 't-1', to: 'store-1', quantity: 4 } }]);
      given([received(10), reserved('o-1', 8)]).when({ type: 'TransferStockOut', data: { ...key, transferId: 't-1', to: 'store-1', quantity: 4 }, metadata: m })
        .thenThrows(ConflictError, 'stock.insufficient');
      given([received(10)]).when({ type: 'TransferStockOut', data: { ...key, transferId: 't-1', to: 'wh-1', quantity: 1 }, metadata: m })
        .thenThrows(ValidationError, 'stock.transfer_to_itself');
    });

    it('quarantines unreserved units, which are then not available', () => {
      given([received(10)]).when({ type: 'QuarantineStock', data: { ...key, quantity: 3, reason: 'water damage' }, metadata: m })
        .then([{ type: 'StockQuarantined', data: { ...at, quantity: 3, reason: 'water damage' } }]);
      const state = fold(stockDecider, [received(10), { type: 'StockQuarantined', data: { ...at, quantity: 3, reason: 'x' } }]);
      expect(available(state)).to.equal(7);
      given([received(10), reserved('o-1', 8)]).when({ type: 'QuarantineStock', data: { ...key, quantity: 3, reason: 'x' }, metadata: m })
        .thenThrows(ConflictError, 'stock.insufficient');
    });
  });

  describe('safety stock', () => {
    const history = [received(10), { type: 'SafetyStockSet', data: { ...at, quantity: 4 } } as StockEvent];

    it('is held back from reservations', () => {
      expect(available(fold(stockDecider, history))).to.equal(6);
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 7 }, metadata: m }).thenThrows(ConflictError, 'stock.insufficient');
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 6 }, metadata: m }).then([reserved('o-1', 6)]);
    });

    it('records nothing when set to the same quantity, and refuses a negative one', () => {
      given(history).when({ type: 'SetSafetyStock', data: { ...key, quantity: 4 }, metadata: m }).then([]);
      given(history).when({ type: 'SetSafetyStock', data: { ...key, quantity: -1 }, metadata: m }).thenThrows(ValidationError, 'stock.invalid_quantity');
    });
  });

  describe('a ledger with units reserved for an order', () => {
    const history = [received(10), reserved('o-1', 8)];

    it('refuses to adjust on-hand below what is reserved', () => {
      given(history).when({ type: 'AdjustStock', data: { ...key, delta: -3, reason: 'damaged' }, metadata: m }).thenThrows(ConflictError, 'stock.below_reserved');
    });

    it('records nothing when the same order reserves the same again (a retried allocation)', () => {
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 8 }, metadata: m }).then([]);
    });

    it('refuses the same order reserving a different quantity: what it holds must be released first', () => {
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 2 }, metadata: m }).thenThrows(ConflictError, 'stock.reserved_otherwise');
    });

    it('does not let a second order take more than what is left', () => {
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-2', quantity: 3 }, metadata: m }).thenThrows(ConflictError, 'stock.insufficient');
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-2', quantity: 2 }, metadata: m }).then([reserved('o-2', 2)]);
    });

    it('releases the whole reservation on cancellation, once', () => {
      given(history).when({ type: 'ReleaseReservation', data: { ...key, orderId: 'o-1', reason: 'order cancelled' }, metadata: m })
        .then([{ type: 'StockReservationReleased', data: { ...at, orderId: 'o-1', quantity: 8, reason: 'order cancelled' } }]);
      given([...history, { type: 'StockReservationReleased', data: { ...at, orderId: 'o-1', quantity: 8, reason: 'x' } }])
        .when({ type: 'ReleaseReservation', data: { ...key, orderId: 'o-1', reason: 'again' }, metadata: m }).then([]);
    });

    it('ships reserved units, which leave on-hand and reserved', () => {
      given(history).when({ type: 'ShipReservedStock', data: { ...key, orderId: 'o-1', quantity: 5 }, metadata: m })
        .then([{ type: 'StockShipped', data: { ...at, orderId: 'o-1', quantity: 5 } }]);
      const state = fold(stockDecider, [...history, { type: 'StockShipped', data: { ...at, orderId: 'o-1', quantity: 5 } }]);
      expect(state).to.include({ onHand: 5, reserved: 3 });
      expect(state.reservations.toJS()).to.deep.equal({ 'o-1': 3 });
      given(history).when({ type: 'ShipReservedStock', data: { ...key, orderId: 'o-2', quantity: 1 }, metadata: m }).thenThrows(ConflictError, 'stock.not_reserved');
    });

    it('takes a shipment off once: the same fulfilment handed over again takes nothing, another of the order\'s takes its own', () => {
      const shipped = { type: 'StockShipped' as const, data: { ...at, orderId: 'o-1', quantity: 2, fulfilmentId: 'f-1' } };
      given(history).when({ type: 'ShipReservedStock', data: { ...key, orderId: 'o-1', quantity: 2, fulfilmentId: 'f-1' }, metadata: m }).then([shipped]);
      given([...history, shipped]).when({ type: 'ShipReservedStock', data: { ...key, orderId: 'o-1', quantity: 2, fulfilmentId: 'f-1' }, metadata: m }).then([]);
      given([...history, shipped]).when({ type: 'ShipReservedStock', data: { ...key, orderId: 'o-1', quantity: 3, fulfilmentId: 'f-2' }, metadata: m })
        .then([{ type: 'StockShipped', data: { ...at, orderId: 'o-1', quantity: 3, fulfilmentId: 'f-2' } }]);
    });
  });

  describe('an order holding units here that is to hold more (a re-sourced part sent where it already has some)', () => {
    const history = [received(10), reserved('o-1', 2)];

    it('reserves the difference when the ledger holds what the order\'s record says', () => {
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 5, alreadyHeld: 2 }, metadata: m }).then([reserved('o-1', 3)]);
      const state = fold(stockDecider, [...history, reserved('o-1', 3)]);
      expect(state.reservations.toJS()).to.deep.equal({ 'o-1': 5 });
      expect(state.reserved).to.equal(5);
    });

    it('records nothing once the order holds the new total (a retry)', () => {
      given([...history, reserved('o-1', 3)]).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 5, alreadyHeld: 2 }, metadata: m }).then([]);
    });

    it('refuses when the ledger holds something else for the order', () => {
      given([...history, reserved('o-1', 1)]).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 5, alreadyHeld: 2 }, metadata: m })
        .thenThrows(ConflictError, 'stock.reserved_otherwise');
    });

    it('takes only the difference from what is available', () => {
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 10, alreadyHeld: 2 }, metadata: m }).then([reserved('o-1', 8)]);
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 11, alreadyHeld: 2 }, metadata: m }).thenThrows(ConflictError, 'stock.insufficient');
    });

    it('refuses a total that is not above what it already holds', () => {
      given(history).when({ type: 'ReserveStock', data: { ...key, orderId: 'o-1', quantity: 2, alreadyHeld: 2 }, metadata: m }).thenThrows(ValidationError, 'stock.invalid_quantity');
    });
  });

  describe('releasing part of a reservation', () => {
    const history = [received(10), reserved('o-1', 5)];
    const released = (quantity: number): StockEvent => ({ type: 'StockReservationReleased', data: { ...at, orderId: 'o-1', quantity, reason: 're-sourced' } });

    it('releases down to what the order keeps, and records nothing once it holds no more', () => {
      given(history).when({ type: 'ReleaseReservation', data: { ...key, orderId: 'o-1', reason: 're-sourced', keep: 2 }, metadata: m }).then([released(3)]);
      given([...history, released(3)]).when({ type: 'ReleaseReservation', data: { ...key, orderId: 'o-1', reason: 're-sourced', keep: 2 }, metadata: m }).then([]);
      given(history).when({ type: 'ReleaseReservation', data: { ...key, orderId: 'o-1', reason: 're-sourced', keep: 7 }, metadata: m }).then([]);
      const state = fold(stockDecider, [...history, released(3)]);
      expect(state).to.include({ reserved: 2 });
      expect(state.reservations.toJS()).to.deep.equal({ 'o-1': 2 });
    });

    it('refuses a negative or fractional quantity to keep', () => {
      given(history).when({ type: 'ReleaseReservation', data: { ...key, orderId: 'o-1', reason: 'x', keep: -1 }, metadata: m }).thenThrows(ValidationError, 'stock.invalid_quantity');
    });
  });

  describe('a short pick', () => {
    const history = [received(10), reserved('o-1', 3), reserved('o-2', 4)];
    const writeOff = (quantity: number, fulfilmentId = 'f-1') => ({ type: 'WriteOffShortPick' as const, data: { ...key, orderId: 'o-1', fulfilmentId, quantity }, metadata: m });
    const events = (quantity: number, fulfilmentId = 'f-1'): StockEvent[] => [
      { type: 'StockReservationReleased', data: { ...at, orderId: 'o-1', quantity, reason: 'short_pick' } },
      { type: 'StockAdjusted', data: { ...at, delta: -quantity, reason: 'short_pick', orderId: 'o-1', fulfilmentId } },
    ];

    it('releases the order\'s reservation of the missing units, then writes them off with reason short_pick', () => {
      given(history).when(writeOff(2)).then(events(2));
      const state = fold(stockDecider, [...history, ...events(2)]);
      expect(state).to.include({ onHand: 8, reserved: 5 });
      expect(state.reservations.toJS()).to.deep.equal({ 'o-1': 1, 'o-2': 4 });
    });

    it('never shows more reserved than on hand, even when every unit was reserved', () => {
      const full = [received(7), reserved('o-1', 3), reserved('o-2', 4)];
      let state = fold(stockDecider, full);
      for (const e of events(3)) {
        state = stockDecider.evolve(state, e);
        expect(state.reserved).to.be.at.most(state.onHand);
      }
      expect(state).to.include({ onHand: 4, reserved: 4 });
    });

    it('records nothing when the same fulfilment\'s short pick is written off again', () => {
      given([...history, ...events(2)]).when(writeOff(2)).then([]);
      given([...history, ...events(1)]).when(writeOff(1, 'f-2')).then(events(1, 'f-2'));
    });

    it('refuses to write off more than the order holds here', () => {
      given(history).when(writeOff(4)).thenThrows(ConflictError, 'stock.not_reserved');
      given(history).when(writeOff(0)).thenThrows(ValidationError, 'stock.invalid_quantity');
    });
  });

  describe('a transfer arriving', () => {
    it('adds to on-hand once, however often it is received', () => {
      const arrived: StockEvent = { type: 'StockTransferredIn', data: { ...at, transferId: 't-1', from: 'wh-2', quantity: 4 } };
      given([]).when({ type: 'TransferStockIn', data: { ...key, transferId: 't-1', from: 'wh-2', quantity: 4 }, metadata: m }).then([arrived]);
      given([arrived]).when({ type: 'TransferStockIn', data: { ...key, transferId: 't-1', from: 'wh-2', quantity: 4 }, metadata: m }).then([]);
    });
  });

  describe('an order\'s units sent to its pickup store', () => {
    const out = { ...key, transferId: 't-1', to: 'store-1', quantity: 2, orderId: 'o-1', fulfilmentId: 'f-t' };
    const sent: StockEvent = { type: 'StockTransferredOut', data: { ...at, transferId: 't-1', to: 'store-1', quantity: 2, orderId: 'o-1', fulfilmentId: 'f-t' } };
    const releasedForIt: StockEvent = { type: 'StockReservationReleased', data: { ...at, orderId: 'o-1', quantity: 2, reason: 'transferred' } };

    it('leave with the order\'s reservation of them: released first, then sent, never available on the way', () => {
      given([received(5), reserved('o-1', 2)]).when({ type: 'TransferStockOut', data: out, metadata: m }).then([releasedForIt, sent]);
      const after = fold(stockDecider, [received(5), reserved('o-1', 2), releasedForIt, sent]);
      expect([after.onHand, after.reserved, available(after)]).to.deep.equal([3, 0, 3]);
    });

    it('records nothing when sent again', () => {
      given([received(5), reserved('o-1', 2), releasedForIt, sent]).when({ type: 'TransferStockOut', data: out, metadata: m }).then([]);
    });

    it('leave from unreserved stock when the order no longer holds them (released as it closed while the parcel left)', () => {
      given([received(5)]).when({ type: 'TransferStockOut', data: out, metadata: m }).then([sent]);
      given([received(5), reserved('o-1', 1)]).when({ type: 'TransferStockOut', data: out, metadata: m })
        .then([{ ...releasedForIt, data: { ...releasedForIt.data, quantity: 1 } } as StockEvent, sent]);
    });

    it('refuses to send units held for other orders with 409', () => {
      given([received(2), reserved('o-2', 2)]).when({ type: 'TransferStockOut', data: out, metadata: m }).thenThrows(ConflictError, 'stock.insufficient');
    });

    it('arrive reserved for the order, once', () => {
      const inKey = { sku: 'SKU-1', locationId: 'wh-1' };
      const arrivedForIt: StockEvent[] = [
        { type: 'StockTransferredIn', data: { ...at, transferId: 't-1', from: 'wh-2', quantity: 2, orderId: 'o-1', fulfilmentId: 'f-t' } },
        { type: 'StockReserved', data: { ...at, orderId: 'o-1', quantity: 2 } },
      ];
      const command = { type: 'TransferStockIn' as const, data: { ...inKey, transferId: 't-1', from: 'wh-2', quantity: 2, orderId: 'o-1', fulfilmentId: 'f-t' }, metadata: m };
      given([received(1)]).when(command).then(arrivedForIt);
      given([received(1), ...arrivedForIt]).when(command).then([]);
      const after = fold(stockDecider, [received(1), ...arrivedForIt]);
      expect([after.onHand, after.reserved, available(after), after.reservations.get('o-1')]).to.deep.equal([3, 2, 1, 2]);
    });

    it('arrive unreserved for an order that closed on the way: the store\'s to sell', () => {
      given([]).when({ type: 'TransferStockIn', data: { ...key, transferId: 't-1', from: 'wh-2', quantity: 2, fulfilmentId: 'f-t' }, metadata: m })
        .then([{ type: 'StockTransferredIn', data: { ...at, transferId: 't-1', from: 'wh-2', quantity: 2, fulfilmentId: 'f-t' } }]);
    });
  });

  describe('a stock transfer sent', () => {
    it('takes available units and records nothing when sent again under the same id', () => {
      const sent: StockEvent = { type: 'StockTransferredOut', data: { ...at, transferId: 't-9', to: 'wh-2', quantity: 3 } };
      given([received(5)]).when({ type: 'TransferStockOut', data: { ...key, transferId: 't-9', to: 'wh-2', quantity: 3 }, metadata: m }).then([sent]);
      given([received(5), sent]).when({ type: 'TransferStockOut', data: { ...key, transferId: 't-9', to: 'wh-2', quantity: 3 }, metadata: m }).then([]);
      given([received(5), reserved('o-1', 3)]).when({ type: 'TransferStockOut', data: { ...key, transferId: 't-8', to: 'wh-2', quantity: 3 }, metadata: m })
        .thenThrows(ConflictError, 'stock.insufficient');
    });
  });

  describe('returned units', () => {
    it('go back on hand with their reference', () => {
      given([]).when({ type: 'ReturnStock', data: { ...key, quantity: 1, reference: 'RMA-9' }, metadata: m })
        .then([{ type: 'StockReturned', data: { ...at, quantity: 1, reference: 'RMA-9' } }]);
    });
  });
});

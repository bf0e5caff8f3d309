import { expect } from 'chai';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import { fulfilmentDecider, transferIdFor, type FulfilmentCommand } from '../../write-side/fulfilments/fulfilment.decider.js';
import type { FulfilmentEvent, FulfilmentLine, InboundTransfer, PackageSpec, ShipmentLabel } from '../../write-side/fulfilments/fulfilment.events.js';
import { awaitedTransfers, holdsStock, statusAfter, type ExistingFulfilment } from '../../write-side/fulfilments/fulfilment.state.js';
import type { Delivery } from '../../write-side/orders/order.events.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

// A pickup whose store holds 1 of 3 units: the other 2 come from wh-1 on a transfer fulfilment,
// which the pickup at store-1 waits for before it is picked or ready.

const given = specFor(fulfilmentDecider);

const T = 't-1';
const P = 'p-1';
const atStore: Delivery = { method: 'pickup', locationId: 'store-1' };
const two: FulfilmentLine[] = [{ sku: 'SKU-1', quantity: 2 }];
const three: FulfilmentLine[] = [{ sku: 'SKU-1', quantity: 3 }];
const route = { to: 'store-1', pickupFulfilmentId: P };
const tIds = (now = NOW) => ({ fulfilmentId: T, orderId: 'o-1', locationId: 'wh-1', at: now });
const pIds = (now = NOW) => ({ fulfilmentId: P, orderId: 'o-1', locationId: 'store-1', at: now });
const fromWh1: InboundTransfer = { fulfilmentId: T, from: 'wh-1', lines: two };

const transferCreated: FulfilmentEvent = { type: 'FulfilmentCreated', data: { ...tIds(), kind: 'transfer', lines: two, delivery: atStore, allocationSeq: 0, transfer: route } };
const transferPicked: FulfilmentEvent = { type: 'FulfilmentPicked', data: { ...tIds(), picked: two, short: [] } };
const box: PackageSpec = { weightGrams: 900, lengthCm: 30, widthCm: 20, heightCm: 10, lines: two };
const transferPacked: FulfilmentEvent = { type: 'FulfilmentPacked', data: { ...tIds(), packages: [box] } };
const transferShipped: FulfilmentEvent = { type: 'TransferShipped', data: { ...tIds(), ...route, lines: two } };
const transferReceived: FulfilmentEvent = { type: 'TransferReceived', data: { ...tIds(), ...route, lines: two } };
const transferCancelled: FulfilmentEvent = { type: 'FulfilmentCancelled', data: { ...tIds(), reason: 'order cancelled' } };

const pickupCreated: FulfilmentEvent = { type: 'FulfilmentCreated', data: { ...pIds(), kind: 'pickup', lines: three, delivery: atStore, allocationSeq: 0, inbound: [fromWh1] } };
const arrived = (l: FulfilmentLine[] = two): FulfilmentEvent => ({ type: 'PickupTransferArrived', data: { ...pIds(), transferId: T, from: 'wh-1', lines: l } });
const dropped: FulfilmentEvent = { type: 'PickupTransferDropped', data: { ...pIds(), transferId: T, from: 'wh-1', lines: two, reason: 'rejected at wh-1: too busy' } };
const pickupPicked = (l: FulfilmentLine[]): FulfilmentEvent => ({ type: 'FulfilmentPicked', data: { ...pIds(), picked: l, short: [] } });
const fromWh2: InboundTransfer = { fulfilmentId: 't-2', from: 'wh-2', lines: [{ sku: 'SKU-1', quantity: 2 }] };
const extended: FulfilmentEvent = { type: 'PickupExtended', data: { ...pIds(), allocationSeq: 1, lines: [{ sku: 'SKU-1', quantity: 2 }], inbound: [fromWh2] } };

const on = (fulfilmentId: string) => ({ metadata: meta(), data: { fulfilmentId } });
const createTransfer: FulfilmentCommand = {
  type: 'CreateFulfilment', data: { fulfilmentId: T, orderId: 'o-1', locationId: 'wh-1', kind: 'transfer', lines: two, delivery: atStore, allocationSeq: 0, transfer: route }, metadata: meta(),
};
const createPickup: FulfilmentCommand = {
  type: 'CreateFulfilment', data: { fulfilmentId: P, orderId: 'o-1', locationId: 'store-1', kind: 'pickup', lines: three, delivery: atStore, allocationSeq: 0, inbound: [fromWh1] }, metadata: meta(),
};
const ship: FulfilmentCommand = { type: 'ShipFulfilment', ...on(T) };
const receive: FulfilmentCommand = { type: 'ReceiveTransfer', ...on(T) };
const pickAt = (fulfilmentId: string, l: FulfilmentLine[]): FulfilmentCommand => ({ type: 'RecordPick', data: { fulfilmentId, lines: l }, metadata: meta() });
const arrival = (l: FulfilmentLine[] = two, transferId = T): FulfilmentCommand => ({ type: 'RecordTransferArrival', data: { fulfilmentId: P, transferId, lines: l }, metadata: meta() });
const drop: FulfilmentCommand = { type: 'DropTransfer', data: { fulfilmentId: P, transferId: T, reason: 'rejected at wh-1: too busy' }, metadata: meta() };
const extend: FulfilmentCommand = { type: 'ExtendPickup', data: { fulfilmentId: P, allocationSeq: 1, lines: [{ sku: 'SKU-1', quantity: 2 }], inbound: [fromWh2] }, metadata: meta() };
const ready: FulfilmentCommand = { type: 'MarkReadyForPickup', data: { fulfilmentId: P, code: '123456', expiresAt: '2026-11-29T10:00:00.000Z' }, metadata: meta() };
const rejectPickup: FulfilmentCommand = { type: 'RejectFulfilment', data: { fulfilmentId: P, reason: 'too busy' }, metadata: meta() };
const label: ShipmentLabel = {
  shipmentId: T, carrierId: 'parcelnet', service: 'ground', trackingNumber: 'PN1', labelUrl: 'https://labels.example/PN1.pdf', cost: 500, currency: 'EUR',
  estimatedDelivery: '2026-11-30', choice: { why: 'cheapest', quotes: [], unavailable: [] },
};

const stateOf = (events: FulfilmentEvent[]) => fold(fulfilmentDecider, events) as ExistingFulfilment;

describe('transfers to a pickup store (fulfilment decider)', () => {
  describe('creating a transfer', () => {
    it('is created with the pickup store and the pickup waiting for it', () => {
      given([]).when(createTransfer).then([transferCreated]);
    });

    it('refuses a transfer without a route, a route to where it is, or a route on another kind, with 400', () => {
      const { transfer: _route, ...noRoute } = createTransfer.data as Extract<FulfilmentCommand, { type: 'CreateFulfilment' }>['data'];
      given([]).when({ ...createTransfer, data: noRoute } as FulfilmentCommand).thenThrows(ValidationError, 'fulfilment.invalid_transfer');
      given([]).when({ ...createTransfer, data: { ...createTransfer.data, transfer: { ...route, to: 'wh-1' } } } as FulfilmentCommand)
        .thenThrows(ValidationError, 'fulfilment.invalid_transfer');
      given([]).when({ ...createPickup, data: { ...createPickup.data, transfer: route } } as FulfilmentCommand).thenThrows(ValidationError, 'fulfilment.invalid_transfer');
    });
  });

  describe('a transfer, worked like a shipment', () => {
    it('is picked and packed as a shipment is', () => {
      given([transferCreated]).when(pickAt(T, two)).then([transferPicked]);
      given([transferCreated, transferPicked]).when({ type: 'PackFulfilment', data: { fulfilmentId: T, packages: [box] }, metadata: meta() }).then([transferPacked]);
    });

    it('leaves once packed, with the store replenishment run: what was picked goes to the pickup store', () => {
      given([transferCreated, transferPicked, transferPacked]).when(ship).then([transferShipped]);
      expect(stateOf([transferCreated, transferPicked, transferPacked, transferShipped]).status).to.equal('in_transit');
    });

    it('refuses to leave before it is packed with 409, and records nothing when sent again', () => {
      given([transferCreated, transferPicked]).when(ship).thenThrows(ConflictError, 'fulfilment.not_packed');
      given([transferCreated, transferPicked, transferPacked, transferShipped]).when(ship).then([]);
      given([transferCreated, transferPicked, transferPacked, transferShipped, transferReceived]).when(ship).then([]);
    });

    it('has no carrier label, choice or tracking: 409', () => {
      const history = [transferCreated, transferPicked, transferPacked];
      given(history).when({ type: 'RecordLabel', data: { fulfilmentId: T, label }, metadata: meta() }).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
      given(history).when({ type: 'RecordCarrierChoice', data: { fulfilmentId: T, decision: {} as never }, metadata: meta() }).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
      given(history).when({
        type: 'RecordTracking', data: { fulfilmentId: T, update: { carrierId: 'parcelnet', trackingNumber: 'PN1', status: 'delivered', at: NOW } }, metadata: meta(),
      }).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
    });

    it('is cancelled with the order while still at its location, but not once on its way (409)', () => {
      const cancel: FulfilmentCommand = { type: 'CancelFulfilment', data: { fulfilmentId: T, reason: 'order cancelled' }, metadata: meta() };
      given([transferCreated, transferPicked, transferPacked]).when(cancel).then([transferCancelled]);
      given([transferCreated, transferPicked, transferPacked, transferShipped]).when(cancel).thenThrows(ConflictError, 'fulfilment.in_transit');
    });
  });

  describe('receiving a transfer at the pickup store', () => {
    it('records it received once it is on its way, and nothing when received again', () => {
      given([transferCreated, transferPicked, transferPacked, transferShipped]).when(receive).then([transferReceived]);
      given([transferCreated, transferPicked, transferPacked, transferShipped, transferReceived]).when(receive).then([]);
    });

    it('refuses one that has not left with 409, and one cancelled with its order', () => {
      given([transferCreated, transferPicked, transferPacked]).when(receive).thenThrows(ConflictError, 'fulfilment.not_shipped');
      given([transferCreated, transferCancelled]).when(receive).thenThrows(ConflictError, 'fulfilment.cancelled');
    });

    it('refuses receiving a pickup or a shipment as a transfer with 409', () => {
      given([pickupCreated]).when({ type: 'ReceiveTransfer', ...on(P) }).thenThrows(ConflictError, 'fulfilment.not_a_transfer');
    });

    it('names one stock transfer per SKU of the fulfilment', () => {
      expect(transferIdFor(T, 'SKU-1')).to.equal(transferIdFor(T, 'SKU-1'));
      expect(transferIdFor(T, 'SKU-2')).to.not.equal(transferIdFor(T, 'SKU-1'));
      expect(transferIdFor(T, 'SKU-1')).to.match(/^[0-9a-f-]{36}$/);
    });
  });

  describe('a pickup waiting for a transfer', () => {
    it('is created holding its own units and the transfer\'s', () => {
      given([]).when(createPickup).then([pickupCreated]);
      expect(awaitedTransfers(stateOf([pickupCreated]))).to.deep.equal([{ ...fromWh1, status: 'awaited' }]);
    });

    it('refuses transfers bringing more than the pickup holds with 400', () => {
      given([]).when({ ...createPickup, data: { ...createPickup.data, lines: [{ sku: 'SKU-1', quantity: 1 }] } } as FulfilmentCommand)
        .thenThrows(ValidationError, 'fulfilment.invalid_transfer');
    });

    it('refuses to be picked, rejected or made ready until the transfer arrives, with 409 fulfilment.awaiting_transfer', () => {
      given([pickupCreated]).when(pickAt(P, three)).thenThrows(ConflictError, 'fulfilment.awaiting_transfer');
      given([pickupCreated]).when(pickAt(P, [{ sku: 'SKU-1', quantity: 1 }])).thenThrows(ConflictError, 'fulfilment.awaiting_transfer');
      given([pickupCreated]).when(rejectPickup).thenThrows(ConflictError, 'fulfilment.awaiting_transfer');
      given([pickupCreated]).when(ready).thenThrows(ConflictError, 'fulfilment.awaiting_transfer');
    });

    it('records the transfer arrived with what it brought, once', () => {
      given([pickupCreated]).when(arrival()).then([arrived()]);
      given([pickupCreated, arrived()]).when(arrival()).then([]);
    });

    it('refuses an arrival of a transfer it does not wait for, or of more than expected, with 409', () => {
      given([pickupCreated]).when(arrival(two, 't-9')).thenThrows(ConflictError, 'fulfilment.unknown_transfer');
      given([pickupCreated]).when(arrival(three)).thenThrows(ConflictError, 'fulfilment.more_than_expected');
      given([pickupCreated]).when(arrival([{ sku: 'SKU-2', quantity: 1 }])).thenThrows(ConflictError, 'fulfilment.more_than_expected');
    });

    it('is picked, with its own units and the ones that arrived, and made ready once every transfer is in', () => {
      given([pickupCreated, arrived()]).when(pickAt(P, three)).then([pickupPicked(three)]);
      given([pickupCreated, arrived(), pickupPicked(three)]).when(ready)
        .then([{ type: 'FulfilmentReadyForPickup', data: { ...pIds(), code: '123456', readyAt: NOW, expiresAt: '2026-11-29T10:00:00.000Z' } }]);
    });

    it('asks for only what arrived when a transfer brings fewer units (short-picked where it came from)', () => {
      const history = [pickupCreated, arrived([{ sku: 'SKU-1', quantity: 1 }])];
      expect(stateOf(history).lines).to.deep.equal([{ sku: 'SKU-1', quantity: 2 }]);
      given(history).when(pickAt(P, three)).thenThrows(ConflictError, 'fulfilment.pick_exceeds_lines');
      given(history).when(pickAt(P, [{ sku: 'SKU-1', quantity: 2 }])).then([pickupPicked([{ sku: 'SKU-1', quantity: 2 }])]);
    });

    it('drops a transfer that will not come: its units are no longer asked for', () => {
      given([pickupCreated]).when(drop).then([dropped]);
      given([pickupCreated, dropped]).when(drop).then([]);
      expect(stateOf([pickupCreated, dropped]).lines).to.deep.equal([{ sku: 'SKU-1', quantity: 1 }]);
      given([pickupCreated, dropped]).when(pickAt(P, [{ sku: 'SKU-1', quantity: 1 }])).then([pickupPicked([{ sku: 'SKU-1', quantity: 1 }])]);
    });

    it('refuses the arrival of a dropped transfer, and dropping one that arrived, with 409', () => {
      given([pickupCreated, dropped]).when(arrival()).thenThrows(ConflictError, 'fulfilment.transfer_dropped');
      given([pickupCreated, arrived()]).when(drop).thenThrows(ConflictError, 'fulfilment.transfer_arrived');
    });

    it('refuses an arrival once cancelled with its order (the units are the store\'s to sell)', () => {
      given([pickupCreated, { type: 'FulfilmentCancelled', data: { ...pIds(), reason: 'order cancelled' } }]).when(arrival()).thenThrows(ConflictError, 'fulfilment.cancelled');
    });
  });

  describe('a re-allocation for a pickup waiting for transfers', () => {
    it('joins it while it is not picked: its lines and transfers are added, once', () => {
      given([pickupCreated, dropped]).when(extend).then([extended]);
      given([pickupCreated, dropped, extended]).when(extend).then([]);
      const s = stateOf([pickupCreated, extended, dropped]);
      expect(s.lines).to.deep.equal(three);
      expect(awaitedTransfers(s).map((t) => t.fulfilmentId)).to.deep.equal(['t-2']);
      expect(s.allocationSeqs).to.deep.equal([0, 1]);
    });

    it('keeps the pickup waiting for the transfers it added', () => {
      given([pickupCreated, extended, dropped]).when(pickAt(P, three)).thenThrows(ConflictError, 'fulfilment.awaiting_transfer');
    });

    it('refuses to join a pickup already picked with 409, so the re-sourced lines get a pickup of their own', () => {
      given([pickupCreated, arrived(), pickupPicked(three)]).when(extend).thenThrows(ConflictError, 'fulfilment.already_picked');
    });

    it('refuses to extend a transfer or a shipment with 409', () => {
      given([transferCreated]).when({ ...extend, data: { ...extend.data, fulfilmentId: T } } as FulfilmentCommand).thenThrows(ConflictError, 'fulfilment.not_a_pickup');
    });
  });

  describe('what follows from a transfer', () => {
    it('holds no stock at its location once on its way, nor once received', () => {
      expect(holdsStock('in_transit')).to.equal(false);
      expect(holdsStock('received')).to.equal(false);
    });

    it('gives each event the status evolve moves the fulfilment to', () => {
      const journeys: FulfilmentEvent[][] = [
        [transferCreated, transferPicked, transferPacked, transferShipped, transferReceived],
        [pickupCreated, extended, dropped, { type: 'PickupTransferArrived', data: { ...pIds(), transferId: 't-2', from: 'wh-2', lines: fromWh2.lines } }],
      ];
      for (const journey of journeys) {
        let state = fulfilmentDecider.initialState;
        for (const event of journey) {
          const before = state.status;
          state = fulfilmentDecider.evolve(state, event);
          expect(state.status, event.type).to.equal(statusAfter(event) ?? before);
        }
      }
    });
  });
});

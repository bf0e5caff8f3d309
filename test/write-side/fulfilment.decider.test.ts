import { expect } from 'chai';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import {
  fulfilmentDecider, fulfilmentIdFor, fulfilmentStream, withPurchaseAttempt, type FulfilmentCommand,
} from '../../write-side/fulfilments/fulfilment.decider.js';
import type {
  CarrierDecision, FulfilmentEvent, FulfilmentLine, LabelFailureCode, PackageSpec, ShipmentLabel, ShipmentStatus, TrackingUpdate,
} from '../../write-side/fulfilments/fulfilment.events.js';
import {
  carriersToSkip, FULFILMENT_STATUSES, holdsStock, labelFailureAfter, linesToResource, shipmentStatus, statusAfter,
} from '../../write-side/fulfilments/fulfilment.state.js';
import type { Delivery } from '../../write-side/orders/order.events.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

const given = specFor(fulfilmentDecider);

const F = 'f-1';
const LATER = '2026-11-26T11:00:00.000Z';
const shipTo: Delivery = { method: 'ship', speed: 'standard', address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' } };
const lines: FulfilmentLine[] = [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }];
const ids = { fulfilmentId: F, orderId: 'o-1', locationId: 'wh-1' };
const at = (now = NOW) => ({ ...ids, at: now });

const created: FulfilmentEvent = { type: 'FulfilmentCreated', data: { ...at(), kind: 'ship', lines, delivery: shipTo, allocationSeq: 0 } };
const pickupCreated: FulfilmentEvent = {
  type: 'FulfilmentCreated', data: { ...at(), kind: 'pickup', lines, delivery: { method: 'pickup', locationId: 'wh-1' }, allocationSeq: 0 },
};
const picked = (p: FulfilmentLine[], short: FulfilmentLine[] = []): FulfilmentEvent => ({ type: 'FulfilmentPicked', data: { ...at(), picked: p, short } });
const pickedAll = picked(lines);
const box = (l: FulfilmentLine[], weightGrams = 1200): PackageSpec => ({ weightGrams, lengthCm: 30, widthCm: 20, heightCm: 10, lines: l });
const packages = [box([{ sku: 'SKU-1', quantity: 2 }]), box([{ sku: 'SKU-2', quantity: 1 }], 400)];
const packed: FulfilmentEvent = { type: 'FulfilmentPacked', data: { ...at(), packages } };
const label: ShipmentLabel = {
  shipmentId: F, carrierId: 'parcelnet', service: 'ground', trackingNumber: 'PN123', labelUrl: 'https://labels.example/PN123.pdf', cost: 795,
  currency: 'USD', estimatedDelivery: '2026-11-30', choice: { why: 'cheapest within 5 days', quotes: [], unavailable: ['jetexpress'] },
};
const labelled: FulfilmentEvent = { type: 'FulfilmentLabelled', data: { ...at(), label } };
const shipped: FulfilmentEvent = { type: 'FulfilmentShipped', data: { ...at(), lines, trackingNumber: 'PN123', carrierId: 'parcelnet' } };
const update = (status: ShipmentStatus, when: string, more: Partial<TrackingUpdate> = {}): TrackingUpdate => ({ carrierId: 'parcelnet', trackingNumber: 'PN123', status, at: when, ...more });
const tracked = (status: ShipmentStatus, when: string, moved = true): FulfilmentEvent => ({
  type: 'ShipmentTracked', data: { fulfilmentId: F, orderId: 'o-1', shipmentId: F, ...update(status, when), moved },
});
const EXPIRES = '2026-11-29T10:00:00.000Z';
const ready: FulfilmentEvent = { type: 'FulfilmentReadyForPickup', data: { ...at(), code: '482913', readyAt: NOW, expiresAt: EXPIRES } };
const collected: FulfilmentEvent = { type: 'FulfilmentCollected', data: { ...at(), lines } };
const expired: FulfilmentEvent = { type: 'FulfilmentExpired', data: { ...at(EXPIRES), lines } };
const cancelled: FulfilmentEvent = { type: 'FulfilmentCancelled', data: { ...at(), reason: 'order cancelled' } };
const rejected: FulfilmentEvent = { type: 'FulfilmentRejected', data: { ...at(), reason: 'too busy', lines } };

const create: FulfilmentCommand = { type: 'CreateFulfilment', data: { ...ids, kind: 'ship', lines, delivery: shipTo, allocationSeq: 0 }, metadata: meta() };
const pick = (l: FulfilmentLine[]): FulfilmentCommand => ({ type: 'RecordPick', data: { fulfilmentId: F, lines: l }, metadata: meta() });
const reject: FulfilmentCommand = { type: 'RejectFulfilment', data: { fulfilmentId: F, reason: 'too busy' }, metadata: meta() };
const pack = (p: PackageSpec[]): FulfilmentCommand => ({ type: 'PackFulfilment', data: { fulfilmentId: F, packages: p }, metadata: meta() });
const recordLabel = (l: ShipmentLabel): FulfilmentCommand => ({ type: 'RecordLabel', data: { fulfilmentId: F, label: l }, metadata: meta() });
const ship: FulfilmentCommand = { type: 'ShipFulfilment', data: { fulfilmentId: F }, metadata: meta() };
const track = (u: TrackingUpdate): FulfilmentCommand => ({ type: 'RecordTracking', data: { fulfilmentId: F, update: u }, metadata: meta() });
const markReady = (code = '482913', expiresAt = EXPIRES): FulfilmentCommand => ({ type: 'MarkReadyForPickup', data: { fulfilmentId: F, code, expiresAt }, metadata: meta() });
const collect = (code: string): FulfilmentCommand => ({ type: 'CollectFulfilment', data: { fulfilmentId: F, code }, metadata: meta() });
const expire = (now: string): FulfilmentCommand => ({ type: 'ExpirePickup', data: { fulfilmentId: F }, metadata: meta(now) });
const cancel: FulfilmentCommand = { type: 'CancelFulfilment', data: { fulfilmentId: F, reason: 'order cancelled' }, metadata: meta() };

const decision = (attempt: number, carrierId = 'parcelnet'): CarrierDecision => ({
  attempt, quote: { carrierId, service: 'ground', amount: 795, currency: 'USD', transitDays: 3, estimatedDelivery: '2026-11-30' },
  choice: { why: `${carrierId} is cheapest`, quotes: [], unavailable: [] }, from: { locationId: 'wh-1', geo: { lat: 40, lon: -74 }, cutoffHour: 16 }, readyAt: NOW,
});
const choose = (d: CarrierDecision): FulfilmentCommand => ({ type: 'RecordCarrierChoice', data: { fulfilmentId: F, decision: d }, metadata: meta() });
const chosen = (d: CarrierDecision): FulfilmentEvent => ({ type: 'FulfilmentCarrierChosen', data: { ...at(), decision: d } });
const refusal = { attempt: 1, carrierId: 'parcelnet', service: 'ground', code: 'service_not_offered', reason: 'not to this address' };
const refuse = (r = refusal): FulfilmentCommand => ({ type: 'RecordLabelRefusal', data: { fulfilmentId: F, ...r }, metadata: meta() });
const refused = (r = refusal): FulfilmentEvent => ({ type: 'LabelPurchaseRefused', data: { ...at(), ...r } });
const failLabel = (code: LabelFailureCode, carrierId: string | null = null): FulfilmentCommand => ({
  type: 'RecordLabelFailure', data: { fulfilmentId: F, carrierId, code, reason: `${code}!` }, metadata: meta(),
});
const labelFailed = (code: LabelFailureCode, attempt: number, refusedBy: string[], carrierId: string | null = null): FulfilmentEvent => ({
  type: 'LabelPurchaseFailed', data: { ...at(), attempt, carrierId, code, reason: `${code}!`, refusedBy },
});
const voidLabel: FulfilmentCommand = { type: 'RecordLabelCancellation', data: { fulfilmentId: F, carrierId: 'parcelnet', trackingNumber: 'PN123' }, metadata: meta() };
const labelCancelled: FulfilmentEvent = { type: 'LabelCancelled', data: { ...at(), carrierId: 'parcelnet', trackingNumber: 'PN123' } };
const refuseVoid: FulfilmentCommand = {
  type: 'RecordLabelCancellationRefusal', data: { fulfilmentId: F, carrierId: 'parcelnet', trackingNumber: 'PN123', code: 'already_handed_over', reason: 'on its way' }, metadata: meta(),
};
const voidRefused: FulfilmentEvent = {
  type: 'LabelCancellationRefused', data: { ...at(), carrierId: 'parcelnet', trackingNumber: 'PN123', code: 'already_handed_over', reason: 'on its way' },
};

describe('fulfilment decider', () => {
  describe('ids', () => {
    it('derives the same fulfilment id for the same allocation at the same location, another for the next allocation or location', () => {
      expect(fulfilmentIdFor('o-1', 0, 'wh-1')).to.equal(fulfilmentIdFor('o-1', 0, 'wh-1'));
      expect(fulfilmentIdFor('o-1', 1, 'wh-1')).to.not.equal(fulfilmentIdFor('o-1', 0, 'wh-1'));
      expect(fulfilmentIdFor('o-1', 0, 'wh-2')).to.not.equal(fulfilmentIdFor('o-1', 0, 'wh-1'));
      expect(fulfilmentIdFor('o-1', 0, 'wh-1')).to.match(/^[0-9a-f-]{36}$/);
      expect(fulfilmentStream('abc')).to.equal('fulfilment-abc');
    });
  });

  describe('a fulfilment that does not exist', () => {
    it('is created with its lines, delivery and allocation', () => {
      given([]).when(create).then([created]);
    });

    it('adds up a SKU listed twice', () => {
      given([]).when({ ...create, data: { ...create.data, lines: [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }, { sku: 'SKU-1', quantity: 1 }] } } as FulfilmentCommand)
        .then([created]);
    });

    it('refuses no lines or a quantity that is not a positive whole number with 400', () => {
      given([]).when({ ...create, data: { ...create.data, lines: [] } } as FulfilmentCommand).thenThrows(ValidationError, 'fulfilment.no_lines');
      given([]).when({ ...create, data: { ...create.data, lines: [{ sku: 'SKU-1', quantity: 0 }] } } as FulfilmentCommand).thenThrows(ValidationError, 'fulfilment.invalid_quantity');
      given([]).when({ ...create, data: { ...create.data, lines: [{ sku: 'SKU-1', quantity: 1.5 }] } } as FulfilmentCommand).thenThrows(ValidationError, 'fulfilment.invalid_quantity');
    });

    it('answers every other command with 404', () => {
      for (const command of [pick(lines), reject, pack(packages), recordLabel(label), ship, track(update('in_transit', NOW)), markReady(), collect('1'), expire(EXPIRES), cancel]) {
        given([]).when(command).thenThrows(NotFoundError, 'fulfilment.not_found');
      }
    });
  });

  describe('a pending fulfilment', () => {
    it('records nothing when created again (the process manager after a restart)', () => {
      given([created]).when({ ...create, data: { ...create.data, lines: [{ sku: 'X', quantity: 9 }] } } as FulfilmentCommand).then([]);
    });

    it('records a full pick with nothing short', () => {
      given([created]).when(pick(lines)).then([pickedAll]);
    });

    it('records a short pick: a line picked in part is in both lists, a line not mentioned is all short', () => {
      given([created]).when(pick([{ sku: 'SKU-1', quantity: 1 }]))
        .then([picked([{ sku: 'SKU-1', quantity: 1 }], [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }])]);
    });

    it('records a pick of nothing at all as all short', () => {
      given([created]).when(pick([{ sku: 'SKU-1', quantity: 0 }])).then([picked([], lines)]);
      given([created]).when(pick([])).then([picked([], lines)]);
    });

    it('adds up a SKU picked in two lines', () => {
      given([created]).when(pick([{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }, { sku: 'SKU-1', quantity: 1 }])).then([pickedAll]);
    });

    it('refuses picking more than asked, or a SKU not asked for, with 409', () => {
      given([created]).when(pick([{ sku: 'SKU-1', quantity: 3 }])).thenThrows(ConflictError, 'fulfilment.pick_exceeds_lines');
      given([created]).when(pick([{ sku: 'SKU-9', quantity: 1 }])).thenThrows(ConflictError, 'fulfilment.pick_exceeds_lines');
      given([created]).when(pick([{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-1', quantity: 2 }])).thenThrows(ConflictError, 'fulfilment.pick_exceeds_lines');
    });

    it('refuses a negative or fractional picked quantity with 400', () => {
      given([created]).when(pick([{ sku: 'SKU-1', quantity: -1 }])).thenThrows(ValidationError, 'fulfilment.invalid_quantity');
      given([created]).when(pick([{ sku: 'SKU-1', quantity: 0.5 }])).thenThrows(ValidationError, 'fulfilment.invalid_quantity');
    });

    it('is rejected with all its lines, to be sourced elsewhere', () => {
      given([created]).when(reject).then([rejected]);
    });

    it('cannot be packed, labelled or shipped before it is picked', () => {
      given([created]).when(pack(packages)).thenThrows(ConflictError, 'fulfilment.not_picked');
      given([created]).when(recordLabel(label)).thenThrows(ConflictError, 'fulfilment.not_packed');
      given([created]).when(ship).thenThrows(ConflictError, 'fulfilment.not_labelled');
      given([created]).when(track(update('in_transit', NOW))).thenThrows(ConflictError, 'fulfilment.not_labelled');
    });

    it('is cancelled with the reason', () => {
      given([created]).when(cancel).then([cancelled]);
    });
  });

  describe('a picked fulfilment', () => {
    it('records nothing when the same pick comes again, and refuses another with 409', () => {
      given([created, pickedAll]).when(pick(lines)).then([]);
      given([created, pickedAll]).when(pick([{ sku: 'SKU-1', quantity: 1 }])).thenThrows(ConflictError, 'fulfilment.already_picked');
      given([created, pickedAll, packed]).when(pick(lines)).then([]);
    });

    it('is packed when the packages hold every unit picked', () => {
      given([created, pickedAll]).when(pack(packages)).then([packed]);
    });

    it('refuses packages holding more than was picked, or leaving picked units out, with 409', () => {
      given([created, pickedAll]).when(pack([box([{ sku: 'SKU-1', quantity: 2 }]), box([{ sku: 'SKU-2', quantity: 1 }, { sku: 'SKU-1', quantity: 1 }])]))
        .thenThrows(ConflictError, 'fulfilment.packed_more_than_picked');
      given([created, pickedAll]).when(pack([box([{ sku: 'SKU-1', quantity: 2 }])])).thenThrows(ConflictError, 'fulfilment.not_all_packed');
    });

    it('packs only what a short pick found', () => {
      const short = picked([{ sku: 'SKU-1', quantity: 1 }], [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }]);
      const one = [box([{ sku: 'SKU-1', quantity: 1 }])];
      given([created, short]).when(pack(one)).then([{ type: 'FulfilmentPacked', data: { ...at(), packages: one } }]);
      given([created, short]).when(pack(packages)).thenThrows(ConflictError, 'fulfilment.packed_more_than_picked');
    });

    it('cannot be packed when nothing was picked', () => {
      given([created, picked([], lines)]).when(pack(packages)).thenThrows(ConflictError, 'fulfilment.nothing_picked');
    });

    it('refuses no packages, a package without weight or size, or without lines, with 400', () => {
      given([created, pickedAll]).when(pack([])).thenThrows(ValidationError, 'fulfilment.no_packages');
      given([created, pickedAll]).when(pack([{ ...box(lines), weightGrams: 0 }])).thenThrows(ValidationError, 'fulfilment.invalid_package');
      given([created, pickedAll]).when(pack([{ ...box(lines), heightCm: -1 }])).thenThrows(ValidationError, 'fulfilment.invalid_package');
      given([created, pickedAll]).when(pack([box([])])).thenThrows(ValidationError, 'fulfilment.invalid_package');
      given([created, pickedAll]).when(pack([box([{ sku: 'SKU-1', quantity: 0 }])])).thenThrows(ValidationError, 'fulfilment.invalid_quantity');
    });

    it('is rejected with what it still holds: the short lines were already sourced elsewhere', () => {
      const short = picked([{ sku: 'SKU-1', quantity: 1 }], [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }]);
      given([created, short]).when(reject).then([{ type: 'FulfilmentRejected', data: { ...at(), reason: 'too busy', lines: [{ sku: 'SKU-1', quantity: 1 }] } }]);
    });

    it('is a shipment: it is not made ready for pickup', () => {
      given([created, pickedAll]).when(markReady()).thenThrows(ConflictError, 'fulfilment.not_a_pickup');
      given([created, pickedAll]).when(collect('482913')).thenThrows(ConflictError, 'fulfilment.not_a_pickup');
    });
  });

  describe('a packed fulfilment', () => {
    const history = [created, pickedAll, packed];

    it('records nothing when packed again the same way, and refuses other packages with 409', () => {
      given(history).when(pack(packages)).then([]);
      given(history).when(pack([box(lines)])).thenThrows(ConflictError, 'fulfilment.already_packed');
    });

    it('is labelled', () => {
      given(history).when(recordLabel(label)).then([labelled]);
    });

    it('refuses a label made for another shipment', () => {
      given(history).when(recordLabel({ ...label, shipmentId: 'f-2' })).thenThrows(ConflictError, 'fulfilment.wrong_shipment');
    });

    it('has no label to void: 409', () => {
      given(history).when(voidLabel).thenThrows(ConflictError, 'fulfilment.not_cancelled');
    });

    it('cannot be shipped before it is labelled, nor rejected any more', () => {
      given(history).when(ship).thenThrows(ConflictError, 'fulfilment.not_labelled');
      given(history).when(reject).thenThrows(ConflictError, 'fulfilment.too_late_to_reject');
    });

    it('is cancelled', () => {
      given(history).when(cancel).then([cancelled]);
    });
  });

  describe('buying a packed fulfilment\'s label', () => {
    const history = [created, pickedAll, packed];
    const state = (events: FulfilmentEvent[]) => fold(fulfilmentDecider, events);

    it('records the first carrier choice, as purchase 1; another one later records nothing', () => {
      given(history).when(choose(decision(1))).then([chosen(decision(1))]);
      given([...history, chosen(decision(1))]).when(choose(decision(1, 'nationalpost'))).then([]);
    });

    it('refuses with 409 a choice for a purchase other than the next one (made before a refusal it did not see)', () => {
      given(history).when(choose(decision(2))).thenThrows(ConflictError, 'fulfilment.stale_carrier_choice');
      given([...history, chosen(decision(1)), refused()]).when(choose(decision(1, 'nationalpost'))).thenThrows(ConflictError, 'fulfilment.stale_carrier_choice');
    });

    it('records a refusal of the choice held, which lets it go and leaves that carrier out of the next choice', () => {
      given([...history, chosen(decision(1))]).when(refuse()).then([refused()]);
      const after = state([...history, chosen(decision(1)), refused()]);
      expect(after.status === 'packed' && [after.carrierDecision, after.labelPurchase]).to.deep.equal([undefined, { attempts: 1, refusedBy: ['parcelnet'] }]);
      given([...history, chosen(decision(1)), refused()]).when(choose(decision(2, 'nationalpost'))).then([chosen(decision(2, 'nationalpost'))]);
    });

    it('records nothing for the same refusal again, or one of a choice no longer held', () => {
      given([...history, chosen(decision(1)), refused()]).when(refuse()).then([]);
      given([...history, chosen(decision(1))]).when(refuse({ ...refusal, carrierId: 'jetexpress' })).then([]);
      given([...history, chosen(decision(1)), refused(), chosen(decision(2, 'nationalpost'))]).when(refuse()).then([]);
      given([...history, chosen(decision(1)), labelled]).when(refuse()).then([]);
    });

    it('records a failure at the purchase it reached, with the carriers that refused; the same failure again records nothing', () => {
      const refusedOnce = [...history, chosen(decision(1)), refused()];
      given(refusedOnce).when(failLabel('no_carrier')).then([labelFailed('no_carrier', 1, ['parcelnet'])]);
      given([...refusedOnce, labelFailed('no_carrier', 1, ['parcelnet'])]).when(failLabel('no_carrier')).then([]);
      given([...history, chosen(decision(1))]).when(failLabel('retries_exhausted', 'parcelnet')).then([labelFailed('retries_exhausted', 1, [], 'parcelnet')]);
      given(history).when(failLabel('retries_exhausted')).then([labelFailed('retries_exhausted', 0, [])]);
    });

    it('needs no failure once labelled, and refuses one before it is packed with 409', () => {
      given([...history, labelled]).when(failLabel('no_carrier')).then([]);
      given([created, pickedAll]).when(failLabel('no_carrier')).thenThrows(ConflictError, 'fulfilment.not_packed');
    });

    it('after a failure, a failed choice still held stands (the label may exist); the next choice tries every carrier again and clears the failure', () => {
      const kept = state([...history, chosen(decision(1)), labelFailed('retries_exhausted', 1, [], 'parcelnet')]);
      expect(kept.status === 'packed' && [kept.carrierDecision?.quote.carrierId, kept.labelPurchase.failure?.code]).to.deep.equal(['parcelnet', 'retries_exhausted']);
      const failed = [...history, chosen(decision(1)), refused(), labelFailed('no_carrier', 1, ['parcelnet'])];
      const f = state(failed);
      expect(f.status === 'packed' && carriersToSkip(f.labelPurchase)).to.deep.equal([]);
      const again = state([...failed, chosen(decision(2))]);
      expect(again.status === 'packed' && again.labelPurchase).to.deep.equal({ attempts: 2, refusedBy: [] });
    });

    it('can be packed again after a failure with no choice held (the same packages or others), and not while a choice holds', () => {
      const failed = [...history, labelFailed('no_carrier', 0, [])];
      given(failed).when(pack(packages)).then([packed]);
      given(failed).when(pack([box(lines)])).then([{ type: 'FulfilmentPacked', data: { ...at(), packages: [box(lines)] } }]);
      const repacked = state([...failed, { type: 'FulfilmentPacked', data: { ...at(), packages: [box(lines)] } }]);
      expect(repacked.status === 'packed' && [repacked.packages, repacked.labelPurchase]).to.deep.equal([[box(lines)], { attempts: 0, refusedBy: [] }]);
      given([...history, chosen(decision(1)), labelFailed('retries_exhausted', 1, [], 'parcelnet')]).when(pack([box(lines)]))
        .thenThrows(ConflictError, 'fulfilment.already_packed');
      given([...history, chosen(decision(1)), labelFailed('retries_exhausted', 1, [], 'parcelnet')]).when(pack(packages)).then([]);
    });

    it('shows a failure until the label is bought again: a choice, a refusal, a label or a new packing clears it', () => {
      const failure = { attempt: 1, carrierId: null, code: 'no_carrier' as const, reason: 'x', refusedBy: [] };
      expect(labelFailureAfter(undefined, labelFailed('no_carrier', 1, ['parcelnet']))).to.deep.equal({ attempt: 1, carrierId: null, code: 'no_carrier', reason: 'no_carrier!', refusedBy: ['parcelnet'] });
      for (const e of [chosen(decision(2)), refused(), labelled, packed]) expect(labelFailureAfter(failure, e), e.type).to.equal(undefined);
      for (const e of [tracked('in_transit', NOW), cancelled]) expect(labelFailureAfter(failure, e), e.type).to.equal(failure);
    });

    it('reads carrier choices recorded before purchases were numbered as purchase 1', () => {
      const { attempt: _, ...old } = decision(1);
      expect(withPurchaseAttempt({ type: 'FulfilmentCarrierChosen', data: { ...at(), decision: old } })).to.deep.equal(chosen(decision(1)));
      expect(withPurchaseAttempt(chosen(decision(3)))).to.deep.equal(chosen(decision(3)));
    });
  });

  describe('a labelled fulfilment', () => {
    const history = [created, pickedAll, packed, labelled];

    it('records nothing for the same label again (a retried label job), and refuses a second label with 409', () => {
      given(history).when(recordLabel({ ...label, choice: { why: 'again', quotes: [], unavailable: [] } })).then([]);
      given(history).when(recordLabel({ ...label, trackingNumber: 'PN999' })).thenThrows(ConflictError, 'fulfilment.already_labelled');
      given(history).when(recordLabel({ ...label, carrierId: 'postal' })).thenThrows(ConflictError, 'fulfilment.already_labelled');
    });

    it('ships what was picked, with its tracking number', () => {
      given(history).when(ship).then([shipped]);
    });

    it('records tracking before the handover is recorded (the carrier scanned it first)', () => {
      given(history).when(track(update('in_transit', LATER))).then([tracked('in_transit', LATER)]);
    });

    it('has a shipment whose status starts at label_created', () => {
      expect(shipmentStatus(fold(fulfilmentDecider, history))).to.equal('label_created');
      expect(shipmentStatus(fold(fulfilmentDecider, [created, pickedAll, packed]))).to.equal(null);
    });

    it('is cancelled, keeping its label to cancel with the carrier', () => {
      given(history).when(cancel).then([cancelled]);
      const state = fold(fulfilmentDecider, [...history, cancelled]);
      expect(state.status === 'cancelled' && state.was.status === 'labelled' && state.was.label.trackingNumber).to.equal('PN123');
      expect(shipmentStatus(state)).to.equal('label_created');
    });
  });

  describe('a shipped fulfilment', () => {
    const history = [created, pickedAll, packed, labelled, shipped];

    it('records nothing when shipped again, or labelled again with its label', () => {
      given(history).when(ship).then([]);
      given(history).when(recordLabel(label)).then([]);
    });

    it('records a tracking update that moves the shipment on', () => {
      given(history).when(track(update('out_for_delivery', LATER, { detail: 'on the van', location: 'Springfield' })))
        .then([{ type: 'ShipmentTracked', data: { fulfilmentId: F, orderId: 'o-1', shipmentId: F, ...update('out_for_delivery', LATER, { detail: 'on the van', location: 'Springfield' }), moved: true } }]);
    });

    it('records nothing for the same update again, however its time is written', () => {
      const after = [...history, tracked('in_transit', LATER)];
      given(after).when(track(update('in_transit', LATER))).then([]);
      given(after).when(track(update('in_transit', '2026-11-26T12:00:00+01:00'))).then([]);
    });

    it('keeps an update older than the newest known one without moving the status back', () => {
      const after = [...history, tracked('in_transit', NOW), tracked('delivered', LATER)];
      given(after).when(track(update('out_for_delivery', '2026-11-26T10:30:00.000Z'))).then([tracked('out_for_delivery', '2026-11-26T10:30:00.000Z', false)]);
      const state = fold(fulfilmentDecider, [...after, tracked('out_for_delivery', '2026-11-26T10:30:00.000Z', false)]);
      expect(shipmentStatus(state)).to.equal('delivered');
      expect(state.status === 'shipped' && state.tracking.map((u) => u.status)).to.deep.equal(['in_transit', 'delivered', 'out_for_delivery']);
    });

    it('moves on with an update as new as the newest known one', () => {
      given([...history, tracked('out_for_delivery', LATER)]).when(track(update('delivered', LATER))).then([tracked('delivered', LATER)]);
    });

    it('refuses an update for another tracking number or carrier with 409', () => {
      given(history).when(track(update('in_transit', LATER, { trackingNumber: 'PN999' }))).thenThrows(ConflictError, 'fulfilment.wrong_tracking_number');
      given(history).when(track(update('in_transit', LATER, { carrierId: 'postal' }))).thenThrows(ConflictError, 'fulfilment.wrong_tracking_number');
    });

    it('refuses an update with an unknown status or an unreadable time with 400', () => {
      given(history).when(track(update('lost' as ShipmentStatus, LATER))).thenThrows(ValidationError, 'fulfilment.invalid_tracking_status');
      given(history).when(track(update('in_transit', 'yesterday'))).thenThrows(ValidationError, 'fulfilment.invalid_tracking_time');
    });

    it('can no longer be cancelled, rejected, picked otherwise or packed otherwise', () => {
      given(history).when(cancel).thenThrows(ConflictError, 'fulfilment.already_shipped');
      given(history).when(reject).thenThrows(ConflictError, 'fulfilment.already_shipped');
      given(history).when(pick([{ sku: 'SKU-1', quantity: 1 }])).thenThrows(ConflictError, 'fulfilment.already_shipped');
      given(history).when(pack([box(lines)])).thenThrows(ConflictError, 'fulfilment.already_shipped');
    });
  });

  describe('a pickup fulfilment', () => {
    const pickedPickup = [pickupCreated, pickedAll];
    const readyPickup = [...pickedPickup, ready];

    it('is not packed, labelled, shipped or tracked', () => {
      given(pickedPickup).when(pack(packages)).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
      given(pickedPickup).when(recordLabel(label)).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
      given(pickedPickup).when(ship).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
      given(pickedPickup).when(track(update('in_transit', NOW))).thenThrows(ConflictError, 'fulfilment.not_a_shipment');
    });

    it('is ready for pickup once picked, with the code and expiry given', () => {
      given(pickedPickup).when(markReady()).then([ready]);
    });

    it('is not ready before it is picked, nor when nothing was picked', () => {
      given([pickupCreated]).when(markReady()).thenThrows(ConflictError, 'fulfilment.not_picked');
      given([pickupCreated, picked([], lines)]).when(markReady()).thenThrows(ConflictError, 'fulfilment.nothing_picked');
    });

    it('refuses an empty code, or an expiry that is not after now, with 400', () => {
      given(pickedPickup).when(markReady('')).thenThrows(ValidationError, 'fulfilment.invalid_code');
      given(pickedPickup).when(markReady('482913', NOW)).thenThrows(ValidationError, 'fulfilment.invalid_expiry');
      given(pickedPickup).when(markReady('482913', 'soon')).thenThrows(ValidationError, 'fulfilment.invalid_expiry');
    });

    it('records nothing when made ready again: its code and expiry stand', () => {
      given(readyPickup).when(markReady('111111')).then([]);
    });

    it('cannot be collected before it is ready', () => {
      given(pickedPickup).when(collect('482913')).thenThrows(ConflictError, 'fulfilment.not_ready');
      given(pickedPickup).when(expire(EXPIRES)).thenThrows(ConflictError, 'fulfilment.not_ready');
    });

    it('is collected with the right code, and refuses a wrong one with 409', () => {
      given(readyPickup).when(collect('482913')).then([collected]);
      given(readyPickup).when(collect('000000')).thenThrows(ConflictError, 'fulfilment.wrong_code');
    });

    it('can no longer be rejected once ready', () => {
      given(readyPickup).when(reject).thenThrows(ConflictError, 'fulfilment.too_late_to_reject');
    });

    it('expires from its expiry on, not before', () => {
      given(readyPickup).when(expire(EXPIRES)).then([expired]);
      given(readyPickup).when(expire('2026-11-29T09:59:59.999Z')).thenThrows(ConflictError, 'fulfilment.not_yet_expired');
    });

    it('is cancelled while ready', () => {
      given(readyPickup).when(cancel).then([cancelled]);
    });

    describe('once collected', () => {
      const history = [...readyPickup, collected];

      it('records nothing when collected again with the code, and still refuses a wrong one', () => {
        given(history).when(collect('482913')).then([]);
        given(history).when(collect('000000')).thenThrows(ConflictError, 'fulfilment.wrong_code');
      });

      it('can no longer expire, be cancelled or made ready', () => {
        given(history).when(expire(EXPIRES)).thenThrows(ConflictError, 'fulfilment.already_collected');
        given(history).when(cancel).thenThrows(ConflictError, 'fulfilment.already_collected');
        given(history).when(markReady()).thenThrows(ConflictError, 'fulfilment.already_collected');
      });
    });

    describe('once expired', () => {
      const history = [...readyPickup, expired];

      it('records nothing when expired again', () => {
        given(history).when(expire('2026-12-01T00:00:00.000Z')).then([]);
      });

      it('can no longer be collected or cancelled', () => {
        given(history).when(collect('482913')).thenThrows(ConflictError, 'fulfilment.expired');
        given(history).when(cancel).thenThrows(ConflictError, 'fulfilment.expired');
      });
    });
  });

  describe('a rejected fulfilment', () => {
    const history = [created, rejected];

    it('records nothing when rejected again', () => {
      given(history).when({ ...reject, data: { fulfilmentId: F, reason: 'another reason' } } as FulfilmentCommand).then([]);
    });

    it('can no longer be picked or cancelled', () => {
      given(history).when(pick(lines)).thenThrows(ConflictError, 'fulfilment.rejected');
      given(history).when(cancel).thenThrows(ConflictError, 'fulfilment.rejected');
    });
  });

  describe('a cancelled fulfilment', () => {
    const history = [created, pickedAll, packed, labelled, cancelled];

    it('records nothing when cancelled again', () => {
      given(history).when({ ...cancel, data: { fulfilmentId: F, reason: 'again' } } as FulfilmentCommand).then([]);
    });

    it('records its label voided at the carrier, once', () => {
      given(history).when(voidLabel).then([labelCancelled]);
      given([...history, labelCancelled]).when(voidLabel).then([]);
      const state = fold(fulfilmentDecider, [...history, labelCancelled]);
      expect(state.status === 'cancelled' && state.voiding).to.deep.equal({ outcome: 'cancelled', carrierId: 'parcelnet', trackingNumber: 'PN123', at: NOW });
    });

    it('records the carrier refusing to void it, once, and not after it was voided', () => {
      given(history).when(refuseVoid).then([voidRefused]);
      given([...history, voidRefused]).when(refuseVoid).then([]);
      given([...history, voidRefused]).when(voidLabel).then([labelCancelled]);
      given([...history, labelCancelled]).when(refuseVoid).then([]);
    });

    it('is the only kind whose label is voided: 409 for one not cancelled', () => {
      given([created, pickedAll, packed, labelled]).when(voidLabel).thenThrows(ConflictError, 'fulfilment.not_cancelled');
      given([created, pickedAll, packed, labelled]).when(refuseVoid).thenThrows(ConflictError, 'fulfilment.not_cancelled');
    });

    it('refuses everything else with 409', () => {
      for (const command of [pick([{ sku: 'SKU-1', quantity: 1 }]), reject, pack([box(lines)]), ship, track(update('in_transit', LATER))]) {
        given(history).when(command).thenThrows(ConflictError, 'fulfilment.cancelled');
      }
      given([created, cancelled]).when(recordLabel(label)).thenThrows(ConflictError, 'fulfilment.cancelled');
    });
  });

  describe('what follows from a fulfilment', () => {
    it('holds stock while pending, picking, packed, labelled or ready for pickup', () => {
      expect(FULFILMENT_STATUSES.filter(holdsStock)).to.deep.equal(['pending', 'picking', 'packed', 'labelled', 'ready_for_pickup']);
      expect(holdsStock('none')).to.equal(false);
    });

    it('hands back to sourcing what a rejection released and what a pick found short', () => {
      expect(linesToResource(rejected)).to.deep.equal(lines);
      expect(linesToResource(picked([{ sku: 'SKU-1', quantity: 1 }], [{ sku: 'SKU-1', quantity: 1 }]))).to.deep.equal([{ sku: 'SKU-1', quantity: 1 }]);
      expect(linesToResource(pickedAll)).to.deep.equal([]);
      expect(linesToResource(shipped)).to.deep.equal([]);
    });

    it('gives each event the status evolve moves the fulfilment to', () => {
      const journeys = [
        [created, pickedAll, packed, labelled, tracked('in_transit', NOW), shipped, tracked('delivered', LATER)],
        [pickupCreated, pickedAll, ready, collected],
        [pickupCreated, pickedAll, ready, expired],
        [created, rejected],
        [created, pickedAll, cancelled],
        [created, pickedAll, packed, chosen(decision(1)), refused(), labelFailed('no_carrier', 1, ['parcelnet']), packed, chosen(decision(2)), labelled, cancelled, labelCancelled],
        [created, pickedAll, packed, labelled, cancelled, voidRefused],
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

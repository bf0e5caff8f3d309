import { expect } from 'chai';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import { returnDecider } from '../../write-side/returns/return.decider.js';
import type { ReturnEvent } from '../../write-side/returns/return.events.js';
import type { OpenReturn } from '../../write-side/returns/return.state.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

// A return's own rules: receipts no larger than what the return holds, priced along its lines;
// refunds recorded per receipt; the status each step leads to.

const given = specFor(returnDecider);
const lines = [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000, reason: 'too small' }, { sku: 'SKU-A', quantity: 1, unitPrice: 800, reason: 'too small' },
  { sku: 'SKU-B', quantity: 1, unitPrice: 500, reason: 'broken' }];
const opened: ReturnEvent = {
  type: 'ReturnOpened',
  data: {
    returnId: 'r-1', orderId: 'o-1', customerId: 'c-1', placedBy: 'key-1', currency: 'EUR', lines, resolution: 'refund',
    origin: { kind: 'address', address: { line1: '1 Main St', city: 'Hamburg', postalCode: '20095', country: 'DE' } }, at: NOW,
  },
};
const receive = (receiptId: string, received: { sku: string; quantity: number; condition: 'resellable' | 'damaged' }[]) => ({
  type: 'ReceiveReturn' as const, data: { returnId: 'r-1', receiptId, locationId: 'wh-1', lines: received, receivedBy: 'ops' }, metadata: meta(),
});
const receivedEvent = (receiptId: string, priced: { sku: string; quantity: number; condition: 'resellable' | 'damaged'; unitPrice: number }[]): ReturnEvent => ({
  type: 'ReturnReceived', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, receiptId, locationId: 'wh-1', lines: priced, receivedBy: 'ops' },
});
const status = (events: ReturnEvent[]) => (fold(returnDecider, events) as OpenReturn).status;

describe('return decider', () => {
  it('opens a return once', () => {
    given([]).when({ type: 'OpenReturn', data: { ...opened.data, at: undefined } as never, metadata: meta() }).then([opened]);
    given([opened]).when({ type: 'OpenReturn', data: opened.data as never, metadata: meta() }).then([]);
  });

  it('receives units priced along its lines, those received before first', () => {
    const first = receivedEvent('rc-1', [{ sku: 'SKU-A', quantity: 1, condition: 'resellable', unitPrice: 1000 }]);
    given([opened]).when(receive('rc-1', [{ sku: 'SKU-A', quantity: 1, condition: 'resellable' }])).then([first]);
    given([opened, first]).when(receive('rc-2', [{ sku: 'SKU-A', quantity: 2, condition: 'damaged' }, { sku: 'SKU-B', quantity: 1, condition: 'resellable' }]))
      .then([receivedEvent('rc-2', [{ sku: 'SKU-A', quantity: 1, condition: 'damaged', unitPrice: 1000 }, { sku: 'SKU-A', quantity: 1, condition: 'damaged', unitPrice: 800 },
        { sku: 'SKU-B', quantity: 1, condition: 'resellable', unitPrice: 500 }])]);
  });

  it('records the same receipt once', () => {
    const first = receivedEvent('rc-1', [{ sku: 'SKU-B', quantity: 1, condition: 'resellable', unitPrice: 500 }]);
    given([opened, first]).when(receive('rc-1', [{ sku: 'SKU-B', quantity: 1, condition: 'resellable' }])).then([]);
  });

  it('refuses more than the return holds, across receipts: return.receipt_exceeds_return', () => {
    given([opened]).when(receive('rc-1', [{ sku: 'SKU-B', quantity: 2, condition: 'resellable' }])).thenThrows(ConflictError, 'return.receipt_exceeds_return');
    const first = receivedEvent('rc-1', [{ sku: 'SKU-A', quantity: 2, condition: 'resellable', unitPrice: 1000 }]);
    given([opened, first]).when(receive('rc-2', [{ sku: 'SKU-A', quantity: 1, condition: 'resellable' }, { sku: 'SKU-A', quantity: 1, condition: 'damaged' }]))
      .thenThrows(ConflictError, 'return.receipt_exceeds_return');
  });

  it('refuses a SKU the return does not hold, a bad condition and a return that does not exist', () => {
    given([opened]).when(receive('rc-1', [{ sku: 'SKU-Z', quantity: 1, condition: 'resellable' }])).thenThrows(ConflictError, 'return.sku_not_in_return');
    given([opened]).when(receive('rc-1', [{ sku: 'SKU-B', quantity: 1, condition: 'soggy' as never }])).thenThrows(ValidationError, 'return.invalid_receipt');
    given([]).when(receive('rc-1', [{ sku: 'SKU-B', quantity: 1, condition: 'resellable' }])).thenThrows(NotFoundError, 'return.not_found');
  });

  it('moves requested -> partially received -> received -> refunded as units come in and their refunds are paid', () => {
    const first = receivedEvent('rc-1', [{ sku: 'SKU-A', quantity: 2, condition: 'resellable', unitPrice: 1000 }]);
    const second = receivedEvent('rc-2', [{ sku: 'SKU-A', quantity: 1, condition: 'resellable', unitPrice: 800 }, { sku: 'SKU-B', quantity: 1, condition: 'damaged', unitPrice: 500 }]);
    const refunded = (receiptId: string, amount: number): ReturnEvent => ({ type: 'ReturnRefunded', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, receiptId, amount, refundId: `ref-${receiptId}` } });
    expect(status([opened])).to.equal('requested');
    expect(status([opened, first])).to.equal('partially_received');
    expect(status([opened, first, refunded('rc-1', 2000)])).to.equal('partially_received');
    expect(status([opened, first, refunded('rc-1', 2000), second])).to.equal('received');
    expect(status([opened, first, refunded('rc-1', 2000), second, refunded('rc-2', 1300)])).to.equal('refunded');
  });

  it('records a receipt\'s refund once, and a refusal only until it is paid', () => {
    const first = receivedEvent('rc-1', [{ sku: 'SKU-B', quantity: 1, condition: 'resellable', unitPrice: 500 }]);
    const pay = { type: 'RecordReturnRefund' as const, data: { returnId: 'r-1', receiptId: 'rc-1', amount: 500, refundId: 'ref-1' }, metadata: meta() };
    const refuse = { type: 'RecordReturnRefundFailure' as const, data: { returnId: 'r-1', receiptId: 'rc-1', amount: 500, code: 'refund_refused', detail: 'no', attempt: 0 }, metadata: meta() };
    const failed: ReturnEvent = { type: 'RefundFailed', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, receiptId: 'rc-1', amount: 500, code: 'refund_refused', detail: 'no', attempt: 0 } };
    const paid: ReturnEvent = { type: 'ReturnRefunded', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, receiptId: 'rc-1', amount: 500, refundId: 'ref-1' } };
    given([opened, first]).when(refuse).then([failed]);
    // The same refusal recorded again is nothing; the retry refused too is a second one.
    given([opened, first, failed]).when(refuse).then([]);
    const again = { ...refuse, data: { ...refuse.data, attempt: 1 } };
    given([opened, first, failed]).when(again).then([{ ...failed, data: { ...failed.data, attempt: 1 } } as ReturnEvent]);
    expect(status([opened, first, failed])).to.equal('partially_received');
    given([opened, first, failed]).when(pay).then([paid]);
    given([opened, first, failed, paid]).when(pay).then([]);
    given([opened, first, failed, paid]).when(refuse).then([]);
    given([opened]).when(pay).thenThrows(ConflictError, 'return.receipt_not_found');
  });

  it('links an exchange to its replacement order once, and is exchanged once received and settled', () => {
    const exchange: ReturnEvent = { ...opened, data: { ...opened.data, resolution: 'exchange', exchangeLines: [{ sku: 'SKU-A2', quantity: 1 }] } } as ReturnEvent;
    const link = { type: 'RecordExchangeOrder' as const, data: { returnId: 'r-1', exchangeOrderId: 'o-2' }, metadata: meta() };
    const linked: ReturnEvent = { type: 'ReturnExchangeOrdered', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, exchangeOrderId: 'o-2' } };
    given([exchange]).when(link).then([linked]);
    given([exchange, linked]).when(link).then([]);
    given([exchange, linked]).when({ ...link, data: { returnId: 'r-1', exchangeOrderId: 'o-3' } }).thenThrows(ConflictError, 'return.already_exchanged');
    given([opened]).when(link).thenThrows(ConflictError, 'return.not_exchange');
    const all = receivedEvent('rc-1', lines.map((l) => ({ sku: l.sku, quantity: l.quantity, condition: 'resellable' as const, unitPrice: l.unitPrice })));
    const settled: ReturnEvent = { type: 'ReturnRefunded', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, receiptId: 'rc-1', amount: 3300, refundId: 'ref-1' } };
    expect(status([exchange, linked, all, settled])).to.equal('exchanged');
  });

  it('tracks its parcel once labelled: in transit on the first scan that moves it; an older scan never moves it back', () => {
    const label = { shipmentId: 'r-1', carrierId: 'parcelnet', service: 'ground', trackingNumber: 'PN-1', labelUrl: 'https://x/1', cost: 500, currency: 'EUR', estimatedDelivery: NOW, choice: { why: 'cheapest', quotes: [], unavailable: [] } };
    const labelled: ReturnEvent = { type: 'ReturnLabelled', data: { returnId: 'r-1', orderId: 'o-1', at: NOW, label, locationId: 'wh-1' } };
    const track = (status: 'in_transit' | 'label_created', at: string) => ({ type: 'RecordReturnTracking' as const, data: { returnId: 'r-1', update: { carrierId: 'parcelnet', trackingNumber: 'PN-1', status, at } }, metadata: meta() });
    given([opened]).when(track('in_transit', NOW)).thenThrows(ConflictError, 'return.not_labelled');
    expect(status([opened, labelled])).to.equal('label_created');
    const moved: ReturnEvent = { type: 'ReturnTracked', data: { carrierId: 'parcelnet', trackingNumber: 'PN-1', status: 'in_transit', at: '2026-11-26T11:00:00.000Z', returnId: 'r-1', orderId: 'o-1', moved: true } };
    given([opened, labelled]).when(track('in_transit', '2026-11-26T11:00:00.000Z')).then([moved]);
    given([opened, labelled, moved]).when(track('in_transit', '2026-11-26T11:00:00.000Z')).then([]);
    given([opened, labelled, moved]).when(track('label_created', '2026-11-26T09:00:00.000Z'))
      .then([{ type: 'ReturnTracked', data: { carrierId: 'parcelnet', trackingNumber: 'PN-1', status: 'label_created', at: '2026-11-26T09:00:00.000Z', returnId: 'r-1', orderId: 'o-1', moved: false } }]);
    expect(status([opened, labelled, moved])).to.equal('in_transit');
    given([opened, labelled]).when({ ...track('in_transit', NOW), data: { returnId: 'r-1', update: { carrierId: 'parcelnet', trackingNumber: 'PN-2', status: 'in_transit', at: NOW } } })
      .thenThrows(ConflictError, 'return.wrong_tracking_number');
  });
});

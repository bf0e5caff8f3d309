import { AppError, ConcurrencyError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { WriteSide } from '../commands.js';
import type { CommandMetadata } from '../decider.js';
import type { OrderEvent, OrderLine } from '../orders/order.events.js';
import type { ProcessManager } from '../process-manager.js';
import type { Recorded } from '../to-domain.js';
import type { ReturnEvent } from './return.events.js';
import type { OpenReturn } from './return.state.js';

/** The events the process reacts to. */
type Event = Recorded<Extract<OrderEvent | ReturnEvent, { type: 'OrderReturnAuthorized' | 'ReturnOpened' | 'ReturnTracked' | 'ReturnReceived' }>>;

/** When an exchange's replacement is ordered: as the return is asked for, once its parcel moves, or once it is received. */
export type ExchangeShipsAt = 'request' | 'in_transit' | 'received';
export const EXCHANGE_SHIPS_AT: readonly ExchangeShipsAt[] = ['request', 'in_transit', 'received'];

/**
 * Returns as a process manager on the log, one order at a time: a return the order authorised is
 * opened (the API opens it at once; this covers a process that stopped in between); what a
 * receipt brings back goes onto the ledger of the location it arrived at, the damaged units into
 * quarantine; an exchange's replacement is ordered when `exchangeShipsAt` says. Every step is a
 * command that records nothing once its outcome holds, so a reaction run again does nothing twice.
 * A step a rule refuses (an exchange whose pickup store no longer offers pickup, say) would be
 * refused on every retry and halt the process for every order: it is recorded (`recordRefusal`)
 * for operators to see and retry, as the fulfilment process's are, and the log goes on.
 */
export function returnsProcess(deps: {
  write: WriteSide; log: Logger; exchangeShipsAt: ExchangeShipsAt; recordRefusal(event: Recorded, reason: string): Promise<void>; now?: () => Date;
}): ProcessManager & { step(event: Recorded): Promise<void> } {
  const name = 'returns';
  const { write } = deps;
  return {
    name,
    handles: ['OrderReturnAuthorized', 'ReturnOpened', 'ReturnTracked', 'ReturnReceived'] satisfies Event['type'][],
    keyOf: (e) => (e.data as { orderId: string }).orderId,
    async react(raw, context) {
      context.signal.throwIfAborted();
      try {
        await reactTo(raw as Event);
      } catch (err) {
        if (!(err instanceof AppError) || err instanceof ConcurrencyError) throw err;
        deps.log.error({ err, eventId: raw.id, type: raw.type, position: raw.position, orderId: (raw.data as { orderId?: string }).orderId }, 'returns step refused; left for an operator');
        await deps.recordRefusal(raw, `${raw.type} refused: ${err.code}: ${err.message}`);
      }
    },
    step: (e) => reactTo(e as Event),
  };

  async function reactTo(e: Event): Promise<void> {
    const orderId = (e.data as { orderId: string }).orderId;
    const metadata: CommandMetadata = {
      now: (deps.now?.() ?? new Date()).toISOString(), correlationId: orderId, causationId: e.id, actor: { kind: 'system', id: name },
    };
    switch (e.type) {
      case 'OrderReturnAuthorized':
        await write.openReturn(await write.loadOrder(orderId, { fresh: true }), e.data.returnId, metadata);
        return;
      case 'ReturnOpened':
        if (deps.exchangeShipsAt === 'request') await orderExchange(e.data.returnId, metadata);
        return;
      case 'ReturnTracked':
        if (deps.exchangeShipsAt === 'in_transit' && e.data.moved && e.data.status !== 'label_created') await orderExchange(e.data.returnId, metadata);
        return;
      case 'ReturnReceived': {
        const { returnId, receiptId, locationId, lines } = e.data;
        const bySku = new Map<string, { quantity: number; damaged: number }>();
        for (const l of lines) {
          const at = bySku.get(l.sku) ?? { quantity: 0, damaged: 0 };
          bySku.set(l.sku, { quantity: at.quantity + l.quantity, damaged: at.damaged + (l.condition === 'damaged' ? l.quantity : 0) });
        }
        for (const [sku, { quantity, damaged }] of bySku) {
          await write.onLedger({ type: 'ReceiveReturnedStock', data: { sku, locationId, quantity, damaged, receiptId, returnId }, metadata });
        }
        await orderExchange(returnId, metadata);                    // received: the latest an exchange waits for
        return;
      }
      default: {
        const unknown: never = e;
        void unknown;
      }
    }
  }

  /**
   * Orders the replacement of an exchange, once: an order of the original's channel, customer,
   * delivery and card, under an external id derived from the return (so placing it again finds
   * the same order), linked to the return both ways. The replacement lines are priced as the
   * original order sold the SKU, or else as the returned units.
   */
  async function orderExchange(returnId: string, metadata: CommandMetadata): Promise<void> {
    // A return's resolution never changes, and an exchange once ordered stays ordered: as last seen here tells which need a look.
    const seen = await write.loadReturn(returnId, { cachedOk: true });
    if (seen.status === 'none' || seen.resolution !== 'exchange' || seen.exchangeOrderId) return;
    const r = await write.loadReturn(returnId);
    if (r.status === 'none' || r.resolution !== 'exchange' || r.exchangeOrderId || !r.exchangeLines) return;
    const original = await write.loadOrder(r.orderId);
    if (original.status === 'none') return;
    const o = original.order;
    const placed = await write.placeOrder({
      channel: o.channel, source: 'exchange', externalId: `exchange-${returnId}`, currency: o.currency, customer: o.customer,
      lines: replacementLines(r, o.lines), delivery: o.delivery, payment: o.payment, placedBy: o.placedBy, exchangeFor: { orderId: o.orderId, returnId },
    }, metadata);
    await write.recordExchangeOrder(returnId, placed.orderId, metadata);
  }
}

function replacementLines(r: OpenReturn, sold: OrderLine[]): OrderLine[] {
  return (r.exchangeLines ?? []).map((l) => ({
    sku: l.sku, quantity: l.quantity, unitPrice: sold.find((x) => x.sku === l.sku)?.unitPrice ?? r.lines[0].unitPrice,
  }));
}

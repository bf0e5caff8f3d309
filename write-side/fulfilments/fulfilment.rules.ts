import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../../platform/errors.js';
import { SHIPMENT_STATUSES, type FulfilmentLine, type InboundTransfer, type PackageSpec, type TrackingUpdate, type TransferRoute } from './fulfilment.events.js';
import { awaitedTransfers, minusLines, plusLines, type ExistingFulfilment, type Fulfilment, type OpenFulfilment } from './fulfilment.state.js';

// What the fulfilment decisions check: that the fulfilment exists, is of the right kind and has
// not ended, and that what a command brings is well formed (a 400, whatever the state).

export function existing(state: Fulfilment, fulfilmentId: string): ExistingFulfilment {
  if (state.status === 'none') throw new NotFoundError('fulfilment.not_found', `Fulfilment ${fulfilmentId} does not exist`);
  return state;
}

export const ids = (f: ExistingFulfilment, at: string) => ({ fulfilmentId: f.fulfilmentId, orderId: f.orderId, locationId: f.locationId, at });

/**
 * Shipped, collected, expired, rejected and cancelled are final: nothing more happens to the
 * fulfilment; a transfer on its way is only received, and then it is final too.
 */
export function refuseEnded(f: ExistingFulfilment): asserts f is OpenFulfilment {
  const id = f.fulfilmentId;
  switch (f.status) {
    case 'pending': case 'picking': case 'packed': case 'labelled': case 'ready_for_pickup':
      return;
    case 'shipped': throw new ConflictError('fulfilment.already_shipped', `Fulfilment ${id} has shipped`);
    case 'in_transit': throw new ConflictError('fulfilment.in_transit', `Transfer ${id} is on its way to ${f.transfer?.to}: it can only be received`);
    case 'received': throw new ConflictError('fulfilment.already_received', `Transfer ${id} has been received at ${f.transfer?.to}`);
    case 'collected': throw new ConflictError('fulfilment.already_collected', `Fulfilment ${id} has been collected`);
    case 'expired': throw new ConflictError('fulfilment.expired', `Fulfilment ${id} was not collected in time`);
    case 'rejected': throw new ConflictError('fulfilment.rejected', `Fulfilment ${id} was rejected by ${f.locationId}`);
    case 'cancelled': throw new ConflictError('fulfilment.cancelled', `Fulfilment ${id} was cancelled`);
    default: {
      const unknown: never = f;
      throw new Error(`Unknown fulfilment status ${(unknown as ExistingFulfilment).status}`);
    }
  }
}

/** Packed and sent on: a shipment to the customer, or a transfer to the pickup store. */
export function mustLeave(f: ExistingFulfilment): void {
  if (f.kind === 'pickup') throw new ConflictError('fulfilment.not_a_shipment', `Fulfilment ${f.fulfilmentId} is a pickup: it is not packed, labelled or shipped`);
}

/** Carried by a carrier under a label: a shipment to the customer (a transfer travels with the store replenishment run). */
export function mustShip(f: ExistingFulfilment): void {
  mustLeave(f);
  if (f.kind === 'transfer') {
    throw new ConflictError('fulfilment.not_a_shipment', `Fulfilment ${f.fulfilmentId} is a transfer to ${f.transfer?.to}: it travels with the store replenishment run, without a carrier label`);
  }
}

export function mustBePickup(f: ExistingFulfilment): void {
  if (f.kind !== 'pickup') throw new ConflictError('fulfilment.not_a_pickup', `Fulfilment ${f.fulfilmentId} is ${f.kind === 'ship' ? 'shipped' : 'a transfer'}, not collected`);
}

export function mustBeTransfer(f: ExistingFulfilment): asserts f is ExistingFulfilment & { transfer: TransferRoute } {
  if (f.kind !== 'transfer' || !f.transfer) throw new ConflictError('fulfilment.not_a_transfer', `Fulfilment ${f.fulfilmentId} is not a transfer to a pickup store`);
}

/** A pickup whose transfers have not all arrived is neither picked, rejected nor ready: the units are not in the store yet. */
export function refuseAwaiting(f: ExistingFulfilment, what: string): void {
  const awaited = awaitedTransfers(f);
  if (awaited.length > 0) {
    throw new ConflictError('fulfilment.awaiting_transfer',
      `Fulfilment ${f.fulfilmentId} cannot be ${what} yet: it waits for ${awaited.map((t) => `transfer ${t.fulfilmentId} from ${t.from}`).join(', ')}`);
  }
}
// Input checks: a malformed quantity, package or update is a 400, whatever the fulfilment's state.

/** Lines with whole quantities of at least `min`, one per SKU (repeated SKUs are added up), in the order given. */
export function validLines(lines: FulfilmentLine[], path: string, min: 0 | 1): FulfilmentLine[] {
  const errors: FieldError[] = [];
  const bySku = new Map<string, number>();
  lines.forEach((l, i) => {
    if (typeof l.sku !== 'string' || l.sku.length === 0) errors.push({ path: `${path}/${i}/sku`, message: 'a SKU is required' });
    else if (!Number.isInteger(l.quantity) || l.quantity < min) errors.push({ path: `${path}/${i}/quantity`, message: `a whole number of ${min} or more` });
    else bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  });
  if (errors.length > 0) throw new ValidationError('fulfilment.invalid_quantity', 'Quantities are whole numbers', errors);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
}

/** Transfers from other locations, each with valid lines, that together fit within the pickup's `lines`. */
export function validInbound(inbound: InboundTransfer[], lines: FulfilmentLine[]): InboundTransfer[] {
  const transfers = inbound.map((t, i) => {
    if (typeof t.fulfilmentId !== 'string' || t.fulfilmentId.length === 0 || typeof t.from !== 'string' || t.from.length === 0) {
      throw new ValidationError('fulfilment.invalid_transfer', 'A transfer names its fulfilment and where it comes from', [{ path: `/inbound/${i}`, message: 'fulfilmentId and from are required' }]);
    }
    return { fulfilmentId: t.fulfilmentId, from: t.from, lines: validLines(t.lines, `/inbound/${i}/lines`, 1) };
  });
  if (minusLines(plusLines([], transfers.flatMap((t) => t.lines)), lines).length > 0) {
    throw new ValidationError('fulfilment.invalid_transfer', 'A pickup holds the units of its transfers', [{ path: '/inbound', message: 'more units than the lines' }]);
  }
  return transfers;
}

export function validPackages(packages: PackageSpec[]): PackageSpec[] {
  if (packages.length === 0) throw new ValidationError('fulfilment.no_packages', 'A fulfilment is packed in one package or more', [{ path: '/packages', message: 'no packages' }]);
  return packages.map((p, i) => {
    const errors: FieldError[] = [];
    if (!Number.isInteger(p.weightGrams) || p.weightGrams <= 0) errors.push({ path: `/packages/${i}/weightGrams`, message: 'a whole number of grams above 0' });
    for (const d of ['lengthCm', 'widthCm', 'heightCm'] as const) {
      if (!Number.isFinite(p[d]) || p[d] <= 0) errors.push({ path: `/packages/${i}/${d}`, message: 'a size above 0' });
    }
    if (p.lines.length === 0) errors.push({ path: `/packages/${i}/lines`, message: 'a package holds one line or more' });
    if (errors.length > 0) throw new ValidationError('fulfilment.invalid_package', 'A package has a weight, three sizes and lines', errors);
    const { weightGrams, lengthCm, widthCm, heightCm } = p;
    return { weightGrams, lengthCm, widthCm, heightCm, lines: validLines(p.lines, `/packages/${i}/lines`, 1) };
  });
}

export function validUpdate(u: TrackingUpdate): TrackingUpdate {
  if (!(SHIPMENT_STATUSES as readonly string[]).includes(u.status)) {
    throw new ValidationError('fulfilment.invalid_tracking_status', `Unknown shipment status ${u.status}`, [{ path: '/update/status', message: `one of ${SHIPMENT_STATUSES.join(', ')}` }]);
  }
  if (Number.isNaN(Date.parse(u.at))) throw new ValidationError('fulfilment.invalid_tracking_time', `${u.at} is not a time`, [{ path: '/update/at', message: 'an ISO time' }]);
  const { carrierId, trackingNumber, status, at, detail, location } = u;
  return { carrierId, trackingNumber, status, at, ...(detail === undefined ? {} : { detail }), ...(location === undefined ? {} : { location }) };
}

export function totals(lines: FulfilmentLine[]): Map<string, number> {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  return bySku;
}

export function sameLines(a: FulfilmentLine[], b: FulfilmentLine[]): boolean {
  return a.length === b.length && a.every((l, i) => l.sku === b[i].sku && l.quantity === b[i].quantity);
}

export function samePackages(a: PackageSpec[], b: PackageSpec[]): boolean {
  return a.length === b.length && a.every((p, i) => p.weightGrams === b[i].weightGrams && p.lengthCm === b[i].lengthCm
    && p.widthCm === b[i].widthCm && p.heightCm === b[i].heightCm && sameLines(p.lines, b[i].lines));
}

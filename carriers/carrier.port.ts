import type { Address } from '../write-side/orders/order.events.js';

// A carrier as fulfilment sees it: quotes, labels, tracking. Buying a label carries an idempotency
// key: the same key always gets the first purchase's label, so a retry after a crash or a lost
// answer never buys a second one. Amounts are minor units; dates and times are ISO (UTC).

export interface FulfilmentLine { sku: string; quantity: number }
export interface PackageSpec { weightGrams: number; lengthCm: number; widthCm: number; heightCm: number; lines: FulfilmentLine[] }
export interface Quote { carrierId: string; service: string; amount: number; currency: string; transitDays: number; estimatedDelivery: string }
export interface CarrierService { code: string; name: string; transitDays: number }
export type ShipmentStatus = 'label_created' | 'in_transit' | 'out_for_delivery' | 'delivered' | 'exception' | 'returned_to_sender';

export interface RateRequest {
  /** The location handing the parcels over; after its cut-off hour (UTC) they leave the next working day. */
  from: { locationId: string; geo: { lat: number; lon: number }; cutoffHour: number };
  to: Address;
  packages: PackageSpec[];
  currency: string;
  /** The fulfilment the shipment is for. */
  reference: string;
  /** When the parcels are ready to be handed over. */
  readyAt: string;
}
export interface LabelRequest extends RateRequest { service: string; idempotencyKey: string }

export interface Label { carrierId: string; service: string; trackingNumber: string; labelUrl: string; cost: number; currency: string; estimatedDelivery: string; createdAt: string }
export interface TrackingUpdate { trackingNumber: string; status: ShipmentStatus; at: string; detail?: string; location?: string }

export interface Carrier {
  readonly carrierId: string;
  readonly name: string;
  readonly services: readonly CarrierService[];
  /** One quote per service that can carry these packages (none: it carries none of them). Throws CarrierUnavailable or CarrierRefused. */
  quote(r: RateRequest, options?: { signal?: AbortSignal }): Promise<Quote[]>;
  /** Buys the label for one service; the same idempotency key with the same request answers the same label. */
  buyLabel(r: LabelRequest): Promise<Label>;
  /** The shipment's updates so far, oldest first. */
  track(trackingNumber: string): Promise<TrackingUpdate[]>;
  /** Voids a label not yet handed over; voiding it again changes nothing. */
  cancelLabel(trackingNumber: string): Promise<void>;
}

/** The carrier said no (a key reused for another request, a service it does not offer, a label already on its way): retrying cannot change that. */
export class CarrierRefused extends Error {
  constructor(readonly carrierId: string, readonly code: string, message: string) {
    super(message);
    this.name = 'CarrierRefused';
  }
}

/** A transient failure or a timeout: the outcome is unknown; try again under the same key, or quote without this carrier. */
export class CarrierUnavailable extends Error {
  constructor(readonly carrierId: string, message: string) {
    super(message);
    this.name = 'CarrierUnavailable';
  }
}

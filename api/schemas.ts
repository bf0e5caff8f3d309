import Type, { type TLiteral, type TObject } from 'typebox';
import { SHIPMENT_STATUSES, type ShipmentStatus } from '../write-side/fulfilments/fulfilment.events.js';
import { CHANNELS, type Delivery, type Payment } from '../write-side/orders/order.events.js';

// Request bodies as JSON Schema (validated by ajv, published in the OpenAPI document) with
// their static types. Unknown fields are refused everywhere. A field with a fixed set of values
// is an `enum`, so a wrong value is one error that names the allowed ones.

/** Ids that clients choose (SKU, location id, external order id). */
export const CLIENT_ID = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';
export const ClientId = (description?: string) => Type.String({ pattern: CLIENT_ID, description });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const strict = { additionalProperties: false } as const;

export const Geo = Type.Object({
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lon: Type.Number({ minimum: -180, maximum: 180 }),
}, strict);

export const PutLocationBody = Type.Object({
  name: Text(200),
  type: Type.Enum(['warehouse', 'store', 'hub']),
  geo: Geo,
  canShip: Type.Boolean(),
  canPickup: Type.Boolean(),
  handlingCost: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
  active: Type.Optional(Type.Boolean()),
  dailyCapacity: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.Null()], {
    description: 'fulfilments a day (UTC); left out keeps what the location had, null lifts the limit',
  })),
  cutoffHour: Type.Optional(Type.Integer({ minimum: 0, maximum: 23, description: 'hour (UTC) after which a parcel handed over leaves the next day; 16 unless set' })),
}, strict);

export const ReceiptBody = Type.Object({
  sku: ClientId('SKU'),
  locationId: ClientId(),
  quantity: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
  reference: Type.Optional(Text(200)),
}, strict);

export const AdjustmentBody = Type.Object({
  sku: ClientId('SKU'),
  locationId: ClientId(),
  delta: Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, not: { const: 0 } }),
  reason: Text(500),
}, strict);

const Address = Type.Object({
  line1: Text(200),
  line2: Type.Optional(Text(200)),
  city: Text(100),
  region: Type.Optional(Text(100)),
  postalCode: Text(20),
  country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
  geo: Type.Optional(Geo),
}, strict);

const ShipDelivery = Type.Object({
  method: Type.Literal('ship'),
  speed: Type.Enum(['standard', 'express', 'cheapest']),
  address: Address,
}, strict);

const PickupDelivery = Type.Object({ method: Type.Literal('pickup'), locationId: ClientId() }, strict);

/**
 * One of these objects, told apart by its `method`: the branch is validated whole, and a missing
 * or unknown method is reported on `method` itself, naming the methods there are.
 */
function byMethod<T>(branches: TObject<{ method: TLiteral<string> }>[]) {
  return Type.Unsafe<T>({
    type: 'object',
    required: ['method'],
    properties: { method: Type.Enum(branches.map((b) => b.properties.method.const)) },
    discriminator: { propertyName: 'method' },
    oneOf: branches,
  });
}

export const DeliverySchema = byMethod<Delivery>([ShipDelivery, PickupDelivery]);

const PaymentSchema = byMethod<Payment>([
  Type.Object({ method: Type.Literal('card'), token: Text(200) }, strict),
  Type.Object({ method: Type.Literal('cash_on_delivery') }, strict),
  Type.Object({ method: Type.Literal('prepaid'), reference: Type.Optional(Text(200)) }, strict),
]);

export const OrderLineSchema = Type.Object({
  sku: ClientId('SKU'),
  quantity: Type.Integer({ minimum: 1, maximum: 100_000 }),
  unitPrice: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'minor units' }),
}, strict);

export const PlaceOrderBody = Type.Object({
  channel: Type.Enum(CHANNELS),
  source: Type.Optional(ClientId('marketplace or platform inside the channel')),
  externalId: ClientId('the order id in the channel; (channel, source, externalId) is unique'),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' }),
  customer: Type.Object({
    id: ClientId(),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    name: Type.Optional(Text(200)),
    phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 ()-]{3,32}$' })),
  }, strict),
  lines: Type.Array(OrderLineSchema, { minItems: 1, maxItems: 500 }),
  shippingPrice: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'what the customer pays for delivery, minor units; part of the total' })),
  delivery: DeliverySchema,
  payment: PaymentSchema,
}, strict);

export const SafetyStockBody = Type.Object({
  sku: ClientId('SKU'),
  locationId: ClientId(),
  quantity: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
}, strict);

export const TransferBody = Type.Object({
  sku: ClientId('SKU'),
  from: ClientId('location the stock leaves'),
  to: ClientId('location it arrives at'),
  quantity: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
}, strict);

export const AvailabilityBody = Type.Object({
  lines: Type.Array(Type.Object({ sku: ClientId('SKU'), quantity: Type.Integer({ minimum: 1, maximum: 100_000 }) }, strict), { minItems: 1, maxItems: 500 }),
  delivery: DeliverySchema,
}, strict);

const packageSize = {
  weightGrams: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  lengthCm: Type.Integer({ minimum: 1, maximum: 1000 }),
  widthCm: Type.Integer({ minimum: 1, maximum: 1000 }),
  heightCm: Type.Integer({ minimum: 1, maximum: 1000 }),
};
const PackageLines = Type.Array(Type.Object({ sku: ClientId('SKU'), quantity: Type.Integer({ minimum: 1, maximum: 100_000 }) }, strict), { minItems: 1, maxItems: 500 });

/** A parcel to quote for: its lines are optional. */
export const PackageBody = Type.Object({ ...packageSize, lines: Type.Optional(PackageLines) }, strict);

export const ShippingRatesBody = Type.Object({
  from: ClientId('the location the parcels leave from'),
  to: Address,
  packages: Type.Array(PackageBody, { minItems: 1, maxItems: 50 }),
  currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217; EUR when not given' })),
}, strict);

export const CancelOrderBody = Type.Object({ reason: Text(500) }, strict);

const ReturnQuantity = Type.Integer({ minimum: 1, maximum: 100_000 });

export const RequestReturnBody = Type.Object({
  lines: Type.Array(Type.Object({ sku: ClientId('SKU'), quantity: ReturnQuantity, reason: Text(500) }, strict), { minItems: 1, maxItems: 500 }),
  resolution: Type.Enum(['refund', 'exchange']),
  exchangeLines: Type.Optional(Type.Array(Type.Object({ sku: ClientId('SKU'), quantity: ReturnQuantity }, strict), { minItems: 1, maxItems: 500 })),
}, strict);

export const ReceiveReturnBody = Type.Object({
  locationId: ClientId('where the parcel arrived'),
  lines: Type.Array(Type.Object({ sku: ClientId('SKU'), quantity: ReturnQuantity, condition: Type.Enum(['resellable', 'damaged']) }, strict), { minItems: 1, maxItems: 500 }),
}, strict);

export type RequestReturnBody = Type.Static<typeof RequestReturnBody>;
export type ReceiveReturnBody = Type.Static<typeof ReceiveReturnBody>;

export const ReviewOrderBody = Type.Object({ decision: Type.Enum(['approve', 'reject']), note: Type.Optional(Text(1000)) }, strict);

const FulfilmentLines = Type.Array(Type.Object({ sku: ClientId('SKU'), quantity: Type.Integer({ minimum: 0, maximum: 100_000 }) }, strict), { minItems: 1, maxItems: 500 });

export const PickBody = Type.Object({ lines: FulfilmentLines }, strict);
export const RejectFulfilmentBody = Type.Object({ reason: Text(500) }, strict);
export const CollectBody = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$', description: 'the pickup code the customer was sent' }) }, strict);

/** A parcel packed: what it holds. */
export const PackageSpecSchema = Type.Object({ ...packageSize, lines: PackageLines }, strict);
export const PackFulfilmentBody = Type.Object({ packages: Type.Array(PackageSpecSchema, { minItems: 1, maxItems: 50 }) }, strict);

export const TrackingUpdateBody = Type.Object({
  trackingNumber: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }),
  status: Type.Unsafe<ShipmentStatus>({ type: 'string', enum: [...SHIPMENT_STATUSES] }),
  at: Type.String({ format: 'date-time', description: "the carrier's time of the scan" }),
  detail: Type.Optional(Text(500)),
  location: Type.Optional(Text(200)),
}, strict);

export type TrackingUpdateBody = Type.Static<typeof TrackingUpdateBody>;
export type PickBody = Type.Static<typeof PickBody>;
export type RejectFulfilmentBody = Type.Static<typeof RejectFulfilmentBody>;
export type CollectBody = Type.Static<typeof CollectBody>;
export type PackFulfilmentBody = Type.Static<typeof PackFulfilmentBody>;
export type PutLocationBody = Type.Static<typeof PutLocationBody>;
export type ReceiptBody = Type.Static<typeof ReceiptBody>;
export type AdjustmentBody = Type.Static<typeof AdjustmentBody>;
export type PlaceOrderBody = Type.Static<typeof PlaceOrderBody>;
export type CancelOrderBody = Type.Static<typeof CancelOrderBody>;
export type ReviewOrderBody = Type.Static<typeof ReviewOrderBody>;
export type SafetyStockBody = Type.Static<typeof SafetyStockBody>;
export type TransferBody = Type.Static<typeof TransferBody>;
export type AvailabilityBody = Type.Static<typeof AvailabilityBody>;
export type ShippingRatesBody = Type.Static<typeof ShippingRatesBody>;

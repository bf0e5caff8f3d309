import Type from 'typebox';
import { CHANNELS, type Delivery, type Payment } from '../write-side/orders/order.events.js';

// Request bodies as JSON Schema (validated by ajv, published in the OpenAPI document) with
// their static types. Unknown fields are refused everywhere.

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
  type: Type.Union([Type.Literal('warehouse'), Type.Literal('store'), Type.Literal('hub')]),
  geo: Geo,
  canShip: Type.Boolean(),
  canPickup: Type.Boolean(),
  handlingCost: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
  active: Type.Optional(Type.Boolean()),
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
  speed: Type.Union([Type.Literal('standard'), Type.Literal('express'), Type.Literal('cheapest')]),
  address: Address,
}, strict);

const PickupDelivery = Type.Object({ method: Type.Literal('pickup'), locationId: ClientId() }, strict);

export const DeliverySchema = Type.Unsafe<Delivery>({
  type: 'object',
  required: ['method'],
  discriminator: { propertyName: 'method' },
  oneOf: [ShipDelivery, PickupDelivery],
});

const PaymentSchema = Type.Unsafe<Payment>({
  type: 'object',
  required: ['method'],
  discriminator: { propertyName: 'method' },
  oneOf: [
    Type.Object({ method: Type.Literal('card'), token: Text(200) }, strict),
    Type.Object({ method: Type.Literal('cash_on_delivery') }, strict),
    Type.Object({ method: Type.Literal('prepaid'), reference: Type.Optional(Text(200)) }, strict),
  ],
});

export const OrderLineSchema = Type.Object({
  sku: ClientId('SKU'),
  quantity: Type.Integer({ minimum: 1, maximum: 100_000 }),
  unitPrice: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'minor units' }),
}, strict);

export const PlaceOrderBody = Type.Object({
  channel: Type.Union(CHANNELS.map((c) => Type.Literal(c))),
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

export const CancelOrderBody = Type.Object({ reason: Text(500) }, strict);

export const ReviewOrderBody = Type.Object({ decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]), note: Type.Optional(Text(1000)) }, strict);

export type PutLocationBody = Type.Static<typeof PutLocationBody>;
export type ReceiptBody = Type.Static<typeof ReceiptBody>;
export type AdjustmentBody = Type.Static<typeof AdjustmentBody>;
export type PlaceOrderBody = Type.Static<typeof PlaceOrderBody>;
export type CancelOrderBody = Type.Static<typeof CancelOrderBody>;
export type ReviewOrderBody = Type.Static<typeof ReviewOrderBody>;
export type SafetyStockBody = Type.Static<typeof SafetyStockBody>;
export type TransferBody = Type.Static<typeof TransferBody>;
export type AvailabilityBody = Type.Static<typeof AvailabilityBody>;

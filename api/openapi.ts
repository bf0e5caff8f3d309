import {
  AdjustmentBody, AvailabilityBody, CancelOrderBody, CollectBody, PackFulfilmentBody, PickBody, PlaceOrderBody, PutLocationBody, ReceiptBody, RejectFulfilmentBody,
  ReceiveReturnBody, RequestReturnBody, ReviewOrderBody, SafetyStockBody, ShippingRatesBody, TrackingUpdateBody, TransferBody,
} from './schemas.js';
import { FULFILMENT_STATUSES } from '../write-side/fulfilments/fulfilment.state.js';
import { RETURN_STATUSES } from '../write-side/returns/return.state.js';

const lines = { type: 'array', items: { type: 'object', required: ['sku', 'quantity'], properties: { sku: { type: 'string' }, quantity: { type: 'integer' } } } };

// The OpenAPI document for what the service serves; request schemas are the ones the API validates with.

const problem = { description: 'Problem details (RFC 9457)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
const ok = (description: string, schema: object = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const errors = { 400: problem, 401: problem, 403: problem, 409: problem, 413: problem, 503: problem };
const minPosition = { name: 'minPosition', in: 'query', required: false, schema: { type: 'integer', minimum: 0 }, description: 'Wait up to 5 s for the read model to reach this log position' };
const idempotencyKey = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } };
const path = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Order management service', version: '1.0.0' },
  components: {
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
      // The parts of the fulfilment and order views that a pickup with transfers adds; the rest is as in the API contract.
      Fulfilment: {
        type: 'object',
        required: ['fulfilmentId', 'orderId', 'locationId', 'kind', 'status', 'lines'],
        properties: {
          fulfilmentId: { type: 'string' }, orderId: { type: 'string' }, locationId: { type: 'string' },
          kind: { type: 'string', enum: ['ship', 'pickup', 'transfer'], description: 'transfer: units sent to the pickup store for the pickup fulfilment there' },
          status: { type: 'string', enum: [...FULFILMENT_STATUSES], description: 'a transfer goes pending, picking, packed, in_transit, received' },
          lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, quantity: { type: 'integer' }, picked: { type: ['integer', 'null'] } } } },
          transfer: {
            type: 'object', description: 'a transfer\'s way to the pickup store',
            properties: { to: { type: 'string' }, pickupFulfilmentId: { type: 'string' }, shippedAt: { type: ['string', 'null'] }, receivedAt: { type: ['string', 'null'] } },
          },
          inbound: {
            type: 'array', description: 'a pickup\'s transfers: it is picked and ready only once none is awaited',
            items: { type: 'object', properties: { fulfilmentId: { type: 'string' }, from: { type: 'string' }, lines, status: { type: 'string', enum: ['awaited', 'arrived', 'dropped'] } } },
          },
        },
      },
      OrderTransfer: {
        type: 'object', description: 'in GET /orders/{orderId} `transfers` (pickup orders): units sent to the pickup store; not shipments to the customer',
        properties: {
          fulfilmentId: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, pickupFulfilmentId: { type: 'string' }, status: { type: 'string', enum: [...FULFILMENT_STATUSES] },
          lines, shippedAt: { type: ['string', 'null'] }, receivedAt: { type: ['string', 'null'] },
        },
      },
      AllocationStatus: {
        type: 'string', enum: ['reserved', 'released', 'fulfilled', 'in_transit', 'transferred'],
        description: 'in_transit: sent on to the pickup store, held nowhere; transferred: arrived there (held there in an allocation of its own, with transferredFrom)',
      },
    },
  },
  security: [{ apiKey: [] }],
  paths: {
    '/locations/{locationId}': {
      put: { summary: 'Register or update a location (operator)', parameters: [path('locationId')], requestBody: body(PutLocationBody),
        responses: { 200: ok('Updated'), 201: ok('Registered'), ...errors } },
    },
    '/locations': { get: { summary: 'List locations', parameters: [minPosition], responses: { 200: ok('Locations and position'), ...errors } } },
    '/inventory/receipts': {
      post: { summary: 'Receive stock at a location (operator)', parameters: [idempotencyKey], requestBody: body(ReceiptBody), responses: { 201: ok('Ledger after the receipt'), 404: problem, ...errors } },
    },
    '/inventory/adjustments': {
      post: { summary: 'Adjust stock with a reason (operator)', parameters: [idempotencyKey], requestBody: body(AdjustmentBody), responses: { 201: ok('Ledger after the adjustment'), 404: problem, ...errors } },
    },
    '/inventory/safety-stock': {
      put: { summary: 'Set safety stock of a SKU at a location (operator)', requestBody: body(SafetyStockBody), responses: { 200: ok('Ledger'), 404: problem, ...errors } },
    },
    '/inventory/transfers': {
      post: { summary: 'Move stock between locations: it leaves at once (operator)', parameters: [idempotencyKey], requestBody: body(TransferBody),
        responses: { 201: ok('The transfer, in transit'), 404: problem, ...errors } },
    },
    '/inventory/transfers/{transferId}/receive': {
      post: { summary: 'Receive a transfer at its destination (operator); receiving again changes nothing; one carrying an order\'s units to its pickup store: 409 transfer.for_fulfilment (received with its fulfilment)', parameters: [path('transferId'), minPosition],
        responses: { 200: ok('The transfer, received'), 404: problem, ...errors } },
    },
    '/availability': {
      post: { summary: 'Which locations could fill these lines now, without reserving (client, operator)', parameters: [minPosition], requestBody: body(AvailabilityBody),
        responses: { 200: ok('fillable, plan, candidates, position'), ...errors } },
    },
    '/inventory/{sku}': { get: { summary: 'Stock of a SKU per location (operator, analyst)', parameters: [path('sku'), minPosition], responses: { 200: ok('Stock'), 404: problem, ...errors } } },
    '/orders': {
      post: { summary: 'Place an order (client)', parameters: [idempotencyKey], requestBody: body(PlaceOrderBody),
        responses: { 200: ok('The same channel order again: the first orderId, duplicate: true'), 201: ok('Placed'), ...errors } },
      get: {
        summary: 'Orders, newest first (operator, analyst)',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string' } }, { name: 'channel', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } }, { name: 'after', in: 'query', schema: { type: 'string' } }, minPosition,
        ],
        responses: { 200: ok('A page of orders with nextCursor'), ...errors },
      },
    },
    '/orders/{orderId}': {
      get: { summary: 'An order with its timeline; a pickup order lists its transfers to the store (OrderTransfer)', parameters: [path('orderId'), minPosition],
        responses: { 200: ok('Order'), 404: problem, ...errors } },
    },
    '/orders/{orderId}/cancel': {
      post: { summary: 'Cancel an order (client, operator)', parameters: [path('orderId'), idempotencyKey], requestBody: body(CancelOrderBody), responses: { 200: ok('Cancelled'), 404: problem, ...errors } },
    },
    '/orders/{orderId}/review': {
      post: { summary: 'Decide on an order on fraud hold (operator): approve releases it once paid for and allocated, reject rejects it',
        parameters: [path('orderId'), idempotencyKey], requestBody: body(ReviewOrderBody), responses: { 200: ok('Reviewed'), 404: problem, ...errors } },
    },
    '/orders/{orderId}/returns': {
      post: { summary: 'Ask to return delivered or collected units (client: its own orders; operator): 409 with the broken rule (return.not_shipped, return.exceeds_shipped, return.already_returned, return.not_delivered, return.window_closed) in `code`',
        parameters: [path('orderId'), idempotencyKey], requestBody: body(RequestReturnBody), responses: { 201: ok('returnId, orderId, status, lines, position'), 200: ok('The same return again (Idempotency-Key)'), 404: problem, ...errors } },
    },
    '/returns': {
      get: { summary: 'The returns desk: returns by status, oldest first (operator)',
        parameters: [{ name: 'status', in: 'query', schema: { type: 'string', enum: [...RETURN_STATUSES] } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } },
          { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 }, description: '`next` of the previous page' }, minPosition],
        responses: { 200: ok('returns, next, position'), ...errors } },
    },
    '/returns/{returnId}': {
      get: { summary: 'One return with its lines, label, tracking, receipts, refund and timeline (client: its own; operator)', parameters: [path('returnId'), minPosition],
        responses: { 200: ok('Return'), 404: problem, ...errors } },
    },
    '/returns/{returnId}/receive': {
      post: { summary: 'Receive units of a return at a location (operator): resellable ones back to stock, damaged ones into quarantine; more than the return holds is 409; each receipt is refunded by a job',
        parameters: [path('returnId'), idempotencyKey], requestBody: body(ReceiveReturnBody), responses: { 200: ok('returnId, receiptId, status, received, position'), 404: problem, ...errors } },
    },
    '/fraud/reviews': {
      get: { summary: 'Orders on fraud hold, oldest first, with score and reasons (operator)',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } }, minPosition], responses: { 200: ok('orders, position'), ...errors } },
    },
    '/fulfilments': {
      get: { summary: 'A location\'s fulfilment queue, oldest first; each with its labelFailure (null unless the label job gave up on it) (operator)',
        parameters: [{ name: 'locationId', in: 'query', schema: { type: 'string' } }, { name: 'status', in: 'query', schema: { type: 'string', enum: [...FULFILMENT_STATUSES] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } }, { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 }, description: '`next` of the previous page' }, minPosition],
        responses: { 200: ok('fulfilments, next, position'), ...errors } },
    },
    '/fulfilments/{fulfilmentId}': {
      get: { summary: 'One fulfilment with its lines, packages, shipment (label, choice, tracking, cancelledAt once voided), labelFailure (why the label job gave up, while it stands), a transfer\'s way or a pickup\'s inbound transfers, and timeline (operator)',
        parameters: [path('fulfilmentId'), minPosition], responses: { 200: ok('Fulfilment', ref('Fulfilment')), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/pick': {
      post: { summary: 'Record what was picked; fewer units than asked is a short pick: written off there and sourced elsewhere; a pickup whose transfers have not all arrived: 409 fulfilment.awaiting_transfer (operator)', parameters: [path('fulfilmentId'), idempotencyKey],
        requestBody: body(PickBody), responses: { 200: ok('fulfilmentId, status, position'), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/reject': {
      post: { summary: 'The location cannot do it: its reservation is released and the lines are sourced to the next best location (operator)', parameters: [path('fulfilmentId'), idempotencyKey],
        requestBody: body(RejectFulfilmentBody), responses: { 200: ok('fulfilmentId, status, position'), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/pack': {
      post: { summary: 'Record the packages; a carrier job rate-shops and buys the label (a transfer needs none). Packing again is refused (409) unless the label purchase failed with nothing bought: then it starts a new label job (operator)', parameters: [path('fulfilmentId'), idempotencyKey],
        requestBody: body(PackFulfilmentBody), responses: { 202: ok('fulfilmentId, status, position'), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/ship': {
      post: { summary: 'Handed to the carrier: the units leave the ledger, the card is captured for the shipment\'s share; a packed transfer leaves with the store replenishment run: its units leave the ledger with their reservation, in transit to the store, nothing captured (operator)',
        parameters: [path('fulfilmentId'), idempotencyKey], responses: { 200: ok('fulfilmentId, status, position'), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/receive': {
      post: { summary: 'The pickup store received a transfer on its way: its units are on the store\'s ledger, held for the order (for a closed order, available), and the pickup stops waiting for it; again changes nothing; not sent yet: 409 (operator)',
        parameters: [path('fulfilmentId'), idempotencyKey], responses: { 200: ok('fulfilmentId, status (received), position'), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/ready': {
      post: { summary: 'A pickup is waiting at the counter: the customer is sent a pickup code; it expires after PICKUP_EXPIRY_HOURS; before every transfer for it has arrived: 409 fulfilment.awaiting_transfer (operator)', parameters: [path('fulfilmentId'), idempotencyKey],
        responses: { 200: ok('fulfilmentId, status, position'), 404: problem, ...errors } },
    },
    '/fulfilments/{fulfilmentId}/collect': {
      post: { summary: 'The customer collects with the pickup code (a wrong code is 409); the card is captured (operator)', parameters: [path('fulfilmentId'), idempotencyKey],
        requestBody: body(CollectBody), responses: { 200: ok('fulfilmentId, status, position'), 404: problem, ...errors } },
    },
    '/carriers/{carrierId}/tracking': {
      post: { summary: 'A carrier\'s tracking update, signed with its secret: X-Carrier-Signature: sha256=<HMAC-SHA256 of "<X-Carrier-Timestamp>.<raw body>">', security: [],
        parameters: [path('carrierId'), { name: 'X-Carrier-Timestamp', in: 'header', required: true, schema: { type: 'string' } }, { name: 'X-Carrier-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: body(TrackingUpdateBody), responses: { 200: ok('trackingNumber, recorded, status, position'), 400: problem, 401: problem, 404: problem, 413: problem, 503: problem } },
    },
    '/carriers': {
      get: { summary: 'The carriers configured, each with its services and their transit days in the nearest zone (operator)', responses: { 200: ok('carriers'), ...errors } },
    },
    '/shipping/rates': {
      post: { summary: 'Quotes from every carrier that answers in time, cheapest first, without buying anything (client, operator)', parameters: [minPosition],
        requestBody: body(ShippingRatesBody), responses: { 200: ok('quotes, unavailable (carriers that did not answer in time), position'), 404: problem, ...errors } },
    },
    '/jobs/failed': {
      get: { summary: 'Jobs that failed past their retries or for good (a label no carrier could sell, say), and fulfilment steps a rule refused (queue fulfilment-steps), with queue, reason and the order, fulfilment, return or SKU they concern (operator)',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } }],
        responses: { 200: ok('jobs: [{ jobId, queue, name, reason, attempts, orderId, fulfilmentId, returnId, sku, eventId, failedAt }]'), ...errors } },
    },
    '/jobs/{jobId}/retry': {
      post: { summary: 'Retry a failed job with all its attempts, or run a refused fulfilment step again (operator); jobId as listed by /jobs/failed', parameters: [path('jobId')],
        responses: { 202: ok('Queued again'), 404: problem, ...errors } },
    },
    '/health': { get: { summary: 'Health of the service and its dependencies', security: [], responses: { 200: ok('ok'), 503: ok('degraded') } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
  },
};

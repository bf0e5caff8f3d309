import type { EventMetadata, RecordedEvent } from '../event-store/event-store.port.js';
import type { DomainEvent } from './decider.js';
import { withPurchaseAttempt } from './fulfilments/fulfilment.decider.js';
import { withCutoffHour } from './locations/location.decider.js';
import { withGiveBackDefaults } from './orders/order.events.js';

// The one seam where stored events become domain events. A type name never changes once stored;
// a changed shape gets a new version, and the older one is turned into it here.

/** A stored event as the domain knows it: its current type and data, in its stored envelope (id, stream, position). */
export type Recorded<E extends DomainEvent = DomainEvent> = Omit<RecordedEvent, 'type' | 'data'> & E;

/**
 * Turns an older version of an event into a newer one, renamed or reshaped. Registered under the
 * stored type it reads; it may return that same type in its current shape. It may read the stored
 * envelope's metadata (what caused the event), never change it.
 */
export type Upcaster = (event: DomainEvent, stored: { metadata: EventMetadata }) => DomainEvent;

/** Upcasters by the stored type they read. */
export type Upcasters = Readonly<Record<string, Upcaster>>;

/** The upcasters of every event stored in an older version. */
export const UPCASTERS: Upcasters = {
  LocationRegistered: withCutoffHour,
  LocationUpdated: withCutoffHour,
  OrderReallocated: withGiveBackDefaults,
  FulfilmentCarrierChosen: withPurchaseAttempt,
};

export type ToDomain = <E extends DomainEvent = DomainEvent>(recorded: RecordedEvent) => Recorded<E>;

/** Runs a stored event through the upcaster of its type, then of the type that gives, and so on: each once at most. */
export function createToDomain(upcasters: Upcasters): ToDomain {
  return <E extends DomainEvent>(recorded: RecordedEvent) => {
    if (!Object.hasOwn(upcasters, recorded.type)) return recorded as Recorded<E>;
    let event: DomainEvent = { type: recorded.type, data: recorded.data };
    const applied = new Set<string>();
    while (Object.hasOwn(upcasters, event.type) && !applied.has(event.type)) {
      applied.add(event.type);
      event = upcasters[event.type](event, recorded);
    }
    return { ...recorded, type: event.type, data: event.data } as Recorded<E>;
  };
}

export const toDomain: ToDomain = createToDomain(UPCASTERS);

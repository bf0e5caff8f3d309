import { ValidationError } from '../../platform/errors.js';
import type { Command, Decider, DomainEvent } from '../decider.js';

export type LocationType = 'warehouse' | 'store' | 'hub';

/** The hour (UTC) by which a parcel must be handed over to leave the same day, unless the location says otherwise. */
export const DEFAULT_CUTOFF_HOUR = 16;

export interface LocationDetails {
  locationId: string;
  name: string;
  type: LocationType;
  geo: { lat: number; lon: number };
  canShip: boolean;
  canPickup: boolean;
  /** Cost in minor units of handling one parcel here. */
  handlingCost: number;
  active: boolean;
  /** Fulfilments the location takes on in a (UTC) day; absent: no limit. */
  dailyCapacity?: number;
  /** Hour of the day (0-23, UTC) after which a parcel handed over leaves the next day. */
  cutoffHour: number;
}

export type LocationEvent =
  | DomainEvent<'LocationRegistered', LocationDetails & { at: string }>
  | DomainEvent<'LocationUpdated', LocationDetails & { at: string }>;

/**
 * Registers a location or replaces its details. Optional fields left out keep what the location
 * had (or their defaults); a `dailyCapacity` of null lifts the limit.
 */
export type RegisterLocationData = Omit<LocationDetails, 'handlingCost' | 'active' | 'dailyCapacity' | 'cutoffHour'>
  & { handlingCost?: number; active?: boolean; dailyCapacity?: number | null; cutoffHour?: number };

export type LocationCommand = Command<'RegisterLocation', RegisterLocationData>;

export type Location =
  | { status: 'none' }
  | { status: 'registered'; details: LocationDetails };

export const locationStream = (locationId: string): string => `location-${locationId}`;

export const locationDecider: Decider<Location, LocationCommand, LocationEvent> = {
  initialState: { status: 'none' },

  evolve(state, event) {
    switch (event.type) {
      case 'LocationRegistered':
      case 'LocationUpdated': {
        const { at: _at, ...details } = event.data;
        return { status: 'registered', details };
      }
      default: {
        const unknown: never = event;
        return unknownEvent(state, unknown);
      }
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'RegisterLocation': {
        const details = merged(state.status === 'registered' ? state.details : undefined, command.data);
        if (state.status === 'none') return [{ type: 'LocationRegistered', data: { ...details, at: command.metadata.now } }];
        if (sameDetails(state.details, details)) return [];
        return [{ type: 'LocationUpdated', data: { ...details, at: command.metadata.now } }];
      }
      default: {
        const unknown: never = command.type;
        throw new Error(`Unhandled command ${String(unknown)}`);
      }
    }
  },
};

/** Location events stored before locations had a cut-off hour take the default one. */
export function withCutoffHour(event: DomainEvent): DomainEvent {
  const data = event.data as Partial<LocationDetails>;
  return data.cutoffHour === undefined ? { type: event.type, data: { ...data, cutoffHour: DEFAULT_CUTOFF_HOUR } } : event;
}

function merged(before: LocationDetails | undefined, data: RegisterLocationData): LocationDetails {
  const { handlingCost, active, dailyCapacity, cutoffHour, ...given } = data;
  if (cutoffHour !== undefined && !(Number.isInteger(cutoffHour) && cutoffHour >= 0 && cutoffHour <= 23)) {
    throw new ValidationError('location.invalid_cutoff_hour', 'The cut-off hour must be a whole hour from 0 to 23 (UTC)');
  }
  if (dailyCapacity !== undefined && dailyCapacity !== null && !(Number.isInteger(dailyCapacity) && dailyCapacity >= 0)) {
    throw new ValidationError('location.invalid_daily_capacity', 'A daily capacity must be a whole number of fulfilments, 0 or more');
  }
  const capacity = dailyCapacity === undefined ? before?.dailyCapacity : dailyCapacity ?? undefined;
  return {
    ...given,
    handlingCost: handlingCost ?? before?.handlingCost ?? 0,
    active: active ?? before?.active ?? true,
    ...(capacity === undefined ? {} : { dailyCapacity: capacity }),
    cutoffHour: cutoffHour ?? before?.cutoffHour ?? DEFAULT_CUTOFF_HOUR,
  };
}

function sameDetails(a: LocationDetails, b: LocationDetails): boolean {
  return a.name === b.name && a.type === b.type && a.geo.lat === b.geo.lat && a.geo.lon === b.geo.lon
    && a.canShip === b.canShip && a.canPickup === b.canPickup && a.handlingCost === b.handlingCost && a.active === b.active
    && a.dailyCapacity === b.dailyCapacity && a.cutoffHour === b.cutoffHour;
}

function unknownEvent<S>(state: S, event: { type: string }): S {
  // Events of types this version does not know are skipped, so newer writers do not break older readers.
  void event;
  return state;
}

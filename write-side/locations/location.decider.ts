import type { Command, Decider, DomainEvent } from '../decider.js';

export type LocationType = 'warehouse' | 'store' | 'hub';

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
}

export type LocationEvent =
  | DomainEvent<'LocationRegistered', LocationDetails & { at: string }>
  | DomainEvent<'LocationUpdated', LocationDetails & { at: string }>;

export type LocationCommand = Command<'RegisterLocation', Omit<LocationDetails, 'handlingCost' | 'active'> & { handlingCost?: number; active?: boolean }>;

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
        const details: LocationDetails = {
          handlingCost: 0,
          active: true,
          ...(state.status === 'registered' ? pick(state.details) : {}),
          ...command.data,
        };
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

function pick(d: LocationDetails): Pick<LocationDetails, 'handlingCost' | 'active'> {
  return { handlingCost: d.handlingCost, active: d.active };
}

function sameDetails(a: LocationDetails, b: LocationDetails): boolean {
  return a.name === b.name && a.type === b.type && a.geo.lat === b.geo.lat && a.geo.lon === b.geo.lon
    && a.canShip === b.canShip && a.canPickup === b.canPickup && a.handlingCost === b.handlingCost && a.active === b.active;
}

function unknownEvent<S>(state: S, event: { type: string }): S {
  // Events of types this version does not know are skipped, so newer writers do not break older readers.
  void event;
  return state;
}

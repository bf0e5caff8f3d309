import type { LocationEvent } from '../write-side/locations/location.decider.js';
import type { Projection } from './projection.js';

export const locationsProjection: Projection<LocationEvent> = {
  name: 'locations',
  handles: ['LocationRegistered', 'LocationUpdated'] satisfies LocationEvent['type'][],
  async apply(event, trx) {
    const d = event.data;
    const row = {
      location_id: d.locationId, name: d.name, type: d.type, lat: d.geo.lat, lon: d.geo.lon,
      can_ship: d.canShip, can_pickup: d.canPickup, handling_cost: d.handlingCost, active: d.active,
      daily_capacity: d.dailyCapacity ?? null, cutoff_hour: d.cutoffHour, updated_at: d.at,
    };
    await trx('locations').insert({ ...row, registered_at: d.at }).onConflict('location_id').merge(Object.keys(row));
  },
};

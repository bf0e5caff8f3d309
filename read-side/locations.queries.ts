import type { Knex } from 'knex';

export async function listLocations(knex: Knex) {
  const rows = await knex('locations').orderBy('location_id');
  return rows.map((r) => ({
    locationId: r.location_id, name: r.name, type: r.type, geo: { lat: r.lat, lon: r.lon }, canShip: r.can_ship,
    canPickup: r.can_pickup, handlingCost: r.handling_cost, active: r.active,
    ...(r.daily_capacity === null ? {} : { dailyCapacity: r.daily_capacity as number }), cutoffHour: r.cutoff_hour as number,
    registeredAt: r.registered_at.toISOString(), updatedAt: r.updated_at.toISOString(),
  }));
}

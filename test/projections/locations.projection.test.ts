import { expect } from 'chai';
import type { Knex } from 'knex';
import { locationsProjection } from '../../projections/locations.projection.js';
import { listLocations } from '../../read-side/locations.queries.js';
import { locationStream, type LocationDetails, type LocationEvent } from '../../write-side/locations/location.decider.js';
import { recordedLog } from '../support/recorded-events.js';
import { readModelWorld } from '../support/world.js';

const WH: LocationDetails = { locationId: 'wh-1', name: 'Warehouse Leipzig', type: 'warehouse', geo: { lat: 51.34, lon: 12.37 }, canShip: true, canPickup: false, handlingCost: 150, active: true, cutoffHour: 16 };
const STORE: LocationDetails = { locationId: 'store-1', name: 'Store Berlin', type: 'store', geo: { lat: 52.52, lon: 13.4 }, canShip: false, canPickup: true, handlingCost: 90, active: true, dailyCapacity: 40, cutoffHour: 15 };

describe('locations projection', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  let record: ReturnType<typeof recordedLog>;
  beforeEach(async () => { ({ knex, cleanup } = await readModelWorld()); record = recordedLog(); });
  afterEach(async () => { await cleanup(); });

  const apply = (...events: LocationEvent[]) => knex.transaction(async (trx) => {
    for (const e of events) for (const r of record(locationStream(e.data.locationId), e)) await locationsProjection.apply(r, trx);
  });
  const registered = (d: LocationDetails, at: string): LocationEvent => ({ type: 'LocationRegistered', data: { ...d, at } });
  const updated = (d: LocationDetails, at: string): LocationEvent => ({ type: 'LocationUpdated', data: { ...d, at } });
  const rows = async () => (await knex('locations').orderBy('location_id')).map((r) => ({ ...r, registered_at: r.registered_at.toISOString(), updated_at: r.updated_at.toISOString() }));

  it('adds a row per registered location, with its details', async () => {
    await apply(registered(WH, '2026-11-26T10:00:00.000Z'), registered(STORE, '2026-11-26T10:05:00.000Z'));
    expect(await rows()).to.deep.equal([
      { location_id: 'store-1', name: 'Store Berlin', type: 'store', lat: 52.52, lon: 13.4, can_ship: false, can_pickup: true, handling_cost: 90, active: true,
        daily_capacity: 40, cutoff_hour: 15, registered_at: '2026-11-26T10:05:00.000Z', updated_at: '2026-11-26T10:05:00.000Z' },
      { location_id: 'wh-1', name: 'Warehouse Leipzig', type: 'warehouse', lat: 51.34, lon: 12.37, can_ship: true, can_pickup: false, handling_cost: 150, active: true,
        daily_capacity: null, cutoff_hour: 16, registered_at: '2026-11-26T10:00:00.000Z', updated_at: '2026-11-26T10:00:00.000Z' },
    ]);
  });

  it('changes the row in place on an update, keeping when the location was registered', async () => {
    await apply(registered(WH, '2026-11-26T10:00:00.000Z'));
    await apply(updated({ ...WH, name: 'Warehouse Leipzig Nord', canPickup: true, handlingCost: 120, active: false, geo: { lat: 51.4, lon: 12.4 }, dailyCapacity: 25, cutoffHour: 13 }, '2026-11-27T08:00:00.000Z'));
    expect(await rows()).to.deep.equal([
      { location_id: 'wh-1', name: 'Warehouse Leipzig Nord', type: 'warehouse', lat: 51.4, lon: 12.4, can_ship: true, can_pickup: true, handling_cost: 120, active: false,
        daily_capacity: 25, cutoff_hour: 13, registered_at: '2026-11-26T10:00:00.000Z', updated_at: '2026-11-27T08:00:00.000Z' },
    ]);
  });

  it('lifts the daily capacity when an update has none, and lists each location as the write side knows it', async () => {
    await apply(registered(STORE, '2026-11-26T10:00:00.000Z'), registered(WH, '2026-11-26T10:01:00.000Z'));
    const { dailyCapacity: _lifted, ...unlimited } = STORE;
    await apply(updated(unlimited, '2026-11-27T08:00:00.000Z'));
    expect((await rows()).map((r) => [r.location_id, r.daily_capacity, r.cutoff_hour])).to.deep.equal([['store-1', null, 15], ['wh-1', null, 16]]);
    await apply(updated({ ...WH, dailyCapacity: 0 }, '2026-11-27T09:00:00.000Z'));
    const listed = (await listLocations(knex)).map(({ registeredAt: _r, updatedAt: _u, ...details }) => details);
    expect(listed).to.deep.equal([unlimited, { ...WH, dailyCapacity: 0 }]);
  });
});

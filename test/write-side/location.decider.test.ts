import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ValidationError } from '../../platform/errors.js';
import { locationDecider, type LocationDetails, type LocationEvent } from '../../write-side/locations/location.decider.js';
import { toDomain } from '../../write-side/to-domain.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

const given = specFor(locationDecider);
const store1 = { locationId: 'store-1', name: 'Main St', type: 'store' as const, geo: { lat: 1, lon: 2 }, canShip: true, canPickup: true };
const details: LocationDetails = { ...store1, handlingCost: 0, active: true, cutoffHour: 16 };

describe('location decider', () => {
  describe('a location not yet registered', () => {
    it('is registered with default handling cost, active, no daily capacity and a 16:00 cut-off', () => {
      given([]).when({ type: 'RegisterLocation', data: store1, metadata: meta() })
        .then([{ type: 'LocationRegistered', data: { ...details, at: NOW } }]);
    });

    it('is registered with the daily capacity and cut-off hour it is given', () => {
      given([]).when({ type: 'RegisterLocation', data: { ...store1, dailyCapacity: 40, cutoffHour: 14 }, metadata: meta() })
        .then([{ type: 'LocationRegistered', data: { ...details, dailyCapacity: 40, cutoffHour: 14, at: NOW } }]);
    });

    it('refuses a cut-off hour outside 0-23 and a capacity that is not a whole number of fulfilments', () => {
      given([]).when({ type: 'RegisterLocation', data: { ...store1, cutoffHour: 24 }, metadata: meta() }).thenThrows(ValidationError, 'location.invalid_cutoff_hour');
      given([]).when({ type: 'RegisterLocation', data: { ...store1, cutoffHour: 9.5 }, metadata: meta() }).thenThrows(ValidationError, 'location.invalid_cutoff_hour');
      given([]).when({ type: 'RegisterLocation', data: { ...store1, dailyCapacity: -1 }, metadata: meta() }).thenThrows(ValidationError, 'location.invalid_daily_capacity');
    });
  });

  describe('a registered location', () => {
    const history: LocationEvent[] = [{ type: 'LocationRegistered', data: { ...details, handlingCost: 250, at: NOW } }];

    it('records an update when details change, keeping what the command leaves out', () => {
      given(history).when({ type: 'RegisterLocation', data: { ...store1, name: 'Main Street' }, metadata: meta() })
        .then([{ type: 'LocationUpdated', data: { ...details, name: 'Main Street', handlingCost: 250, at: NOW } }]);
    });

    it('records nothing when the same details arrive again', () => {
      given(history).when({ type: 'RegisterLocation', data: { ...store1, handlingCost: 250 }, metadata: meta() }).then([]);
    });

    it('can be deactivated', () => {
      given(history).when({ type: 'RegisterLocation', data: { ...store1, active: false }, metadata: meta() })
        .then([{ type: 'LocationUpdated', data: { ...details, handlingCost: 250, active: false, at: NOW } }]);
    });

    it('takes a daily capacity and a cut-off hour', () => {
      given(history).when({ type: 'RegisterLocation', data: { ...store1, dailyCapacity: 40, cutoffHour: 12 }, metadata: meta() })
        .then([{ type: 'LocationUpdated', data: { ...details, handlingCost: 250, dailyCapacity: 40, cutoffHour: 12, at: NOW } }]);
    });
  });

  describe('a location with a daily capacity', () => {
    const history: LocationEvent[] = [{ type: 'LocationRegistered', data: { ...details, dailyCapacity: 40, cutoffHour: 12, at: NOW } }];

    it('keeps its capacity and cut-off hour when an update leaves them out', () => {
      given(history).when({ type: 'RegisterLocation', data: store1, metadata: meta() }).then([]);
      given(history).when({ type: 'RegisterLocation', data: { ...store1, name: 'Main Street' }, metadata: meta() })
        .then([{ type: 'LocationUpdated', data: { ...details, name: 'Main Street', dailyCapacity: 40, cutoffHour: 12, at: NOW } }]);
    });

    it('records a changed capacity, and no limit once it is set to null', () => {
      given(history).when({ type: 'RegisterLocation', data: { ...store1, dailyCapacity: 60 }, metadata: meta() })
        .then([{ type: 'LocationUpdated', data: { ...details, dailyCapacity: 60, cutoffHour: 12, at: NOW } }]);
      given(history).when({ type: 'RegisterLocation', data: { ...store1, dailyCapacity: null }, metadata: meta() })
        .then([{ type: 'LocationUpdated', data: { ...details, cutoffHour: 12, at: NOW } }]);
    });
  });

  describe('a location event stored before locations had a cut-off hour', () => {
    const { cutoffHour: _none, ...old } = details;
    const stored = (type: string, data: unknown) => ({ id: randomUUID(), type, data, metadata: {}, streamId: 'location-store-1', revision: 0, position: 1, recordedAt: new Date() });

    it('comes out of the log with the default cut-off hour', () => {
      expect(toDomain(stored('LocationRegistered', { ...old, at: NOW })).data).to.deep.equal({ ...details, at: NOW });
      expect(toDomain(stored('LocationUpdated', { ...old, active: false, at: NOW })).data).to.deep.equal({ ...details, active: false, at: NOW });
    });

    it('keeps a cut-off hour it has', () => {
      expect(toDomain(stored('LocationUpdated', { ...old, cutoffHour: 9, at: NOW })).data).to.deep.equal({ ...details, cutoffHour: 9, at: NOW });
    });
  });
});

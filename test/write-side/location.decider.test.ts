import { locationDecider, type LocationDetails } from '../../write-side/locations/location.decider.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

const given = specFor(locationDecider);
const store1 = { locationId: 'store-1', name: 'Main St', type: 'store' as const, geo: { lat: 1, lon: 2 }, canShip: true, canPickup: true };
const details: LocationDetails = { ...store1, handlingCost: 0, active: true };

describe('location decider', () => {
  describe('a location not yet registered', () => {
    it('is registered with default handling cost and active', () => {
      given([]).when({ type: 'RegisterLocation', data: store1, metadata: meta() })
        .then([{ type: 'LocationRegistered', data: { ...details, at: NOW } }]);
    });
  });

  describe('a registered location', () => {
    const history = [{ type: 'LocationRegistered' as const, data: { ...details, handlingCost: 250, at: NOW } }];

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
  });
});

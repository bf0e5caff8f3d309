import { expect } from 'chai';
import { ValidationError } from '../../platform/errors.js';
import {
  DEFAULT_SOURCING_COSTS, distanceKm, planSourcing,
  type Allocation, type SourcingLocation, type SourcingPlan, type SourcingRequest,
} from '../../write-side/sourcing/sourcing.planner.js';

const BERLIN = { lat: 52.52, lon: 13.405 };
const BERLIN_MITTE_STORE = { lat: 52.5219, lon: 13.4132 };   // ~0.6 km from the customer
const POTSDAM = { lat: 52.3906, lon: 13.0645 };               // ~27 km
const LEIPZIG = { lat: 51.3397, lon: 12.3731 };               // ~150 km
const MUNICH = { lat: 48.1351, lon: 11.582 };                 // ~505 km

type Lines = { sku: string; quantity: number }[];

function loc(locationId: string, over: Partial<SourcingLocation> = {}): SourcingLocation {
  return { locationId, type: 'warehouse', geo: BERLIN, canShip: true, canPickup: false, active: true, handlingCost: 0, available: {}, ...over };
}

function ship(lines: Lines, speed: 'standard' | 'express' | 'cheapest' = 'standard', geo: { lat: number; lon: number } | null = BERLIN): SourcingRequest {
  const address = { line1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117', country: 'DE', ...(geo ? { geo } : {}) };
  return { lines, delivery: { method: 'ship', speed, address } };
}

const pickup = (lines: Lines, locationId: string): SourcingRequest => ({ lines, delivery: { method: 'pickup', locationId } });

function shipped(plan: SourcingPlan): Extract<SourcingPlan, { kind: 'ship' }> {
  if (!plan.fillable || plan.kind !== 'ship') throw new Error(`expected a ship plan, got: ${plan.why}`);
  return plan;
}

function collected(plan: SourcingPlan): Extract<SourcingPlan, { kind: 'pickup' }> {
  if (!plan.fillable || plan.kind !== 'pickup') throw new Error(`expected a pickup plan, got: ${plan.why}`);
  return plan;
}

function unfillable(plan: SourcingPlan): Extract<SourcingPlan, { fillable: false }> {
  if (plan.fillable) throw new Error(`expected an unfillable plan, got one from ${plan.allocations.map((a) => a.locationId)}`);
  return plan;
}

const usedIds = (allocations: Allocation[]) => allocations.map((a) => a.locationId);

/** Every allocation stays within what its location has available. */
function expectWithinAvailable(allocations: Allocation[], locations: SourcingLocation[]): void {
  for (const a of allocations) {
    const at = locations.find((l) => l.locationId === a.locationId)!;
    for (const line of a.lines) expect(line.quantity, `${a.locationId} ${line.sku}`).to.be.at.most(at.available[line.sku] ?? 0);
  }
}

function totalOf(allocations: Allocation[], sku: string): number {
  return allocations.flatMap((a) => a.lines).filter((l) => l.sku === sku).reduce((n, l) => n + l.quantity, 0);
}

describe('sourcing planner', () => {
  describe('a cheap-handling far warehouse and an expensive-handling near store', () => {
    const locations = [
      loc('wh-leipzig', { geo: LEIPZIG, handlingCost: 50, available: { 'SKU-1': 10 } }),
      loc('store-mitte', { type: 'store', geo: BERLIN_MITTE_STORE, handlingCost: 600, available: { 'SKU-1': 10 } }),
    ];

    it('standard shipping picks the lowest total cost: the far warehouse', () => {
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 2 }]), locations));
      expect(plan.allocations).to.deep.equal([{ locationId: 'wh-leipzig', lines: [{ sku: 'SKU-1', quantity: 2 }] }]);
      const km = distanceKm(LEIPZIG, BERLIN);
      expect(plan.cost).to.equal(Math.round(50 + DEFAULT_SOURCING_COSTS.shippingBase + DEFAULT_SOURCING_COSTS.shippingPerKm * km));
      expect(plan.why).to.match(/^wh-leipzig fills the whole order at the lowest cost/);
    });

    it('cheapest shipping costs the same way as standard', () => {
      expect(usedIds(shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 2 }], 'cheapest'), locations)).allocations)).to.deep.equal(['wh-leipzig']);
    });

    it('express shipping picks the nearest location and says how far it is', () => {
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 2 }], 'express'), locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['store-mitte']);
      expect(plan.why).to.equal(`express: nearest location that can fill, store-mitte, 1 km away (cost ${plan.cost})`);
    });
  });

  describe('one warehouse with every line and two cheaper stores with one line each', () => {
    const locations = [
      loc('wh-1', { geo: POTSDAM, handlingCost: 400, available: { 'SKU-A': 5, 'SKU-B': 5 } }),
      loc('store-a', { type: 'store', handlingCost: 0, available: { 'SKU-A': 5 } }),
      loc('store-b', { type: 'store', handlingCost: 0, available: { 'SKU-B': 5 } }),
    ];
    const lines = [{ sku: 'SKU-A', quantity: 1 }, { sku: 'SKU-B', quantity: 1 }];

    it('ships one parcel from the warehouse rather than splitting', () => {
      const plan = shipped(planSourcing(ship(lines), locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['wh-1']);
      expect(plan.allocations[0].lines).to.deep.equal(lines);
    });

    it('splits when one parcel would cost more than two (express from far away)', () => {
      const far = [{ ...locations[0], geo: MUNICH }, locations[1], locations[2]];
      const plan = shipped(planSourcing(ship(lines, 'express'), far));
      expect(usedIds(plan.allocations).sort()).to.deep.equal(['store-a', 'store-b']);
      expect(plan.cost).to.equal(300 + 300 + DEFAULT_SOURCING_COSTS.extraParcelPenalty);
      expect(plan.why).to.match(/^splitting across .* less than the best single location wh-1/);
    });
  });

  describe('no single location holds every line', () => {
    it('splits across the locations that together fill the order and says why', () => {
      const locations = [
        loc('store-a', { type: 'store', available: { 'SKU-A': 2 } }),
        loc('store-b', { type: 'store', available: { 'SKU-B': 2 } }),
        loc('wh-far', { geo: MUNICH, available: { 'SKU-A': 9 } }),
      ];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-A', quantity: 2 }, { sku: 'SKU-B', quantity: 1 }]), locations));
      expect(plan.allocations).to.deep.equal([
        { locationId: 'store-a', lines: [{ sku: 'SKU-A', quantity: 2 }] },
        { locationId: 'store-b', lines: [{ sku: 'SKU-B', quantity: 1 }] },
      ]);
      expect(plan.cost).to.equal(300 + 300 + 500);
      expect(plan.why).to.equal('no single location holds every line; split across store-a and store-b (cost 1,100)');
    });

    it('splits one line across two locations, cheaper location first, never beyond what each has', () => {
      const locations = [
        loc('wh-1', { geo: LEIPZIG, available: { 'SKU-A': 4 } }),
        loc('store-1', { type: 'store', available: { 'SKU-A': 3 } }),
      ];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-A', quantity: 5 }]), locations));
      expect(plan.allocations).to.deep.equal([
        { locationId: 'store-1', lines: [{ sku: 'SKU-A', quantity: 3 }] },
        { locationId: 'wh-1', lines: [{ sku: 'SKU-A', quantity: 2 }] },
      ]);
      expectWithinAvailable(plan.allocations, locations);
      expect(plan.why).to.match(/^no single location can fill SKU-A; split across store-1 and wh-1/);
    });

    it('needs four locations in a small network and still fills the order', () => {
      const locations = ['a', 'b', 'c', 'd', 'e'].map((id) => loc(`store-${id}`, { type: 'store', available: { 'SKU-A': 1 } }));
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-A', quantity: 4 }]), locations));
      expect(plan.allocations).to.have.length(4);
      expect(totalOf(plan.allocations, 'SKU-A')).to.equal(4);
      expectWithinAvailable(plan.allocations, locations);
    });

    it('falls back to greedy search in a large network, taking the locations that fill the most per cost', () => {
      const locations = Array.from({ length: 20 }, (_, i) => loc(`store-${String(i).padStart(2, '0')}`, { type: 'store', handlingCost: i * 10, available: { 'SKU-A': 1 } }));
      locations.push(loc('wh-big', { geo: MUNICH, available: { 'SKU-A': 3, 'SKU-B': 1 } }));
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-A', quantity: 5 }, { sku: 'SKU-B', quantity: 1 }]), locations));
      expect(usedIds(plan.allocations)).to.include.members(['wh-big', 'store-00', 'store-01']);
      expect(plan.allocations).to.have.length(3);
      expect(totalOf(plan.allocations, 'SKU-A')).to.equal(5);
      expectWithinAvailable(plan.allocations, locations);
    });
  });

  describe('ship-from-store', () => {
    it('a store that can ship wins when it is nearest and cheapest', () => {
      const locations = [loc('wh-1', { geo: LEIPZIG, available: { 'SKU-1': 5 } }), loc('store-1', { type: 'store', geo: BERLIN_MITTE_STORE, available: { 'SKU-1': 5 } })];
      expect(usedIds(shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }]), locations)).allocations)).to.deep.equal(['store-1']);
    });

    it('a store that cannot ship is ineligible however near it is', () => {
      const locations = [loc('wh-1', { geo: LEIPZIG, available: { 'SKU-1': 5 } }), loc('store-1', { type: 'store', canShip: false, geo: BERLIN_MITTE_STORE, available: { 'SKU-1': 5 } })];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }], 'express'), locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['wh-1']);
      expect(plan.candidates.find((c) => c.locationId === 'store-1')).to.include({ eligible: false, reason: 'cannot ship' });
    });
  });

  describe('an inactive location', () => {
    it('is ignored even when it would be the cheapest', () => {
      const locations = [loc('wh-closed', { active: false, available: { 'SKU-1': 5 } }), loc('wh-open', { geo: LEIPZIG, available: { 'SKU-1': 5 } })];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }]), locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['wh-open']);
      expect(plan.candidates.find((c) => c.locationId === 'wh-closed')).to.include({ eligible: false, reason: 'inactive' });
    });
  });

  describe('endless aisle: a store order for home delivery', () => {
    it('is filled from a far warehouse when the local store has none', () => {
      const locations = [
        loc('store-mitte', { type: 'store', geo: BERLIN_MITTE_STORE, canPickup: true, available: { 'SKU-1': 0 } }),
        loc('wh-munich', { geo: MUNICH, available: { 'SKU-1': 3 } }),
      ];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }]), locations));
      expect(plan.allocations).to.deep.equal([{ locationId: 'wh-munich', lines: [{ sku: 'SKU-1', quantity: 1 }] }]);
      expect(plan.candidates.find((c) => c.locationId === 'store-mitte')).to.include({ eligible: false, reason: 'no stock of SKU-1' });
    });
  });

  describe('buy online, pick up in store', () => {
    const store = loc('store-1', { type: 'store', canPickup: true, canShip: false, handlingCost: 100, available: { 'SKU-A': 1, 'SKU-B': 4 } });

    it('allocates at the store with no transfers when it holds every line', () => {
      const plan = collected(planSourcing(pickup([{ sku: 'SKU-B', quantity: 2 }], 'store-1'), [store, loc('wh-1', { available: { 'SKU-B': 9 } })]));
      expect(plan.pickupLocationId).to.equal('store-1');
      expect(plan.allocations).to.deep.equal([{ locationId: 'store-1', lines: [{ sku: 'SKU-B', quantity: 2 }] }]);
      expect(plan.transfers).to.deep.equal([]);
      expect(plan.cost).to.equal(100);
    });

    it('reserves the store units first and transfers the rest from the cheapest eligible source', () => {
      const locations = [
        store,
        loc('store-2', { type: 'store', canShip: false, geo: BERLIN_MITTE_STORE, available: { 'SKU-A': 9 } }),
        loc('wh-near', { geo: POTSDAM, available: { 'SKU-A': 5 } }),
        loc('wh-far', { geo: MUNICH, available: { 'SKU-A': 5 } }),
      ];
      const plan = collected(planSourcing(pickup([{ sku: 'SKU-A', quantity: 3 }, { sku: 'SKU-B', quantity: 1 }], 'store-1'), locations));
      expect(plan.allocations).to.deep.equal([
        { locationId: 'store-1', lines: [{ sku: 'SKU-A', quantity: 1 }, { sku: 'SKU-B', quantity: 1 }] },
        { locationId: 'wh-near', lines: [{ sku: 'SKU-A', quantity: 2 }] },
      ]);
      expect(plan.transfers).to.deep.equal([{ from: 'wh-near', to: 'store-1', lines: [{ sku: 'SKU-A', quantity: 2 }] }]);
      const transfer = Math.round(DEFAULT_SOURCING_COSTS.transferBase + DEFAULT_SOURCING_COSTS.transferPerKm * distanceKm(POTSDAM, BERLIN));
      expect(plan.cost).to.equal(100 + transfer);
      expect(plan.candidates.find((c) => c.locationId === 'store-2')).to.include({ eligible: false, reason: 'store that cannot ship' });
      expect(plan.why).to.match(/^store-1 holds 2 of 4 units; the rest transfers from wh-near/);
    });

    it('is not fillable, naming the shortfall, when store and network together fall short', () => {
      const plan = unfillable(planSourcing(pickup([{ sku: 'SKU-A', quantity: 4 }], 'store-1'), [store, loc('wh-1', { available: { 'SKU-A': 2 } })]));
      expect(plan.missing).to.deep.equal([{ sku: 'SKU-A', quantity: 1 }]);
    });

    it('is not fillable when the pickup location is unknown, inactive or does not offer pickup', () => {
      const lines = [{ sku: 'SKU-B', quantity: 1 }];
      expect(unfillable(planSourcing(pickup(lines, 'store-x'), [store])).why).to.equal('pickup location store-x is unknown, so the order cannot be collected there');
      expect(unfillable(planSourcing(pickup(lines, 'store-1'), [{ ...store, active: false }])).why).to.equal('pickup location store-1 is inactive, so the order cannot be collected there');
      const noPickup = unfillable(planSourcing(pickup(lines, 'store-1'), [{ ...store, canPickup: false }]));
      expect(noPickup.why).to.equal('pickup location store-1 does not offer pickup, so the order cannot be collected there');
      expect(noPickup.missing).to.deep.equal(lines);
    });
  });

  describe('a location at its daily capacity', () => {
    const lines = [{ sku: 'SKU-1', quantity: 1 }];

    it('is skipped, and its candidate entry says it is full today', () => {
      const locations = [
        loc('store-mitte', { type: 'store', geo: BERLIN_MITTE_STORE, dailyCapacity: 40, fulfilmentsToday: 40, available: { 'SKU-1': 5 } }),
        loc('wh-leipzig', { geo: LEIPZIG, available: { 'SKU-1': 5 } }),
      ];
      const plan = shipped(planSourcing(ship(lines), locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['wh-leipzig']);
      expect(plan.candidates.find((c) => c.locationId === 'store-mitte'))
        .to.include({ eligible: false, reason: 'at daily capacity: 40 of 40 fulfilments today' });
    });

    it('is used while it has room today, and a location without a capacity is never full', () => {
      const nearStore = (fulfilmentsToday: number) => loc('store-mitte', { type: 'store', geo: BERLIN_MITTE_STORE, dailyCapacity: 40, fulfilmentsToday, available: { 'SKU-1': 5 } });
      expect(usedIds(shipped(planSourcing(ship(lines), [nearStore(39), loc('wh-leipzig', { geo: LEIPZIG, available: { 'SKU-1': 5 } })])).allocations))
        .to.deep.equal(['store-mitte']);
      const unlimited = loc('store-mitte', { type: 'store', geo: BERLIN_MITTE_STORE, fulfilmentsToday: 500, available: { 'SKU-1': 5 } });
      expect(usedIds(shipped(planSourcing(ship(lines), [unlimited])).allocations)).to.deep.equal(['store-mitte']);
    });

    it('leaves the order unfillable when it is the only one with stock', () => {
      const plan = unfillable(planSourcing(ship(lines), [loc('wh-1', { dailyCapacity: 0, available: { 'SKU-1': 5 } })]));
      expect(plan.missing).to.deep.equal(lines);
      expect(plan.candidates).to.deep.equal([{ locationId: 'wh-1', eligible: false, reason: 'at daily capacity: 0 of 0 fulfilments today', distanceKm: 0, canFill: [] }]);
    });

    it('as the pickup store, uses none of its own stock and has every line transferred in', () => {
      const store = loc('store-1', { type: 'store', canPickup: true, dailyCapacity: 10, fulfilmentsToday: 12, available: { 'SKU-1': 5 } });
      const plan = collected(planSourcing(pickup(lines, 'store-1'), [store, loc('wh-near', { geo: POTSDAM, available: { 'SKU-1': 5 } })]));
      expect(plan.allocations).to.deep.equal([{ locationId: 'wh-near', lines }]);
      expect(plan.transfers).to.deep.equal([{ from: 'wh-near', to: 'store-1', lines }]);
      expect(plan.candidates[0]).to.include({ locationId: 'store-1', reason: 'pickup location; at daily capacity: 12 of 10 fulfilments today, so none of its own stock is used' });
      expect(plan.why).to.match(/^store-1 fills nothing itself \(at daily capacity: 12 of 10 fulfilments today\); everything transfers from wh-near/);
    });

    it('as a transfer source for a pickup, is skipped', () => {
      const store = loc('store-1', { type: 'store', canPickup: true, available: {} });
      const locations = [store, loc('wh-near', { geo: POTSDAM, dailyCapacity: 5, fulfilmentsToday: 5, available: { 'SKU-1': 5 } }), loc('wh-far', { geo: MUNICH, available: { 'SKU-1': 5 } })];
      const plan = collected(planSourcing(pickup(lines, 'store-1'), locations));
      expect(plan.transfers).to.deep.equal([{ from: 'wh-far', to: 'store-1', lines }]);
      expect(plan.candidates.find((c) => c.locationId === 'wh-near')).to.include({ eligible: false, reason: 'at daily capacity: 5 of 5 fulfilments today' });
    });
  });

  describe('locations excluded from the request', () => {
    const exclude = [{ locationId: 'store-mitte', reason: 'excluded: it rejected this part of the order' }];

    it('fill nothing, however cheap, and their candidate entries give the reason', () => {
      const locations = [
        loc('store-mitte', { type: 'store', geo: BERLIN_MITTE_STORE, available: { 'SKU-1': 5 } }),
        loc('wh-leipzig', { geo: LEIPZIG, available: { 'SKU-1': 5 } }),
      ];
      const plan = shipped(planSourcing({ ...ship([{ sku: 'SKU-1', quantity: 2 }]), exclude }, locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['wh-leipzig']);
      expect(plan.candidates.find((c) => c.locationId === 'store-mitte')).to.include({ eligible: false, reason: 'excluded: it rejected this part of the order' });
    });

    it('as the pickup store, still take the order in while the lines transfer from elsewhere', () => {
      const store = loc('store-mitte', { type: 'store', canPickup: true, geo: BERLIN_MITTE_STORE, available: { 'SKU-1': 5 } });
      const plan = collected(planSourcing({ ...pickup([{ sku: 'SKU-1', quantity: 2 }], 'store-mitte'), exclude }, [store, loc('wh-near', { geo: POTSDAM, available: { 'SKU-1': 5 } })]));
      expect(plan.pickupLocationId).to.equal('store-mitte');
      expect(plan.allocations).to.deep.equal([{ locationId: 'wh-near', lines: [{ sku: 'SKU-1', quantity: 2 }] }]);
      expect(plan.transfers).to.deep.equal([{ from: 'wh-near', to: 'store-mitte', lines: [{ sku: 'SKU-1', quantity: 2 }] }]);
    });
  });

  describe('not enough stock anywhere', () => {
    it('lists per SKU the units no eligible location can provide, with no partial allocation', () => {
      const locations = [
        loc('wh-1', { available: { 'SKU-A': 4, 'SKU-B': 5 } }),
        loc('store-1', { type: 'store', available: { 'SKU-A': 3 } }),
        loc('wh-closed', { active: false, available: { 'SKU-A': 100, 'SKU-C': 100 } }),
      ];
      const plan = unfillable(planSourcing(ship([{ sku: 'SKU-A', quantity: 10 }, { sku: 'SKU-B', quantity: 2 }, { sku: 'SKU-C', quantity: 1 }]), locations));
      expect(plan.missing).to.deep.equal([{ sku: 'SKU-A', quantity: 3 }, { sku: 'SKU-C', quantity: 1 }]);
      expect(plan).not.to.have.property('partial');
      expect(plan.why).to.equal('not enough stock in the network: SKU-A short by 3, SKU-C short by 1');
    });
  });

  describe('the same SKU on two lines', () => {
    it('is summed before sourcing, so only a location with the total qualifies', () => {
      const locations = [loc('store-1', { type: 'store', available: { 'SKU-A': 4 } }), loc('wh-1', { geo: LEIPZIG, available: { 'SKU-A': 5 } })];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-A', quantity: 2 }, { sku: 'SKU-A', quantity: 3 }]), locations));
      expect(plan.allocations).to.deep.equal([{ locationId: 'wh-1', lines: [{ sku: 'SKU-A', quantity: 5 }] }]);
    });
  });

  describe('two identical locations', () => {
    it('are tied by locationId, whatever order they arrive in', () => {
      const a = loc('wh-a', { available: { 'SKU-1': 5 } });
      const b = loc('wh-b', { available: { 'SKU-1': 5 } });
      const one = planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }]), [b, a]);
      const other = planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }]), [a, b]);
      expect(usedIds(shipped(one).allocations)).to.deep.equal(['wh-a']);
      expect(other).to.deep.equal(one);
    });
  });

  describe('the candidates', () => {
    it('list every location with why it is or is not eligible, its distance, what it can fill and its cost', () => {
      const locations = [
        loc('wh-closed', { active: false, available: { 'SKU-1': 5 } }),
        loc('store-noship', { type: 'store', canShip: false, available: { 'SKU-1': 5 } }),
        loc('wh-empty', { available: { 'SKU-9': 5 } }),
        loc('wh-partial', { available: { 'SKU-1': 1 } }),
        loc('wh-full', { geo: POTSDAM, available: { 'SKU-1': 5 } }),
      ];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 2 }]), locations));
      const byId = Object.fromEntries(plan.candidates.map((c) => [c.locationId, c]));
      expect(plan.candidates).to.have.length(5);
      expect(byId['wh-closed']).to.include({ eligible: false, reason: 'inactive' });
      expect(byId['store-noship']).to.include({ eligible: false, reason: 'cannot ship' });
      expect(byId['wh-empty']).to.include({ eligible: false, reason: 'no stock of SKU-1' });
      expect(byId['wh-partial']).to.include({ eligible: true, reason: 'can fill part; SKU-1 short of 1', cost: 300 });
      expect(byId['wh-full']).to.include({ eligible: true, reason: 'can fill every line' });
      expect(byId['wh-full'].canFill).to.deep.equal([{ sku: 'SKU-1', quantity: 2 }]);
      expect(byId['wh-full'].distanceKm).to.be.closeTo(27, 2);
    });
  });

  describe('an address without coordinates', () => {
    it('ignores distance, costs by handling only, and says so', () => {
      const locations = [loc('wh-far', { geo: MUNICH, handlingCost: 10, available: { 'SKU-1': 1 } }), loc('store-near', { type: 'store', handlingCost: 20, available: { 'SKU-1': 1 } })];
      const plan = shipped(planSourcing(ship([{ sku: 'SKU-1', quantity: 1 }], 'express', null), locations));
      expect(usedIds(plan.allocations)).to.deep.equal(['wh-far']);
      expect(plan.cost).to.equal(310);
      expect(plan.candidates.every((c) => c.distanceKm === undefined)).to.equal(true);
      expect(plan.why).to.match(/no coordinates/);
    });
  });

  describe('invalid quantities', () => {
    it('are refused', () => {
      expect(() => planSourcing(ship([{ sku: 'SKU-1', quantity: 0 }]), [])).to.throw(ValidationError);
      expect(() => planSourcing(ship([{ sku: 'SKU-1', quantity: 1.5 }]), [])).to.throw(ValidationError);
    });
  });

  describe('distanceKm', () => {
    it('puts Berlin and Paris about 878 km apart (within 1%)', () => {
      expect(distanceKm({ lat: 52.52, lon: 13.405 }, { lat: 48.8566, lon: 2.3522 })).to.be.closeTo(878, 8.78);
    });

    it('is zero for the same point and symmetric', () => {
      expect(distanceKm(BERLIN, BERLIN)).to.equal(0);
      expect(distanceKm(BERLIN, MUNICH)).to.equal(distanceKm(MUNICH, BERLIN));
    });
  });
});

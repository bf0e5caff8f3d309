import type { PackageSpec } from '../fulfilments/fulfilment.events.js';
import type { LocationDetails } from '../locations/location.decider.js';
import { distanceKm } from '../sourcing/sourcing.planner.js';

// How a customer's parcel comes back: to which location, and in which boxes. Pure rules for the
// return label job.

/**
 * Where a return's parcel is sent: an active location that ships (a carrier comes by, so it can
 * take parcels in), warehouses before stores and hubs, then the nearest to the customer by
 * great-circle distance, then by id. Undefined when no location can take it.
 */
export function receivingLocation<L extends Pick<LocationDetails, 'locationId' | 'type' | 'geo' | 'active' | 'canShip'>>(
  locations: readonly L[], from: { lat: number; lon: number },
): L | undefined {
  const rank = (l: L) => (l.type === 'warehouse' ? 0 : 1);
  return locations
    .filter((l) => l.active && l.canShip)
    .map((l) => ({ l, km: distanceKm(from, l.geo) }))
    .sort((a, b) => rank(a.l) - rank(b.l) || a.km - b.km || (a.l.locationId < b.l.locationId ? -1 : a.l.locationId > b.l.locationId ? 1 : 0))[0]?.l;
}

/**
 * The boxes the returned units travel back in: the customer reuses the parcels they came in.
 * The returned units are taken from the order's outbound packages in the order those shipped;
 * each package that carries some keeps its size, and its weight in proportion to the units that
 * come back in it (at least a gram). Units found in no package are answered in `missing`.
 */
export function returnParcels(lines: readonly { sku: string; quantity: number }[], shipped: readonly PackageSpec[]): { packages: PackageSpec[]; missing: { sku: string; quantity: number }[] } {
  const left = new Map<string, number>();
  for (const l of lines) left.set(l.sku, (left.get(l.sku) ?? 0) + l.quantity);
  const packages: PackageSpec[] = [];
  for (const pkg of shipped) {
    const back: { sku: string; quantity: number }[] = [];
    for (const l of pkg.lines) {
      const n = Math.min(left.get(l.sku) ?? 0, l.quantity);
      if (n === 0) continue;
      left.set(l.sku, left.get(l.sku)! - n);
      back.push({ sku: l.sku, quantity: n });
    }
    if (back.length === 0) continue;
    const units = pkg.lines.reduce((n, l) => n + l.quantity, 0);
    const returned = back.reduce((n, l) => n + l.quantity, 0);
    const { weightGrams, lengthCm, widthCm, heightCm } = pkg;
    packages.push({ weightGrams: Math.max(1, Math.round((weightGrams * returned) / units)), lengthCm, widthCm, heightCm, lines: back });
  }
  return { packages, missing: [...left].filter(([, n]) => n > 0).map(([sku, quantity]) => ({ sku, quantity })) };
}

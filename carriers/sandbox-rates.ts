import type { SandboxCarrierId } from '../platform/config.js';
import { distanceKm } from '../write-side/sourcing/sourcing.planner.js';
import type { PackageSpec, Quote, RateRequest } from './carrier.port.js';

// The sandbox carriers' price lists and service levels, and the pure rules they quote by: a zone
// from the great-circle distance to the address, a weight band from the billable weight (the
// heavier of the actual and the dimensional weight, L*W*H / divisor), transit days per service
// plus days for far zones, counted in working days (Monday to Friday) from the handover day.

export interface CarrierProfile {
  carrierId: SandboxCarrierId;
  name: string;
  /** Tracking numbers are this prefix and a serial of `trackingDigits` digits. */
  trackingPrefix: string;
  trackingDigits: number;
  /** Zone n holds distances below zonesKm[n]; the last zone is the rest, and an address without coordinates. */
  zonesKm: number[];
  /** Upper bounds of the weight bands, in grams; a heavier package is not carried. */
  bandsGrams: number[];
  /** Price per package of the base service, rates[zone][band], in minor units of the currency asked for. */
  rates: number[][];
  /** cm³ per kg: the smaller it is, the more a bulky light package costs. */
  dimDivisor: number;
  /** The longest side carried. */
  maxLengthCm: number;
  /** Transit days added for each zone. */
  extraDaysByZone: number[];
  services: { code: string; name: string; transitDays: number; priceFactor: number }[];
  /** Its API answers this many times slower than the configured latency. */
  latencyFactor: number;
}

export const SANDBOX_CARRIERS: Record<SandboxCarrierId, CarrierProfile> = {
  nationalpost: {
    carrierId: 'nationalpost', name: 'National Post', trackingPrefix: 'NP', trackingDigits: 9,
    zonesKm: [500, 2000],
    bandsGrams: [500, 1000, 2000, 5000, 10_000, 20_000],
    rates: [
      [350, 420, 560, 790, 1190, 1890],
      [690, 790, 990, 1490, 2290, 3490],
      [1290, 1590, 2190, 3290, 4990, 7490],
    ],
    dimDivisor: 6000, maxLengthCm: 100, extraDaysByZone: [0, 2, 5],
    services: [
      { code: 'economy', name: 'Parcel Economy', transitDays: 4, priceFactor: 1 },
      { code: 'priority', name: 'Parcel Priority', transitDays: 2, priceFactor: 1.5 },
    ],
    latencyFactor: 1.5,
  },
  parcelnet: {
    carrierId: 'parcelnet', name: 'ParcelNet', trackingPrefix: 'PN', trackingDigits: 12,
    zonesKm: [100, 300, 700, 1500],
    bandsGrams: [1000, 3000, 5000, 10_000, 20_000, 31_500],
    rates: [
      [450, 490, 540, 640, 820, 990],
      [490, 540, 600, 720, 930, 1140],
      [560, 620, 700, 850, 1110, 1380],
      [690, 770, 880, 1090, 1450, 1820],
      [1190, 1350, 1560, 1990, 2690, 3390],
    ],
    dimDivisor: 5000, maxLengthCm: 175, extraDaysByZone: [0, 0, 1, 1, 3],
    services: [
      { code: 'ground', name: 'Ground', transitDays: 3, priceFactor: 1 },
      { code: 'priority', name: 'Priority', transitDays: 2, priceFactor: 1.3 },
    ],
    latencyFactor: 1,
  },
  jetexpress: {
    carrierId: 'jetexpress', name: 'JetExpress', trackingPrefix: 'JX', trackingDigits: 10,
    zonesKm: [50, 250, 800, 2500],
    bandsGrams: [500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 50_000, 70_000],
    rates: [
      [890, 990, 1190, 1490, 1990, 2890, 3790, 5490, 6990],
      [1090, 1190, 1390, 1790, 2390, 3490, 4590, 6590, 8490],
      [1390, 1490, 1790, 2290, 3090, 4490, 5890, 8490, 10_990],
      [1890, 2090, 2490, 3190, 4290, 6190, 8190, 11_790, 15_290],
      [3490, 3890, 4590, 5890, 7990, 11_490, 15_190, 21_890, 28_390],
    ],
    dimDivisor: 4000, maxLengthCm: 270, extraDaysByZone: [0, 0, 0, 1, 2],
    services: [
      { code: 'express', name: 'Express', transitDays: 1, priceFactor: 1 },
      { code: 'express_saver', name: 'Express Saver', transitDays: 2, priceFactor: 0.8 },
    ],
    latencyFactor: 0.75,
  },
};

/** The zone of an address: by distance from the location, the farthest when the address has no coordinates. */
export function zoneOf(p: CarrierProfile, r: Pick<RateRequest, 'from' | 'to'>): number {
  if (!r.to.geo) return p.zonesKm.length;
  const km = distanceKm(r.from.geo, r.to.geo);
  const zone = p.zonesKm.findIndex((limit) => km < limit);
  return zone === -1 ? p.zonesKm.length : zone;
}

/** The weight charged for: the actual weight or the dimensional weight, whichever is heavier, in grams. */
export function billableGrams(p: CarrierProfile, pkg: PackageSpec): number {
  return Math.max(pkg.weightGrams, Math.ceil((pkg.lengthCm * pkg.widthCm * pkg.heightCm * 1000) / p.dimDivisor));
}

/** The base price of one package in a zone, or undefined when the carrier does not carry it. */
export function packagePrice(p: CarrierProfile, zone: number, pkg: PackageSpec): number | undefined {
  if (Math.max(pkg.lengthCm, pkg.widthCm, pkg.heightCm) > p.maxLengthCm) return undefined;
  const band = p.bandsGrams.findIndex((limit) => billableGrams(p, pkg) <= limit);
  return band === -1 ? undefined : p.rates[zone][band];
}

/** One quote per service, or none when some package is too heavy or too long for this carrier. */
export function priceQuotes(p: CarrierProfile, r: RateRequest): Quote[] {
  const zone = zoneOf(p, r);
  const prices = r.packages.map((pkg) => packagePrice(p, zone, pkg));
  if (prices.length === 0 || prices.some((x) => x === undefined)) return [];
  const base = (prices as number[]).reduce((a, b) => a + b, 0);
  return p.services.map((s) => {
    const transitDays = s.transitDays + p.extraDaysByZone[zone];
    return {
      carrierId: p.carrierId, service: s.code, amount: Math.round(base * s.priceFactor), currency: r.currency,
      transitDays, estimatedDelivery: isoDate(addWorkingDays(handoverDay(r.readyAt, r.from.cutoffHour), transitDays)),
    };
  });
}

/** The day the parcels leave: the day they are ready, or the next one when ready at or after the cut-off hour, moved on to a working day. */
export function handoverDay(readyAt: string, cutoffHour: number): Date {
  const ready = new Date(readyAt);
  const day = new Date(Date.UTC(ready.getUTCFullYear(), ready.getUTCMonth(), ready.getUTCDate()));
  if (ready.getUTCHours() >= cutoffHour) day.setUTCDate(day.getUTCDate() + 1);
  while (!isWorkingDay(day)) day.setUTCDate(day.getUTCDate() + 1);
  return day;
}

export function addWorkingDays(day: Date, n: number): Date {
  const d = new Date(day);
  for (let left = n; left > 0;) {
    d.setUTCDate(d.getUTCDate() + 1);
    if (isWorkingDay(d)) left--;
  }
  return d;
}

const isWorkingDay = (d: Date) => d.getUTCDay() !== 0 && d.getUTCDay() !== 6;
export const isoDate = (d: Date) => d.toISOString().slice(0, 10);

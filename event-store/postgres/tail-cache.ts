import type { RecordedEvent } from '../event-store.port.js';

/**
 * The newest stretch of the log this process has read, so several subscriptions near the head
 * (projections, the dispatcher) share one query and one parse per event. A read "after X"
 * returns every event above X that had committed, and positions are handed out in commit order,
 * so a stretch read once never changes.
 */
export class TailCache {
  private events: RecordedEvent[] = [];
  /** The stretch covers every event with a position in (from, to]. */
  private from = -1;
  private to = -1;

  constructor(private readonly capacity = 20_000) {}

  /** Events after `after` from the cache, or undefined when it does not cover that point. */
  read(after: number, maxCount: number): RecordedEvent[] | undefined {
    if (after < this.from || after >= this.to) return undefined;
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].position <= after) lo = mid + 1; else hi = mid;
    }
    return this.events.slice(lo, lo + maxCount);
  }

  /** Records the answer to a read of at most `maxCount` events after `after`. */
  remember(after: number, read: RecordedEvent[]): void {
    if (read.length === 0) return;
    const last = read[read.length - 1].position;
    if (after === this.to) {
      this.events.push(...read);
    } else if (after >= this.from && after < this.to) {
      if (last <= this.to) return;
      this.events.push(...read.filter((e) => e.position > this.to));
    } else if (after > this.to) {
      this.events = [...read];
      this.from = after;
    } else {
      return;                                        // an older stretch (a reader catching up): keep the head
    }
    this.to = last;
    if (this.events.length > 2 * this.capacity) {                // trim now and then, not on every read
      const drop = this.events.length - this.capacity;
      this.from = this.events[drop - 1].position;
      this.events = this.events.slice(drop);
    }
  }
}

import type { Knex } from 'knex';
import type { DomainEvent } from '../write-side/decider.js';
import type { Recorded } from '../write-side/to-domain.js';

/**
 * A read model fed from the log, with the events it handles as domain events (through toDomain).
 * `apply` runs inside the runner's transaction, with the checkpoint.
 */
export interface Projection<E extends DomainEvent = DomainEvent> {
  name: string;
  handles: readonly E['type'][];
  apply(event: Recorded<E>, trx: Knex.Transaction): Promise<void>;
  /**
   * Optional: the same effect as `apply` on each event in turn, in fewer statements. The runner
   * uses it for whole batches and falls back to `apply` event by event when a batch fails.
   */
  applyBatch?(events: Recorded<E>[], trx: Knex.Transaction): Promise<void>;
}

/** A recorded fact a projection could not apply; recorded beside the rows and skipped. */
export class UnappliableEvent extends Error {}

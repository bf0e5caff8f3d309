import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/event-store.port.js';

/** A read model fed from the log. `apply` runs inside the runner's transaction, with the checkpoint. */
export interface Projection {
  name: string;
  handles: readonly string[];
  apply(event: RecordedEvent, trx: Knex.Transaction): Promise<void>;
  /**
   * Optional: the same effect as `apply` on each event in turn, in fewer statements. The runner
   * uses it for whole batches and falls back to `apply` event by event when a batch fails.
   */
  applyBatch?(events: RecordedEvent[], trx: Knex.Transaction): Promise<void>;
}

/** A recorded fact a projection could not apply; recorded beside the rows and skipped. */
export class UnappliableEvent extends Error {}

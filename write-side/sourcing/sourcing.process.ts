import type { Knex } from 'knex';
import type { EventStore, RecordedEvent } from '../../event-store/event-store.port.js';
import type { Logger } from '../../platform/logger.js';
import type { CommandMetadata } from '../decider.js';
import { ProcessManagerRunner, type ProcessManager, type ProcessManagerOptions } from '../process-manager.js';
import type { Allocator } from './allocator.js';

/**
 * Sourcing as a process manager on the log: it allocates each placed order and releases each
 * cancelled or rejected one, one at a time per order. After a takeover, what an order in the
 * window holds without a recorded allocation is released before it is allocated again.
 */
export function sourcing(allocator: Allocator, options: { name?: string; now?: () => Date } = {}): ProcessManager {
  const name = options.name ?? 'sourcing';
  const orderIdOf = (e: RecordedEvent) => (e.data as { orderId: string }).orderId;
  return {
    name,
    handles: ['OrderPlaced', 'OrderCancelled', 'OrderRejected'],
    keyOf: orderIdOf,
    async react(e, context) {
      const orderId = orderIdOf(e);
      const metadata: CommandMetadata = {
        now: (options.now?.() ?? new Date()).toISOString(), correlationId: orderId, causationId: e.id, actor: { kind: 'system', id: name },
      };
      if (e.type === 'OrderPlaced') await allocator.allocate(orderId, metadata, context);
      else {
        context.signal.throwIfAborted();
        await allocator.releaseOrder(orderId, metadata);
      }
    },
  };
}

/** The sourcing process manager, run on the log (see ProcessManagerRunner for the turn, lease and window). */
export class SourcingProcess {
  private readonly runner: ProcessManagerRunner;

  constructor(
    store: EventStore,
    knex: Knex,
    allocator: Allocator,
    log: Logger,
    options: Omit<ProcessManagerOptions, 'turnKey'> & { name?: string; now?: () => Date } = {},
  ) {
    const { name, now, ...running } = options;
    const manager = sourcing(allocator, { name, now });
    // The turn is the advisory lock earlier versions took, so an old and a new process never both hold it.
    this.runner = new ProcessManagerRunner(store, knex, manager, log, { ...running, turnKey: `/sourcing/${manager.name}` });
  }

  start(): Promise<void> { return this.runner.start(); }

  /** Stops taking work, lets what started finish, records the checkpoint and hands the turn on. */
  stop(): Promise<void> { return this.runner.stop(); }
}

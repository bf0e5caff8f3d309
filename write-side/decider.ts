import { v5 as uuidv5 } from 'uuid';
import type { EventMetadata } from '../event-store/event-store.port.js';

/** What every command carries besides its data: when it was issued and by whom. */
export interface CommandMetadata extends EventMetadata {
  /** ISO timestamp taken once by the caller; deciders never read a clock. */
  now: string;
  /**
   * Set when the command may be a retry (an Idempotency-Key): the ids it makes (event ids, a new
   * transfer's id) are derived from it, so a retry makes the same ones. Not recorded on events.
   */
  idempotencySeed?: string;
}

const SEEDED_IDS = '3b0c8a52-7a0e-4f7e-9a57-4d2f0c6a9b11';

/** A fresh random id, or one derived from the command's idempotency seed and a purpose. */
export function idFor(metadata: CommandMetadata, purpose: string, fresh: () => string): string {
  return metadata.idempotencySeed ? uuidv5(`${metadata.idempotencySeed}\u0000${purpose}`, SEEDED_IDS) : fresh();
}

export interface Command<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
  metadata: CommandMetadata;
}

export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

export interface Decider<State, C extends Command, E extends DomainEvent> {
  initialState: State;
  evolve(state: State, event: E): State;
  /** Pure: no I/O, no clock. Returns no events when the outcome already holds. */
  decide(command: C, state: State): E[];
}

export function fold<State, E extends DomainEvent>(decider: Pick<Decider<State, never, E>, 'initialState' | 'evolve'>, events: E[]): State {
  return events.reduce(decider.evolve, decider.initialState);
}

import type { EventMetadata } from '../event-store/event-store.port.js';

/** What every command carries besides its data: when it was issued and by whom. */
export interface CommandMetadata extends EventMetadata {
  /** ISO timestamp taken once by the caller; deciders never read a clock. */
  now: string;
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

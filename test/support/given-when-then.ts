import { expect } from 'chai';
import type { AppError } from '../../platform/errors.js';
import { fold, type Command, type Decider, type DomainEvent } from '../../write-side/decider.js';

export const NOW = '2026-11-26T10:00:00.000Z';
export const meta = (now = NOW) => ({ now, correlationId: 'corr', actor: { kind: 'api' as const, role: 'admin' } });

/** given(events).when(command).then(events) | .thenThrows(ErrorClass, code) for a decider. */
export function specFor<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>) {
  return (history: E[]) => ({
    when(command: C) {
      const run = () => decider.decide(command, fold(decider, history));
      return {
        then(expected: E[]) {
          expect(run()).to.deep.equal(expected);
        },
        thenThrows(errorClass: new (...args: never[]) => AppError, code?: string) {
          let thrown: unknown;
          try {
            run();
          } catch (err) {
            thrown = err;
          }
          expect(thrown, 'an error').to.be.instanceOf(errorClass);
          if (code) expect((thrown as AppError).code).to.equal(code);
        },
      };
    },
  });
}

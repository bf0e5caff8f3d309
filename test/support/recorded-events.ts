import { v7 as uuid } from 'uuid';
import type { DomainEvent } from '../../write-side/decider.js';
import type { Recorded } from '../../write-side/to-domain.js';

/**
 * Events as a projection receives them from the log, built in the test: each gets an id, the
 * next global position and the next revision of its stream.
 */
export function recordedLog() {
  let position = 0;
  const revisions = new Map<string, number>();
  return function record<E extends DomainEvent>(streamId: string, ...events: E[]): Recorded<E>[] {
    return events.map((e) => {
      const revision = (revisions.get(streamId) ?? -1) + 1;
      revisions.set(streamId, revision);
      return { ...e, id: uuid(), metadata: {}, streamId, revision, position: ++position, recordedAt: new Date() };
    });
  };
}

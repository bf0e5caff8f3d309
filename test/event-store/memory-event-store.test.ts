import { expect } from 'chai';
import { v7 as uuid } from 'uuid';
import { ConflictError } from '../../platform/errors.js';
import { MemoryEventStore } from '../support/memory-event-store.js';
import { eventStoreContract } from './event-store.contract.js';

// The in-memory store the job tests run the write side on: it must keep the promises the real adapters keep.

eventStoreContract('in memory (test/support/memory-event-store.ts)', async () => {
  const store = new MemoryEventStore();
  return { store, cleanup: () => store.close() };
});

describe('in-memory event store, where the contract leaves room', () => {
  const ev = (id = uuid()) => ({ id, type: 'A', data: { at: new Date(0) }, metadata: {} });

  it('refuses an event id already used in another stream, as the PostgreSQL store does', async () => {
    const store = new MemoryEventStore();
    const e = ev();
    await store.append('s-1', [e], 'no_stream');
    try {
      await store.append('s-2', [e], 'no_stream');
      expect.fail('expected a ConflictError');
    } catch (err) {
      expect(err).to.be.instanceOf(ConflictError);
      expect((err as ConflictError).code).to.equal('event.duplicate_id');
    }
    expect(await store.readStream('s-2')).to.deep.equal([]);
  });

  it('keeps what a jsonb column keeps, and hands out copies', async () => {
    const store = new MemoryEventStore();
    await store.append('s-1', [ev()], 'no_stream');
    const [first] = await store.readStream('s-1');
    expect(first.data).to.deep.equal({ at: '1970-01-01T00:00:00.000Z' });
    (first.data as { at: string }).at = 'changed';
    expect((await store.readStream('s-1'))[0].data).to.deep.equal({ at: '1970-01-01T00:00:00.000Z' });
  });
});

import { expect } from 'chai';
import type { RecordedEvent } from '../../event-store/event-store.port.js';
import { TailCache } from '../../event-store/postgres/tail-cache.js';

const at = (...positions: number[]): RecordedEvent[] => positions.map((position) => ({
  id: `e${position}`, type: 'T', data: {}, metadata: {}, streamId: 's', revision: position, position, recordedAt: new Date(0),
}));
const positions = (events: RecordedEvent[] | undefined) => events?.map((e) => e.position);

describe('tail cache', () => {
  it('answers reads inside the stretch it has seen, including across gaps in positions', () => {
    const cache = new TailCache();
    cache.remember(10, at(11, 12, 15, 16));
    expect(positions(cache.read(10, 10))).to.deep.equal([11, 12, 15, 16]);
    expect(positions(cache.read(12, 1))).to.deep.equal([15]);
    expect(positions(cache.read(13, 10))).to.deep.equal([15, 16]);
  });

  it('does not answer at or beyond its end, nor before its start', () => {
    const cache = new TailCache();
    cache.remember(10, at(11, 12));
    expect(cache.read(12, 10)).to.equal(undefined);
    expect(cache.read(9, 10)).to.equal(undefined);
    expect(cache.read(20, 10)).to.equal(undefined);
  });

  it('extends the stretch with a read from its end, and restarts it on a read elsewhere', () => {
    const cache = new TailCache();
    cache.remember(0, at(1, 2));
    cache.remember(2, at(4, 5));
    expect(positions(cache.read(0, 10))).to.deep.equal([1, 2, 4, 5]);
    cache.remember(1, at(2, 4, 5, 7));
    expect(positions(cache.read(0, 10))).to.deep.equal([1, 2, 4, 5, 7]);
    cache.remember(100, at(101));
    expect(cache.read(0, 10)).to.equal(undefined);
    expect(positions(cache.read(100, 10))).to.deep.equal([101]);
  });

  it('keeps the newest stretch when a reader far behind reads older events', () => {
    const cache = new TailCache();
    cache.remember(100, at(101, 102));
    cache.remember(3, at(4, 5));
    expect(cache.read(3, 10)).to.equal(undefined);
    expect(positions(cache.read(100, 10))).to.deep.equal([101, 102]);
  });

  it('keeps only the newest events past its capacity', () => {
    const cache = new TailCache(3);
    cache.remember(0, at(1, 2, 3, 4, 5, 6, 7));
    expect(cache.read(0, 10)).to.equal(undefined);
    expect(positions(cache.read(4, 10))).to.deep.equal([5, 6, 7]);
  });

  it('ignores an empty read', () => {
    const cache = new TailCache();
    cache.remember(5, []);
    expect(cache.read(5, 10)).to.equal(undefined);
  });
});

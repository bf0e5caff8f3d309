import { expect } from 'chai';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Dispatcher, JOB_ROUTES } from '../../jobs/dispatcher.js';
import { createQueues, QUEUES, type QueueName } from '../../jobs/queues.js';
import { createLogger } from '../../platform/logger.js';
import { deleteQueueKeys } from '../support/service-harness.js';
import { TEST_REDIS_URL, uniqueName } from '../support/test-env.js';
import { eventStoreWorld, readModelWorld, writeHistory } from '../support/world.js';

const log = createLogger('silent');

describe('job dispatcher', function () {
  this.timeout(60_000);
  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  let placedEventIds: string[];
  let redis: Redis;

  before(async () => {
    world = await eventStoreWorld();
    await writeHistory(world.write, 150);
    placedEventIds = (await world.store.readAll({ maxCount: 100_000 })).filter((e) => e.type === 'OrderPlaced').map((e) => e.id);
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => { redis.disconnect(); await world.cleanup(); });

  async function setting() {
    const rm = await readModelWorld();
    const prefix = uniqueName('oms-test');
    const queues = createQueues(redis, prefix);
    return {
      rm, prefix, queues,
      async jobIds(): Promise<string[]> {
        const jobs = await queues.get(QUEUES.fraudScoring)!.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
        return jobs.map((j) => j.id!).sort();
      },
      async checkpoint(): Promise<number> {
        const row = await rm.knex('dispatcher_checkpoints').where({ name: 'jobs' }).first('position');
        return row ? Number(row.position) : 0;
      },
      async cleanup() {
        for (const q of queues.values()) await q.close();
        await deleteQueueKeys(prefix);
        await rm.cleanup();
      },
    };
  }

  async function until(probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('enqueues one job per placed order, with the event id as job id', async () => {
    const s = await setting();
    try {
      const d = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log);
      await d.start();
      const head = await world.store.headPosition();
      await until(async () => (await s.checkpoint()) === head);
      await d.stop();
      expect(await s.jobIds()).to.deep.equal([...placedEventIds].sort());
      const job = (await s.queues.get(QUEUES.fraudScoring)!.getJob(placedEventIds[0]))!;
      expect(job.data).to.have.keys(['orderId', 'eventId', 'eventType', 'position']);
    } finally {
      await s.cleanup();
    }
  });

  it('enqueues each job once when restarted mid-stream', async () => {
    const s = await setting();
    try {
      const head = await world.store.headPosition();
      const first = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { batchSize: 13 });
      await first.start();
      await until(async () => (await s.checkpoint()) > head / 2);
      await first.stop();
      expect(await s.checkpoint()).to.be.below(head);
      const second = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { batchSize: 13 });
      await second.start();
      await until(async () => (await s.checkpoint()) === head);
      await second.stop();
      expect(await s.jobIds()).to.deep.equal([...placedEventIds].sort());
    } finally {
      await s.cleanup();
    }
  });

  it('enqueues each job once when it dies after enqueuing but before its checkpoint commits', async () => {
    const s = await setting();
    try {
      const real = s.queues.get(QUEUES.fraudScoring)!;
      let crashes = 0;
      // Enqueue succeeds, then the process "dies" before the checkpoint: the batch is replayed.
      const flaky = new Proxy(real, {
        get(target, prop, receiver) {
          if (prop === 'addBulk') {
            return async (jobs: Parameters<Queue['addBulk']>[0]) => {
              const added = await target.addBulk(jobs);
              if (crashes < 3) { crashes++; throw new Error('crashed after enqueue'); }
              return added;
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      });
      const queues = new Map<QueueName, Queue>([[QUEUES.fraudScoring, flaky]]);
      const head = await world.store.headPosition();
      const d = new Dispatcher(world.store, s.rm.knex, queues, redis, log, { batchSize: 17, routes: JOB_ROUTES.filter((r) => r.queue === QUEUES.fraudScoring) });
      await d.start();
      await until(async () => (await s.checkpoint()) === head);
      await d.stop();
      expect(crashes).to.equal(3);
      expect(await s.jobIds()).to.deep.equal([...placedEventIds].sort());
      const counts = await real.getJobCounts('waiting');
      expect(counts.waiting).to.equal(placedEventIds.length);
    } finally {
      await s.cleanup();
    }
  });

  it('enqueues each job once with two dispatchers running side by side', async () => {
    const s = await setting();
    try {
      const head = await world.store.headPosition();
      const a = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { batchSize: 11 });
      const b = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { batchSize: 11 });
      await Promise.all([a.start(), b.start()]);
      await until(async () => (await s.checkpoint()) === head);
      await Promise.all([a.stop(), b.stop()]);
      const counts = await s.queues.get(QUEUES.fraudScoring)!.getJobCounts('waiting');
      expect(counts.waiting).to.equal(placedEventIds.length);
    } finally {
      await s.cleanup();
    }
  });

  describe('when Redis loses what it held', () => {
    it('hands every job not yet finished to Redis again, and none that finished', async () => {
      const s = await setting();
      const routes = JOB_ROUTES.filter((r) => r.queue === QUEUES.fraudScoring);
      const fraud = s.queues.get(QUEUES.fraudScoring)!;
      const finished = new Set(placedEventIds.slice(0, 40));
      const worker = new Worker(QUEUES.fraudScoring, async (job) => {
        if (!finished.has(job.id!)) await new Promise(() => undefined);        // the rest stay active, as if slow
      }, { connection: redis, prefix: s.prefix, concurrency: 500 });
      try {
        const d = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { routes, reconcileMs: 60_000, reconcileMinAgeMs: 0 });
        await d.start();
        const head = await world.store.headPosition();
        await until(async () => (await s.checkpoint()) === head);
        await until(async () => (await fraud.getJobCounts('completed')).completed === 40);
        await d.reconcile();
        await worker.close(true);
        await deleteQueueKeys(s.prefix);                                       // Redis comes back empty
        expect(await s.jobIds()).to.deep.equal([]);
        await d.reconcile();
        await d.stop();
        expect(await s.jobIds()).to.deep.equal(placedEventIds.filter((id) => !finished.has(id)).sort());
      } finally {
        await worker.close(true);
        await s.cleanup();
      }
    });

    it('starts again from the position below which every job has finished, and keeps jobs that failed for good without running them again', async () => {
      const s = await setting();
      const routes = JOB_ROUTES.filter((r) => r.queue === QUEUES.fraudScoring);
      const fraud = s.queues.get(QUEUES.fraudScoring)!;
      const [broken] = placedEventIds;
      const worker = new Worker(QUEUES.fraudScoring, async (job) => {
        if (job.id === broken) throw new UnrecoverableError('cannot be scored');
      }, { connection: redis, prefix: s.prefix, concurrency: 50 });
      try {
        const first = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { routes, reconcileMs: 50, reconcileMinAgeMs: 0 });
        await first.start();
        const head = await world.store.headPosition();
        await until(async () => Number((await s.rm.knex('dispatcher_checkpoints').where({ name: 'jobs' }).first('settled')).settled) === head);
        await first.stop();
        const kept = await s.rm.knex('failed_jobs').select('queue', 'job_id');
        expect(kept).to.deep.equal([{ queue: QUEUES.fraudScoring, job_id: broken }]);
        await worker.close();
        await deleteQueueKeys(s.prefix);
        // Everything before the head has finished: a new dispatcher reads nothing again, and the job
        // that failed for good stays kept, not run again by itself (retrying it is an operator's call).
        const second = new Dispatcher(world.store, s.rm.knex, s.queues, redis, log, { routes, reconcileMs: 60_000 });
        await second.start();
        await second.reconcile();
        await second.stop();
        expect(await s.jobIds()).to.deep.equal([]);
        expect(await s.rm.knex('failed_jobs').select('queue', 'job_id')).to.deep.equal([{ queue: QUEUES.fraudScoring, job_id: broken }]);
        expect(await fraud.getJob(broken)).to.equal(undefined);
      } finally {
        await worker.close();
        await s.cleanup();
      }
    });
  });
});

import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { addLogJobs, type LogJob, type QueueName } from './queues.js';

type JobState = 'missing' | 'completed' | 'failed' | 'open';

/** The most jobs whose state one reconciliation asks Redis about. */
const MAX_CHECKED = 20_000;
const CHUNK = 2_000;
/** Jobs younger than this are not asked about yet: most finish within it. */
const MIN_AGE_MS = 2_000;
/** How often the jobs that failed for good are looked at (besides after Redis lost its data). */
const FAILED_EVERY_MS = 60_000;

interface Pending { job: LogJob; trackedAt: number }

/**
 * The jobs a dispatcher has handed to Redis and not yet seen finished. Redis may lose what it
 * holds (a restart without persistence, the last second of an AOF, a failover to a replica that
 * had not caught up), so the log, not Redis, guarantees the work: each reconciliation asks Redis
 * about the outstanding jobs, hands back to it every one it no longer knows (same job id, so a job
 * it does know is never doubled; processors are idempotent and providers keyed), and lets go of
 * those that finished. A job finishes only after its effect is recorded in PostgreSQL, so a job
 * seen finished needs nothing more even if Redis later forgets it. Jobs that failed for good are
 * kept in `failed_jobs`, so they are not lost from the operators' view either.
 *
 * `settled` (kept in the dispatcher's checkpoint row) is the position below which every job has
 * finished: a dispatcher that starts again reads the log from there, so what was outstanding when
 * it stopped is tracked again. An epoch key written to Redis, and kept beside the checkpoint,
 * tells when Redis has come back empty.
 */
export class OutstandingJobs {
  private pending: Pending[] = [];
  private failedCheckedAt = 0;
  private dispatchedUpTo = 0;
  private epoch?: string;
  /** The epoch was made by this start: Redis not knowing it yet is no loss. */
  private freshEpoch = false;
  private running?: Promise<void>;

  constructor(
    private readonly knex: Knex,
    private readonly queues: Map<QueueName, Queue>,
    /** The Redis the queues use. */
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly options: { name: string; metrics?: Metrics; onRedisReset?: () => Promise<void>; minAgeMs?: number },
  ) {}

  /** Where a dispatcher starting now reads the log from; makes this deployment's epoch on first start. */
  async start(): Promise<number> {
    const { name } = this.options;
    const made = randomUUID();
    await this.knex.raw('INSERT INTO dispatcher_checkpoints (name, position, settled) VALUES (?, 0, 0) ON CONFLICT (name) DO NOTHING', [name]);
    const { rows: [row] } = await this.knex.raw(
      'UPDATE dispatcher_checkpoints SET redis_epoch = coalesce(redis_epoch, ?) WHERE name = ? RETURNING settled, position, redis_epoch',
      [made, name],
    );
    this.epoch = row.redis_epoch as string;
    this.freshEpoch = this.epoch === made;
    const from = Number(row.settled ?? row.position);
    this.dispatchedUpTo = from;
    return from;
  }

  /** Records jobs just handed to Redis (in log order) and the position dispatched up to. */
  track(jobs: LogJob[], upTo: number): void {
    const trackedAt = Date.now();
    for (const job of jobs) this.pending.push({ job, trackedAt });
    this.dispatchedUpTo = Math.max(this.dispatchedUpTo, upTo);
  }

  get outstanding(): number { return this.pending.length; }

  /** One reconciliation at a time; a call while one runs waits for it. */
  reconcile(): Promise<void> {
    this.running ??= this.reconcileOnce().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async reconcileOnce(): Promise<void> {
    const reset = await this.redisWasReset();
    if (reset) {
      this.log.warn({ outstanding: this.pending.length }, 'Redis has lost its data: handing it every outstanding job again from the log');
      await this.options.onRedisReset?.();
    }
    const old = Date.now() - (this.options.minAgeMs ?? MIN_AGE_MS);
    const checked = reset ? this.pending.slice() : this.pending.slice(0, MAX_CHECKED).filter((p) => p.trackedAt <= old);
    const states = await this.statesOf(checked.map((p) => p.job));
    const missing = checked.filter((_, i) => states[i] === 'missing').map((p) => p.job);
    const failed = checked.filter((_, i) => states[i] === 'failed').map((p) => p.job);
    const done = new Set(checked.filter((_, i) => states[i] === 'completed' || states[i] === 'failed'));
    await this.enqueue(missing);
    if (failed.length > 0) await this.keepFailed(failed);
    if (done.size > 0) this.pending = this.pending.filter((p) => !done.has(p));
    const settled = this.pending.length > 0 ? this.pending[0].job.position - 1 : this.dispatchedUpTo;
    await this.knex('dispatcher_checkpoints').where({ name: this.options.name }).update({ settled: this.knex.raw('greatest(coalesce(settled, 0), ?)', [settled]) });
    if (reset || Date.now() - this.failedCheckedAt >= FAILED_EVERY_MS) await this.forgetRetriedFailures();
    if (reset) await this.redis.set(this.epochKey(), this.epoch!);
    this.options.metrics?.jobsOutstanding.set(this.pending.length);
  }

  /** Whether Redis no longer holds this deployment's epoch key (it came back empty, or is another Redis). */
  private async redisWasReset(): Promise<boolean> {
    const seen = await this.redis.get(this.epochKey());
    if (seen === this.epoch) {
      this.freshEpoch = false;
      return false;
    }
    if (seen === null && this.freshEpoch) {
      await this.redis.set(this.epochKey(), this.epoch!, 'NX');
      this.freshEpoch = false;
      return false;
    }
    return true;
  }

  private epochKey(): string { return `${this.anyQueue().opts.prefix}:oms:epoch:${this.options.name}`; }

  private anyQueue(): Queue { return this.queues.values().next().value as Queue; }

  /** Each job's state as Redis knows it, asked in pipelines. */
  private async statesOf(jobs: LogJob[]): Promise<JobState[]> {
    const states: JobState[] = [];
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const chunk = jobs.slice(i, i + CHUNK);
      const pipeline = this.redis.pipeline();
      for (const j of chunk) {
        const q = this.queues.get(j.queue)!;
        pipeline.hget(q.toKey(j.jobId), 'timestamp');
        pipeline.zscore(q.toKey('completed'), j.jobId);
        pipeline.zscore(q.toKey('failed'), j.jobId);
      }
      const replies = (await pipeline.exec()) ?? [];
      for (let k = 0; k < chunk.length; k++) {
        const [[e1, created], [e2, completed], [e3, failed]] = replies.slice(k * 3, k * 3 + 3) as [Error | null, unknown][];
        const err = e1 ?? e2 ?? e3;
        if (err) throw err;
        states.push(created === null ? 'missing' : completed !== null ? 'completed' : failed !== null ? 'failed' : 'open');
      }
    }
    return states;
  }

  /**
   * Hands jobs to Redis again, marked `recovered`: whatever their earlier runs did is unknown (Redis
   * forgot their attempts), so processors treat them as possibly run before, as they treat a retry.
   */
  private async enqueue(jobs: LogJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const again = jobs.map((j) => ({ ...j, data: { ...j.data, recovered: true } }));
    for (const [queue, n] of await addLogJobs(this.queues, again)) this.options.metrics?.jobsRecovered.inc({ queue }, n);
    this.log.warn({ jobs: jobs.length }, 'jobs Redis no longer knew were handed to it again');
  }

  /** Keeps jobs that failed for good, with why they failed as Redis has it. */
  private async keepFailed(jobs: LogJob[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const j of jobs) pipeline.hget(this.queues.get(j.queue)!.toKey(j.jobId), 'failedReason');
    const reasons = ((await pipeline.exec()) ?? []).map(([err, reason]) => (err ? null : (reason as string | null)));
    await keepFailedJobs(this.knex, jobs.map((j, i) => ({ ...j, reason: reasons[i] ?? null })));
  }

  /** Lets go of the kept failures whose jobs an operator retried and that have now completed. */
  private async forgetRetriedFailures(): Promise<void> {
    this.failedCheckedAt = Date.now();
    for (let after = { position: -1, jobId: '' }; ;) {
      const rows = await this.knex('failed_jobs').whereRaw('(position, job_id) > (?, ?)', [after.position, after.jobId]).orderBy(['position', 'job_id']).limit(CHUNK)
        .select<{ queue: QueueName; job_id: string; name: string; data: Record<string, unknown>; position: number }[]>('queue', 'job_id', 'name', 'data', 'position');
      const jobs = rows.filter((r) => this.queues.has(r.queue)).map((r): LogJob => ({ queue: r.queue, jobId: r.job_id, name: r.name, data: r.data, position: Number(r.position) }));
      const states = await this.statesOf(jobs);
      const completed = jobs.filter((_, i) => states[i] === 'completed');
      if (completed.length > 0) {
        await this.knex('failed_jobs').whereIn(['queue', 'job_id'], completed.map((j) => [j.queue, j.jobId])).delete();
      }
      if (rows.length < CHUNK) return;
      after = { position: Number(rows[rows.length - 1].position), jobId: rows[rows.length - 1].job_id };
    }
  }
}

/**
 * Jobs that failed for good are kept in PostgreSQL, committed durably (the service's read-model
 * connections commit asynchronously), so operators still see them, and can retry them, after
 * Redis has forgotten them, or when they never were in Redis (a refused fulfilment step). They are
 * never run again by themselves: a retry is an operator's call. A job kept already stays as it was.
 */
export async function keepFailedJobs(knex: Knex, jobs: (LogJob & { reason: string | null })[]): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw('SET LOCAL synchronous_commit = on');
    await trx('failed_jobs')
      .insert(jobs.map((j) => ({ queue: j.queue, job_id: j.jobId, name: j.name, data: JSON.stringify(j.data), position: j.position, reason: j.reason })))
      .onConflict(['queue', 'job_id']).ignore();
  });
}

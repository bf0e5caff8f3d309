import Router from '@koa/router';
import type { Job, Queue } from 'bullmq';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import { addLogJobs, type LogJob, type QueueName } from '../jobs/queues.js';
import type { ApiDeps } from './deps.js';
import { allow } from './auth.js';
import { intParam } from './http.js';

/** A job's id in the API: its queue and its id there (one event may start jobs on several queues). */
const apiJobId = (queue: string, id: string | undefined) => `${queue}:${id}`;

export function jobRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.get('/jobs/failed', allow('operator'), async (ctx) => {
    const limit = intParam(ctx, 'limit', { min: 1, max: 500 }) ?? 100;
    const failed = await Promise.all([...deps.queues].map(async ([name, queue]) => (await queue.getFailed(0, limit - 1)).map((job) => view(name, job))));
    ctx.body = { jobs: [...failed.flat(), ...await keptOnly(deps, limit)].sort((a, b) => b.failedAt.localeCompare(a.failedAt)).slice(0, limit) };
  });

  router.post('/jobs/:jobId/retry', allow('operator'), async (ctx) => {
    const kept = await keptFailure(deps, ctx.params.jobId);
    if (kept) {
      // Failed for good, and Redis has since forgotten it: hand it over again from what was kept.
      await addLogJobs(deps.queues, [{ ...kept, data: { ...kept.data, recovered: true } }]);
      ctx.status = 202;
      ctx.body = { jobId: apiJobId(kept.queue, kept.jobId), queue: kept.queue, status: 'waiting' };
      return;
    }
    const { queue, job } = await findJob(deps.queues, ctx.params.jobId);
    const state = await job.getState();
    if (state !== 'failed') throw new ConflictError('job.not_failed', `Job ${ctx.params.jobId} is ${state}, not failed`);
    // Run again with all its attempts, marked as possibly run before (as a job handed back from the log is).
    await job.updateData({ ...job.data, recovered: true });
    // Another operator may have retried it a moment ago.
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
      .catch(() => { throw new ConflictError('job.not_failed', `Job ${ctx.params.jobId} is no longer failed`); });
    ctx.status = 202;
    ctx.body = { jobId: apiJobId(queue, job.id), queue, status: 'waiting' };
  });

  return router;
}

interface KeptRow { queue: QueueName; job_id: string; name: string; data: Record<string, unknown>; position: number; reason: string | null; failed_at: Date }

/** What a job says it concerns. */
const concerns = (data: { orderId?: string; fulfilmentId?: string; returnId?: string; sku?: string; eventId?: string }) => ({
  orderId: data.orderId ?? null, fulfilmentId: data.fulfilmentId ?? null, returnId: data.returnId ?? null, sku: data.sku ?? null, eventId: data.eventId ?? null,
});

/**
 * Jobs kept in failed_jobs (failed for good) that Redis does not hold: still failed, still the
 * operators' to retry. Those Redis lost, and fulfilment steps a rule refused (never in Redis until retried).
 */
async function keptOnly(deps: ApiDeps, limit: number) {
  const rows = await deps.knex('failed_jobs').orderBy('failed_at', 'desc').limit(limit).select<KeptRow[]>('*');
  const known = await Promise.all(rows.map((r) => deps.queues.get(r.queue)?.getJob(r.job_id)));
  return rows.filter((r, i) => deps.queues.has(r.queue) && !known[i]).map((r) => ({
    jobId: apiJobId(r.queue, r.job_id), queue: r.queue, name: r.name, reason: r.reason ?? 'failed for good; kept from the log after Redis lost it', attempts: null,
    ...concerns(r.data), failedAt: r.failed_at.toISOString(),
  }));
}

/** The kept failure this API job id names, if Redis no longer holds the job. */
async function keptFailure(deps: ApiDeps, raw: string | undefined): Promise<LogJob | undefined> {
  const m = JOB_ID.exec(raw ?? '');
  const queue = m ? deps.queues.get(m.groups!.queue as QueueName) : undefined;
  if (!m || !queue || RESERVED.has(m.groups!.id)) return undefined;
  const row = await deps.knex('failed_jobs').where({ queue: m.groups!.queue, job_id: m.groups!.id }).first<KeptRow | undefined>();
  if (!row || await queue.getJob(row.job_id)) return undefined;
  return { queue: row.queue, jobId: row.job_id, name: row.name, data: row.data, position: Number(row.position) };
}

function view(queue: string, job: Job) {
  return {
    jobId: apiJobId(queue, job.id), queue, name: job.name, reason: job.failedReason, attempts: job.attemptsMade, ...concerns(job.data),
    failedAt: new Date(job.finishedOn ?? job.processedOn ?? job.timestamp).toISOString(),
  };
}

/** Job ids are event ids (UUIDs); anything else could name one of BullMQ's own keys. */
const JOB_ID = /^(?<queue>[a-z-]{1,40}):(?<id>[A-Za-z0-9_-]{1,64})$/;
const RESERVED = new Set(['id', 'wait', 'waiting', 'active', 'paused', 'completed', 'failed', 'delayed', 'prioritized', 'priority', 'events', 'meta',
  'stalled', 'stalled-check', 'limiter', 'marker', 'pc', 'repeat', 'waiting-children', 'de', 'metrics']);

async function findJob(queues: Map<QueueName, Queue>, raw: string | undefined): Promise<{ queue: string; job: Job }> {
  const m = JOB_ID.exec(raw ?? '');
  const queue = m ? queues.get(m.groups!.queue as QueueName) : undefined;
  const id = m?.groups!.id;
  const job = queue && id && !RESERVED.has(id) ? await queue.getJob(id).catch(() => undefined) : undefined;
  if (!queue || !job) throw new NotFoundError('job.not_found', `Job ${raw} does not exist`);
  return { queue: queue.name, job };
}

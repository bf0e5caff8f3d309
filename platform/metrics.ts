import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  readModelPosition: Gauge<'projection'>;
  jobsEnqueued: Counter<'queue'>;
  jobsFinished: Counter<'queue' | 'outcome'>;
  jobsOutstanding: Gauge;
  jobsRecovered: Counter<'queue'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'oms_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'oms_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
    }),
    readModelPosition: new Gauge({ name: 'oms_read_model_position', help: 'Log position each projection has applied', labelNames: ['projection'], registers: [registry] }),
    jobsEnqueued: new Counter({ name: 'oms_jobs_enqueued_total', help: 'Jobs handed to queues by the dispatcher', labelNames: ['queue'], registers: [registry] }),
    jobsFinished: new Counter({ name: 'oms_jobs_finished_total', help: 'Jobs finished by workers', labelNames: ['queue', 'outcome'], registers: [registry] }),
    jobsOutstanding: new Gauge({ name: 'oms_jobs_outstanding', help: 'Jobs handed to Redis by this dispatcher and not yet seen finished', registers: [registry] }),
    jobsRecovered: new Counter({ name: 'oms_jobs_recovered_total', help: 'Jobs handed to Redis again because it no longer knew them', labelNames: ['queue'], registers: [registry] }),
  };
}

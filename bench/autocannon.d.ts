declare module 'autocannon' {
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    pipelining?: number;
    headers?: Record<string, string>;
    requests?: {
      method?: string; path?: string; headers?: Record<string, string>;
      /** `context` is the request's own (one request per sequence), shared with its onResponse. */
      setupRequest?(req: Record<string, unknown>, context: Record<string, unknown>): Record<string, unknown>;
      onResponse?(status: number, body: string, context: Record<string, unknown>): void;
    }[];
    overallRate?: number;
  }
  interface Histogram { average: number; p50: number; p90: number; p99: number; max: number }
  interface Result {
    requests: Histogram & { total: number; mean: number };
    latency: Histogram & { p97_5: number; p99_9: number };
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    '4xx': number;
    '5xx': number;
  }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}

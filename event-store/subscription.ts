import type { RecordedEvent, SubscribeOptions, Subscription } from './event-store.port.js';

/** A signal that new events may be there: a counter bumped on every notification. */
export interface NewsSource {
  /** Resolves once notifications are being received (or it is known they cannot be). */
  ready(): Promise<void>;
  version(): number;
  /** Resolves as soon as version() differs from `since`, or after a fallback interval. */
  waitForNews(since: number): Promise<void>;
}

interface PollingSource {
  read(after: number, maxCount: number): Promise<RecordedEvent[]>;
  news: NewsSource;
  options: SubscribeOptions;
}

const RETRY_MS = 500;

/**
 * Catch-up then live subscription over a store that can read "after position" and signal news.
 * The news version is taken before each read, so a notification that lands between an empty
 * read and the wait is never slept through.
 */
export function pollingSubscription({ read, news, options }: PollingSource): Subscription {
  let stopped = false;
  let signalStop!: () => void;
  const stopSignal = new Promise<void>((resolve) => { signalStop = resolve; });
  let after = options.after ?? 0;
  const batchSize = options.batchSize ?? 500;
  const loop = (async () => {
    await Promise.race([news.ready(), stopSignal]);
    while (!stopped) {
      try {
        const seen = news.version();
        const events = await read(after, batchSize);
        if (stopped) break;
        if (events.length > 0) {
          await options.onEvents(events);
          after = events[events.length - 1].position;
          if (events.length < batchSize && options.gatherMs) await Promise.race([new Promise((r) => setTimeout(r, options.gatherMs)), stopSignal]);
          continue;
        }
        await Promise.race([news.waitForNews(seen), stopSignal]);
      } catch (err) {
        if (stopped) break;
        options.onError?.(err);
        await Promise.race([new Promise((r) => setTimeout(r, RETRY_MS)), stopSignal]);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      signalStop();
      await loop;
    },
  };
}

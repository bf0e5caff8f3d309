import type { RecordedEvent, SubscribeOptions, Subscription } from './event-store.port.js';

interface PollingSource {
  read(after: number, maxCount: number): Promise<RecordedEvent[]>;
  /** Resolves when new events may be there (a notification) or after a fallback interval. */
  waitForNews(): Promise<void>;
  options: SubscribeOptions;
}

const RETRY_MS = 500;

/** Catch-up then live subscription over a store that can read "after position" and signal news. */
export function pollingSubscription({ read, waitForNews, options }: PollingSource): Subscription {
  let stopped = false;
  let signalStop!: () => void;
  const stopSignal = new Promise<void>((resolve) => { signalStop = resolve; });
  let after = options.after ?? 0;
  const batchSize = options.batchSize ?? 500;
  const loop = (async () => {
    while (!stopped) {
      try {
        const events = await read(after, batchSize);
        if (stopped) break;
        if (events.length > 0) {
          await options.onEvents(events);
          after = events[events.length - 1].position;
          continue;
        }
        await Promise.race([waitForNews(), stopSignal]);
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

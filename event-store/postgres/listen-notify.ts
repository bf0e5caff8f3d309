import pg from 'pg';
import type { NewsSource } from '../subscription.js';

const FALLBACK_POLL_MS = 5_000;
const RECONNECT_MS = 1_000;

/**
 * One LISTEN connection per store: every NOTIFY from an append bumps the version and wakes the
 * waiting subscriptions. While the connection is down, subscriptions fall back to polling.
 */
export class ListenNotifyNews implements NewsSource {
  private seq = 0;
  private client?: pg.Client;
  private current?: pg.Client;
  private connecting?: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(private readonly databaseUrl: string, private readonly channel: string) {}

  version(): number { return this.seq; }

  async ready(): Promise<void> {
    await this.connect().catch(() => undefined);
  }

  async waitForNews(since: number): Promise<void> {
    if (this.closed || this.seq !== since) return;
    if (!this.client) void this.connect().catch(() => undefined);
    await new Promise<void>((resolve) => {
      const wake = () => { clearTimeout(timer); this.waiters.delete(wake); resolve(); };
      const timer = setTimeout(wake, this.client ? FALLBACK_POLL_MS : RECONNECT_MS);
      this.waiters.add(wake);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.bump();
    await this.client?.end().catch(() => undefined);
  }

  private bump(): void {
    this.seq++;
    for (const wake of [...this.waiters]) wake();
  }

  private connect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.connecting) return this.connecting;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'oms-event-listener' });
    this.current = client;
    const lost = () => {
      if (this.current !== client) return;
      this.current = undefined;
      this.client = undefined;
      this.connecting = undefined;
      this.bump();                                     // re-read: anything may have been missed
    };
    client.on('notification', () => this.bump());
    client.on('error', lost);
    client.on('end', lost);
    this.connecting = (async () => {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
      this.client = client;
      this.bump();
    })().catch((err) => {
      if (this.current === client) { this.current = undefined; this.connecting = undefined; }
      client.end().catch(() => undefined);
      throw err;
    });
    return this.connecting;
  }
}

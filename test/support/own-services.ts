import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { eventually } from './service-harness.js';

// Servers of a test's own, on free ports, for fault tests that kill and restart them.

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

export interface OwnRedis { url: string; port: number; start(): Promise<void>; kill(signal?: NodeJS.Signals): Promise<void>; destroy(): Promise<void> }

/** A redis-server of its own; `persist` keeps an AOF (fsync always) so a restart keeps the data, else each start is empty. */
export async function ownRedis(options: { persist: boolean }): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'oms-redis-'));
  let child: ChildProcess | undefined;
  const persistence = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const self: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence], { stdio: 'ignore' });
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);                             // refused until it listens
      await eventually(async () => { try { await probe.connect(); await probe.ping(); return true; } catch { return undefined; } }, 10_000, 50);
      probe.disconnect();
    },
    async kill(signal = 'SIGKILL') {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill(signal);
      await exited;
    },
    async destroy() {
      await self.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}

export interface OwnPostgres { url(database: string): string; port: number; start(): Promise<void>; crash(): Promise<void>; destroy(): Promise<void> }

/**
 * A PostgreSQL cluster of its own (initdb on a free port, run as the postgres user when this is
 * root); `crash` stops it with `pg_ctl -m immediate`, as a crash would, and `start` recovers it.
 */
export async function ownPostgres(): Promise<OwnPostgres> {
  const [version] = (await readdir('/usr/lib/postgresql')).sort().reverse();
  const bin = (name: string) => `/usr/lib/postgresql/${version}/bin/${name}`;
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'oms-pg-'));
  const data = join(dir, 'data');
  const asPostgres = process.getuid?.() === 0 ? await postgresUser() : undefined;
  if (asPostgres) await chown(dir, asPostgres.uid, asPostgres.gid);
  const pgRun = (file: string, args: string[]) => run(bin(file), args, { ...(asPostgres ?? {}), cwd: dir });
  await pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  const self: OwnPostgres = {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      await pgRun('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`, 'start']);
    },
    async crash() {
      await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async destroy() {
      await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  const probe = new pg.Client({ connectionString: self.url('postgres') });
  await probe.connect();
  await probe.end();
  return self;
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

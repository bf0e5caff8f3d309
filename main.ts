import { loadConfig } from './platform/config.js';
import { createLogger } from './platform/logger.js';
import { startService } from './service.js';

const config = loadConfig();
const log = createLogger(config.logLevel);

try {
  const service = await startService(config, log);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await service.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  const code = (err as { code?: string }).code;
  const hint = code === 'ECONNREFUSED' ? ' (is PostgreSQL running at DATABASE_URL and Redis at REDIS_URL?)' : '';
  log.fatal({ err }, `could not start${hint}`);
  process.exit(1);
}

import { loadConfig, type Config } from '../../src/config';
import type { Clock } from '../../src/application/ports/clock';
import type { Logger } from '../../src/application/ports/logger';
import type { GatewayTuning } from '../../src/interfaces/ws/gateway';
import { start, type RunningServer } from '../../src/main';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases';
import { TEST_AUDIT_ANCHOR_KEY, TEST_DATA_KEY_ENCRYPTION_KEY, TEST_INTERNAL_TOKEN, TEST_JWT_SECRET } from './tokens';

export interface TestServer extends RunningServer {
  database: TestDatabase;
  config: Config;
}

/** The environment a test server starts with: its database, the test secrets, a free port. */
export function testEnv(database: TestDatabase, env: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    INTERNAL_API_TOKEN: TEST_INTERNAL_TOKEN,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // No sweep behind a test's back (a ManualClock moved past a TTL would race the real
    // minute); tests of expiry set their own EXPIRY_SWEEP_CRON.
    EXPIRY_SWEEP_CRON: '0 0 1 1 *',
    // Likewise no audit anchor behind a test's back; audit tests anchor when they mean to.
    AUDIT_ANCHOR_CRON: '0 0 1 1 *',
    AUDIT_ANCHOR_KEY: TEST_AUDIT_ANCHOR_KEY,
    DATA_KEY_ENCRYPTION_KEY: TEST_DATA_KEY_ENCRYPTION_KEY,
    ...(database.url !== null ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir as string }),
    ...env,
  };
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** A clock the test moves (see ManualClock). */
  clock?: Clock;
  /** Restart on this database instead of a fresh one. */
  database?: TestDatabase;
  webRoot?: string;
  /** WebSocket timings shortened as the test needs (heartbeat, warm-up, ...). */
  ws?: Partial<GatewayTuning>;
  /** To check what reaches the log (see RecordingLogger). */
  logger?: Logger;
}

/**
 * Starts a real server in this process on a fresh database (or on `database`, to
 * restart on the same data). Pass a clock to drive time.
 */
export async function startTestServer(kind: DatabaseKind, options: TestServerOptions = {}): Promise<TestServer> {
  const database = options.database ?? (await createTestDatabase(kind));
  const config = loadConfig(testEnv(database, options.env));
  const server = await start(config, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.webRoot ? { webRoot: options.webRoot } : {}),
    ...(options.ws ? { ws: options.ws } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { ...server, database, config };
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current: Date = new Date('2026-01-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
}

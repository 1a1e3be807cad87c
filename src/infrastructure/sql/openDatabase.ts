import { accessSync, constants, mkdirSync } from 'node:fs';
import type { Logger } from '../../application/ports/logger';
import { ConfigError, type Config } from '../../config';
import { DataDirInUseError } from './dataDirLock';
import { PgDatabase } from './pgDatabase';
import { PgliteDatabase } from './pgliteDatabase';
import type { SqlDatabase } from './sqlDatabase';

/**
 * The database the configuration names: the PostgreSQL server of DATABASE_URL, checked
 * with one query, or else the embedded one in DATA_DIR. A database that cannot be
 * reached stops start-up with a ConfigError naming the variable.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<SqlDatabase> {
  const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  if (config.databaseUrl !== null) {
    const db = new PgDatabase({
      connectionString: config.databaseUrl,
      maxConnections: 20,
      onListenerError: (error) => logger.warn({ err: error }, 'database connection error'),
    });
    await db.query('SELECT 1').catch(async (error: unknown) => {
      await db.close().catch(() => undefined);
      throw new ConfigError('DATABASE_URL', `cannot be reached: ${reason(error)}`);
    });
    return db;
  }
  try {
    mkdirSync(config.dataDir, { recursive: true });
    accessSync(config.dataDir, constants.W_OK);
  } catch (error) {
    throw new ConfigError('DATA_DIR', `is not a writable directory: ${reason(error)}`);
  }
  try {
    return await PgliteDatabase.open(config.dataDir);
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    throw new ConfigError(
      'DATA_DIR',
      `${config.dataDir} is in use by another process (pid ${error.pid}): stop it, or give this one its own DATA_DIR (or a DATABASE_URL)`,
    );
  }
}

/**
 * Where the data is, in words for the start-up log: which database, and where the events
 * are kept. No credentials (a DATABASE_URL's user and password are left out).
 */
export function describeStorage(config: Config): string {
  let database: string;
  if (config.databaseUrl === null) {
    database = `embedded PostgreSQL (PGlite) in ${config.dataDir}`;
  } else {
    try {
      const url = new URL(config.databaseUrl);
      database = `PostgreSQL server ${url.hostname}${url.port !== '' ? `:${url.port}` : ''}${url.pathname}`;
    } catch {
      database = 'PostgreSQL server (DATABASE_URL)';
    }
  }
  if (config.eventStore.kind === 'eventstoredb') {
    let where = 'EVENTSTORE_CONNECTION_STRING';
    try {
      where = new URL(config.eventStore.connectionString).host || where;
    } catch {
      // Left as the variable's name: a connection string need not parse as a URL.
    }
    return `events in EventStoreDB (${where}), read models in ${database}`;
  }
  return `events and read models in ${database}`;
}

import type { Config } from '../config';
import { PostgresEventStore } from './eventStore/postgresEventStore';
import { SqlSharedBuckets } from './limits/sqlSharedBuckets';
import { migrateNotifications } from './notifications/schema';
import { migrateReadModels } from './readModels/schema';
import { SqlSnapshotStore } from './snapshots/sqlSnapshotStore';
import { SqlDataKeyStore } from './privacy/sqlDataKeyStore';
import type { SqlDatabase } from './sql/sqlDatabase';

/**
 * Creates the tables of this service that do not exist yet, each kind once: the events
 * (unless EventStoreDB keeps them), the read models, the notification tables, the room
 * snapshots, the data keys and, where several processes may share a user, the send budget's buckets.
 * Run at start-up before anything is built on the database; several processes may run
 * it at once (each kind migrates under an advisory lock or with IF NOT EXISTS).
 */
export async function migrateDatabase(db: SqlDatabase, config: Config): Promise<void> {
  if (config.eventStore.kind !== 'eventstoredb') await PostgresEventStore.migrate(db);
  await migrateReadModels(db);
  await migrateNotifications(db);
  await SqlSnapshotStore.migrate(db);
  await SqlDataKeyStore.migrate(db);
  if (sharesSendBudget(db, config)) await SqlSharedBuckets.migrate(db);
}

/**
 * On a PostgreSQL server several processes may serve one user: the send budget is kept
 * in the database so it holds across them. PGlite is one process by nature.
 */
export function sharesSendBudget(db: SqlDatabase, config: Config): boolean {
  return db.kind === 'postgres' && config.sendRateLimit > 0;
}

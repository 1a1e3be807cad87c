import type { EventStore } from '../../application/ports/eventStore';
import type { Logger } from '../../application/ports/logger';
import type { Config } from '../../config';
import type { ChatMetrics } from '../metrics/chatMetrics';
import { measureAppends, measureReads } from '../metrics/instrument';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { PostgresEventStore } from './postgresEventStore';

/**
 * The event store the configuration names, its appends measured: EventStoreDB (connected
 * and probed here), or the SQL store on `db`, whose tables `migrateDatabase` creates; reads
 * of the log counted.
 */
export async function openEventStore(config: Config, db: SqlDatabase, metrics: ChatMetrics, logger?: Logger): Promise<EventStore> {
  if (config.eventStore.kind === 'eventstoredb') {
    // Loaded only when chosen: the gRPC client stays out of a PostgreSQL-only process.
    const { EventStoreDbEventStore } = await import('./eventStoreDbEventStore');
    const store = await EventStoreDbEventStore.open(config.eventStore.connectionString, undefined, (warning) => logger?.warn({}, warning));
    return measureReads(measureAppends(store, metrics, 'eventstoredb'), metrics, 'eventstoredb');
  }
  const store = new PostgresEventStore(db);
  metrics.watchAppendQueue('postgres', () => store.queuedAppends);
  return measureReads(measureAppends(store, metrics, 'postgres'), metrics, 'postgres');
}

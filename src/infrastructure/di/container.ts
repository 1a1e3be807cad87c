import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { Container } from 'inversify';
import type { Config } from '../../config';
import type { Clock } from '../../application/ports/clock';
import type { EventStore } from '../../application/ports/eventStore';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import { makeRoomCommands, type RoomCommands } from '../../application/room/roomCommands';
import { PostgresEventStore } from '../eventStore/postgresEventStore';
import { PgDatabase } from '../sql/pgDatabase';
import { PgliteDatabase } from '../sql/pgliteDatabase';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { TYPES } from './identifiers';

export interface ContainerOptions {
  config: Config;
  logger: Logger;
  clock: Clock;
  ids: IdGenerator;
}

/**
 * The object graph of one server process. Factories are plain functions bound with
 * toResolvedValue, so nothing outside src/infrastructure/di carries a decorator.
 */
export function buildContainer(options: ContainerOptions): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<Config>(TYPES.Config).toConstantValue(options.config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(options.logger);
  container.bind<Clock>(TYPES.Clock).toConstantValue(options.clock);
  container.bind<IdGenerator>(TYPES.Ids).toConstantValue(options.ids);

  container
    .bind<SqlDatabase>(TYPES.SqlDatabase)
    .toResolvedValue(
      async (config: Config, logger: Logger): Promise<SqlDatabase> => {
        if (config.databaseUrl !== null) {
          return new PgDatabase({
            connectionString: config.databaseUrl,
            maxConnections: 20,
            onListenerError: (error) => logger.warn({ err: error }, 'database connection error'),
          });
        }
        mkdirSync(config.dataDir, { recursive: true });
        return PgliteDatabase.open(config.dataDir);
      },
      [TYPES.Config, TYPES.Logger],
    );

  container
    .bind<EventStore>(TYPES.EventStore)
    .toResolvedValue(
      async (config: Config, db: SqlDatabase): Promise<EventStore> => {
        if (config.eventStore.kind === 'eventstoredb') {
          throw new Error('EVENT_STORE=eventstoredb: the EventStoreDB adapter is not wired in yet');
        }
        await PostgresEventStore.migrate(db);
        return new PostgresEventStore(db);
      },
      [TYPES.Config, TYPES.SqlDatabase],
    );

  container
    .bind<RoomCommands>(TYPES.RoomCommands)
    .toResolvedValue(
      (eventStore: EventStore, clock: Clock, ids: IdGenerator) => makeRoomCommands({ eventStore, clock, ids }),
      [TYPES.EventStore, TYPES.Clock, TYPES.Ids],
    );

  return container;
}

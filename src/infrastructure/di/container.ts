import 'reflect-metadata';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { Container } from 'inversify';
import { ConfigError, type Config } from '../../config';
import type { Clock } from '../../application/ports/clock';
import type { EventStore } from '../../application/ports/eventStore';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import { makePostCommands, type PostCommands } from '../../application/post/postCommands';
import { makeRoomCommands, type RoomCommands } from '../../application/room/roomCommands';
import { sweepExpiredRooms } from '../../application/room/sweepExpiredRooms';
import { LiveFeed } from '../../application/live/liveFeed';
import type { TokenVerifier } from '../../application/ports/auth';
import { JwtVerifier } from '../auth/jwtVerifier';
import type { ChatQueries } from '../../application/ports/readModels';
import { isPostgresCheckpoint, PostgresEventStore } from '../eventStore/postgresEventStore';
import { applyBatchToReadModels } from '../readModels/chatProjection';
import { ProjectionRunner } from '../readModels/projectionRunner';
import { migrateReadModels } from '../readModels/schema';
import { SqlChatQueries } from '../readModels/sqlChatQueries';
import { SqlRoomDirectory } from '../readModels/sqlRoomDirectory';
import { PgTypingSignals } from '../live/pgTypingSignals';
import { SqlSnapshotStore } from '../snapshots/sqlSnapshotStore';
import type { RoomDirectory } from '../../application/ports/roomDirectory';
import type { TypingSignals } from '../../application/ports/typingSignals';
import { Notifications } from '../notifications/notifications';
import { ExpirySweeper } from '../scheduler/expirySweeper';
import { UserBudgets } from '../../application/limits/userBudgets';
import { SqlSharedBuckets } from '../limits/sqlSharedBuckets';
import { AnchorLedger, AuditAnchorer } from '../../application/audit/anchors';
import { AuditAccessLog } from '../../application/audit/accessLog';
import { AnchorSchedule } from '../scheduler/anchorSchedule';
import { PgDatabase } from '../sql/pgDatabase';
import { DataDirInUseError } from '../sql/dataDirLock';
import { PgliteDatabase } from '../sql/pgliteDatabase';
import { createChatMetrics, type ChatMetrics } from '../metrics/chatMetrics';
import { measureAppends, measuredCommands, measureRefusals } from '../metrics/instrument';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { TYPES } from './identifiers';

export interface ContainerOptions {
  config: Config;
  logger: Logger;
  clock: Clock;
  ids: IdGenerator;
  /** The process's metrics; absent: a registry of its own nobody scrapes. */
  metrics?: ChatMetrics;
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
  container.bind<ChatMetrics>(TYPES.Metrics).toConstantValue(options.metrics ?? createChatMetrics({ defaultMetrics: false }));

  container
    .bind<SqlDatabase>(TYPES.SqlDatabase)
    .toResolvedValue(
      async (config: Config, logger: Logger): Promise<SqlDatabase> => {
        // A database that cannot be reached stops start-up with one line naming the variable.
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
      },
      [TYPES.Config, TYPES.Logger],
    );

  container
    .bind<EventStore>(TYPES.EventStore)
    .toResolvedValue(
      async (config: Config, db: SqlDatabase, metrics: ChatMetrics): Promise<EventStore> => {
        if (config.eventStore.kind === 'eventstoredb') {
          // Loaded only when chosen: the gRPC client stays out of a PostgreSQL-only process.
          const { EventStoreDbEventStore } = await import('../eventStore/eventStoreDbEventStore');
          return measureAppends(await EventStoreDbEventStore.open(config.eventStore.connectionString), metrics, 'eventstoredb');
        }
        await PostgresEventStore.migrate(db);
        const store = new PostgresEventStore(db);
        metrics.watchAppendQueue('postgres', () => store.queuedAppends);
        return measureAppends(store, metrics, 'postgres');
      },
      [TYPES.Config, TYPES.SqlDatabase, TYPES.Metrics],
    );

  container
    .bind<RoomCommands>(TYPES.RoomCommands)
    .toResolvedValue(
      async (
        eventStore: EventStore,
        clock: Clock,
        ids: IdGenerator,
        db: SqlDatabase,
        directory: RoomDirectory,
        logger: Logger,
        liveFeed: LiveFeed,
        metrics: ChatMetrics,
      ) => {
        await SqlSnapshotStore.migrate(db);
        const snapshots = {
          store: new SqlSnapshotStore(db),
          onError: (error: unknown) => logger.warn({ err: error }, 'room snapshot failed; loads of that room read more events'),
        };
        const commands = makeRoomCommands({
          eventStore,
          clock,
          ids,
          directory,
          snapshots,
          onCommitted: (event, preceding) => liveFeed.publishLocal(event, preceding),
        });
        return measuredCommands(commands, metrics);
      },
      [TYPES.EventStore, TYPES.Clock, TYPES.Ids, TYPES.SqlDatabase, TYPES.RoomDirectory, TYPES.Logger, TYPES.LiveFeed, TYPES.Metrics],
    );

  container
    .bind<PostCommands>(TYPES.PostCommands)
    .toResolvedValue(
      (eventStore: EventStore, clock: Clock, ids: IdGenerator, metrics: ChatMetrics) =>
        measuredCommands(makePostCommands({ eventStore, clock, ids }), metrics),
      [TYPES.EventStore, TYPES.Clock, TYPES.Ids, TYPES.Metrics],
    );

  container
    .bind<ChatQueries>(TYPES.ChatQueries)
    .toResolvedValue(async (db: SqlDatabase) => {
      await migrateReadModels(db);
      return new SqlChatQueries(db);
    }, [TYPES.SqlDatabase]);

  container
    .bind<ProjectionRunner>(TYPES.ProjectionRunner)
    .toResolvedValue(
      async (db: SqlDatabase, eventStore: EventStore, logger: Logger, config: Config) => {
        await migrateReadModels(db);
        // A checkpoint of the other store (the deployment switched stores) rebuilds the read models too.
        const isCurrentCheckpoint =
          config.eventStore.kind === 'eventstoredb'
            ? (await import('../eventStore/eventStoreDbEventStore')).isEventStoreDbCheckpoint
            : eventStore instanceof PostgresEventStore
              ? isPostgresCheckpoint
              : undefined;
        return new ProjectionRunner({
          name: 'chat_read_models',
          db,
          eventStore,
          applyBatch: applyBatchToReadModels,
          logger,
          ...(isCurrentCheckpoint !== undefined ? { isCurrentCheckpoint } : {}),
        });
      },
      [TYPES.SqlDatabase, TYPES.EventStore, TYPES.Logger, TYPES.Config],
    );

  container
    .bind<LiveFeed>(TYPES.LiveFeed)
    .toResolvedValue(
      (eventStore: EventStore, logger: Logger) => new LiveFeed(eventStore, logger),
      [TYPES.EventStore, TYPES.Logger],
    );

  container
    .bind<TokenVerifier>(TYPES.TokenVerifier)
    .toResolvedValue((config: Config) => new JwtVerifier(config.jwt), [TYPES.Config]);

  container
    .bind<RoomDirectory>(TYPES.RoomDirectory)
    .toResolvedValue(async (db: SqlDatabase) => {
      await migrateReadModels(db);
      return new SqlRoomDirectory(db);
    }, [TYPES.SqlDatabase]);

  container.bind<TypingSignals>(TYPES.TypingSignals).toResolvedValue((db: SqlDatabase) => new PgTypingSignals(db), [TYPES.SqlDatabase]);

  container
    .bind<ExpirySweeper>(TYPES.ExpirySweeper)
    .toResolvedValue(
      (config: Config, logger: Logger, clock: Clock, ids: IdGenerator, commands: RoomCommands, queries: ChatQueries) => {
        const sweepLogger = logger.child({ component: 'expiry-sweeper' });
        const ttl = { emptyTtlMs: config.roomEmptyTtlMs, idleTtlMs: config.roomIdleTtlMs };
        return new ExpirySweeper({
          cron: config.expirySweepCron,
          logger: sweepLogger,
          sweep: (signal) => sweepExpiredRooms({ queries, commands, clock, ids, logger: sweepLogger }, { ttl, signal }),
        });
      },
      [TYPES.Config, TYPES.Logger, TYPES.Clock, TYPES.Ids, TYPES.RoomCommands, TYPES.ChatQueries],
    );

  container
    .bind<UserBudgets>(TYPES.UserBudgets)
    .toResolvedValue(
      async (config: Config, db: SqlDatabase, logger: Logger, metrics: ChatMetrics): Promise<UserBudgets> => {
        const settings = {
          perSecond: {
            send: config.sendRateLimit,
            command: config.commandRateLimit,
            read: config.readRateLimit,
            resume: config.resumeRateLimit,
            typing: config.typingRateLimit,
          },
          typingIntervalMs: config.typingIntervalMs,
        };
        // On a PostgreSQL server several processes may serve one user: the send budget is
        // kept in the database so it holds across them. PGlite is one process by nature.
        const shared = db.kind === 'postgres' && config.sendRateLimit > 0 ? await SqlSharedBuckets.create(db, logger) : null;
        return measureRefusals(new UserBudgets(settings, { shared, sharedKinds: ['send'], logger }), metrics);
      },
      [TYPES.Config, TYPES.SqlDatabase, TYPES.Logger, TYPES.Metrics],
    );

  container
    .bind<AuditAnchorer>(TYPES.AuditAnchorer)
    .toResolvedValue(
      (config: Config, eventStore: EventStore, clock: Clock, ids: IdGenerator, logger: Logger) =>
        new AuditAnchorer({ eventStore, clock, ids, key: config.auditAnchorKey, logger: logger.child({ component: 'audit-anchor' }) }),
      [TYPES.Config, TYPES.EventStore, TYPES.Clock, TYPES.Ids, TYPES.Logger],
    );

  container
    .bind<AnchorSchedule>(TYPES.AnchorSchedule)
    .toResolvedValue(
      (config: Config, anchorer: AuditAnchorer, logger: Logger) =>
        new AnchorSchedule({ cron: config.auditAnchorCron, anchorer, logger: logger.child({ component: 'audit-anchor' }) }),
      [TYPES.Config, TYPES.AuditAnchorer, TYPES.Logger],
    );

  container
    .bind<AnchorLedger>(TYPES.AnchorLedger)
    .toResolvedValue((config: Config, eventStore: EventStore) => new AnchorLedger(eventStore, config.auditAnchorKey), [TYPES.Config, TYPES.EventStore]);

  container
    .bind<AuditAccessLog>(TYPES.AuditAccessLog)
    .toResolvedValue(
      (eventStore: EventStore, clock: Clock, ids: IdGenerator) => new AuditAccessLog({ eventStore, clock, ids }),
      [TYPES.EventStore, TYPES.Clock, TYPES.Ids],
    );

  container
    .bind<Notifications>(TYPES.Notifications)
    .toResolvedValue(
      async (config: Config, db: SqlDatabase, eventStore: EventStore, logger: Logger, clock: Clock, ids: IdGenerator) => {
        // The reminders read the read models: their tables exist before the notifications start.
        await migrateReadModels(db);
        return Notifications.create({ config, db, eventStore, logger, clock, ids });
      },
      [TYPES.Config, TYPES.SqlDatabase, TYPES.EventStore, TYPES.Logger, TYPES.Clock, TYPES.Ids],
    );

  return container;
}

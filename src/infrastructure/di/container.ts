import 'reflect-metadata';
import { Container } from 'inversify';
import type { Config } from '../../config';
import type { Clock } from '../../application/ports/clock';
import type { EventStore } from '../../application/ports/eventStore';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import { makePostCommands, type PostCommands } from '../../application/post/postCommands';
import { makeRoomCommands, type RoomCommands } from '../../application/room/roomCommands';
import { makeUserCommands, type UserCommands } from '../../application/user/userCommands';
import type { ModerationQueries } from '../../application/ports/moderation';
import type { Suspensions } from '../../application/ports/suspensions';
import { SqlModerationQueries } from '../readModels/sqlModerationQueries';
import { SqlSuspensions } from '../readModels/sqlSuspensions';
import { sweepExpiredRooms } from '../../application/room/sweepExpiredRooms';
import { LiveFeed } from '../../application/live/liveFeed';
import type { TokenVerifier } from '../../application/ports/auth';
import { ProfileNotingVerifier } from '../../application/identity/profileNotingVerifier';
import { SqlUserProfiles } from '../identity/sqlUserProfiles';
import { JwtVerifier } from '../auth/jwtVerifier';
import type { ChatQueries } from '../../application/ports/readModels';
import { isPostgresCheckpoint, PostgresEventStore } from '../eventStore/postgresEventStore';
import { chatProjection } from '../readModels/chatProjection';
import { ProjectionRunner } from '../readModels/projectionRunner';
import { SqlChatQueries } from '../readModels/sqlChatQueries';
import { SqlRoomDirectory } from '../readModels/sqlRoomDirectory';
import { PgTypingSignals } from '../live/pgTypingSignals';
import { SqlSnapshotStore } from '../snapshots/sqlSnapshotStore';
import type { RoomDirectory } from '../../application/ports/roomDirectory';
import type { TypingSignals } from '../../application/ports/typingSignals';
import { Notifications } from '../notifications/notifications';
import { ExpirySweeper } from '../scheduler/expirySweeper';
import { UserBudgets } from '../../application/limits/userBudgets';
import { sharesSendBudget, SqlSharedBuckets } from '../limits/sqlSharedBuckets';
import { AnchorKeyRing } from '../../application/audit/anchorKeys';
import { AnchorLedger, AuditAnchorer } from '../../application/audit/anchors';
import { AuditAccessLog } from '../../application/audit/accessLog';
import { AnchorSchedule } from '../scheduler/anchorSchedule';
import { createChatMetrics, type ChatMetrics } from '../metrics/chatMetrics';
import { postCommandNames, roomCommandNames, userCommandNames } from '../metrics/commandNames';
import { measuredCommands, measureRefusals } from '../metrics/instrument';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { TYPES } from './identifiers';
import { DataKeys } from '../../application/privacy/dataKeys';
import { ErasedUsers } from '../../application/privacy/erasedUsers';
import { KeyRing } from '../../application/privacy/keyRing';
import { EventOpener, OpenedEventStore } from '../../application/privacy/openedEventStore';
import { SqlDataKeyStore } from '../privacy/sqlDataKeyStore';
import { SqlErasureScrubber, SqlErasureTable } from '../privacy/sqlErasures';
import { ErasureProcess } from '../../application/privacy/erasureProcess';
import { ErasedRefusingVerifier } from '../../application/privacy/erasedRefusingVerifier';
import type { MessageViewOptions } from '../../domain/room';
import { AttachmentLinks } from '../../application/attachments/attachmentLinks';
import { makeAttachments, type Attachments } from '../../application/attachments/attachments';
import { UploadBudget } from '../../application/attachments/uploadBudget';
import { openAttachmentStore } from '../attachments/openAttachmentStore';
import { SqlAttachmentCatalog } from '../attachments/sqlAttachmentCatalog';
import { ImageWorkerPool } from '../attachments/imageWorkerPool';
import type { AttachmentStore, ImagePipeline } from '../../application/ports/attachments';
import { availableParallelism } from 'node:os';

export interface ContainerOptions {
  config: Config;
  logger: Logger;
  clock: Clock;
  ids: IdGenerator;
  /** The process's metrics; absent: a registry of its own nobody scrapes. */
  metrics?: ChatMetrics;
  /** Opened and migrated by the caller (src/main.ts): the container only builds on it. */
  db: SqlDatabase;
  /** The store as it is: what audit reads and verifies. The rest of the service reads it opened (OpenedEventStore). */
  eventStore: EventStore;
  /** The users known to be erased at start (src/main.ts loads them); kept current from the events. */
  erasedUsers?: ErasedUsers;
}

/**
 * The object graph of one server process. It builds objects and does no I/O: the
 * database and the event store come in opened, their tables migrated (src/main.ts),
 * and nothing here starts until the caller starts it. Factories are plain functions
 * bound with toResolvedValue, so nothing outside src/infrastructure/di carries a decorator.
 */
export function buildContainer(options: ContainerOptions): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<Config>(TYPES.Config).toConstantValue(options.config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(options.logger);
  container.bind<Clock>(TYPES.Clock).toConstantValue(options.clock);
  container.bind<IdGenerator>(TYPES.Ids).toConstantValue(options.ids);
  container.bind<ChatMetrics>(TYPES.Metrics).toConstantValue(options.metrics ?? createChatMetrics({ defaultMetrics: false }));

  container.bind<SqlDatabase>(TYPES.SqlDatabase).toConstantValue(options.db);
  container.bind<EventStore>(TYPES.StoredEventStore).toConstantValue(options.eventStore);
  container.bind<ErasedUsers>(TYPES.ErasedUsers).toConstantValue(options.erasedUsers ?? new ErasedUsers());
  container
    .bind<DataKeys>(TYPES.DataKeys)
    .toResolvedValue((config: Config, db: SqlDatabase) => new DataKeys(new SqlDataKeyStore(db), new KeyRing(config.dataKeyEncryptionKeys)), [
      TYPES.Config,
      TYPES.SqlDatabase,
    ]);
  // Everything but audit reads the store opened: message bodies in the clear, or erased.
  container
    .bind<EventStore>(TYPES.EventStore)
    .toResolvedValue(
      (stored: EventStore, keys: DataKeys, erased: ErasedUsers) => new OpenedEventStore(stored, new EventOpener(keys, erased)),
      [TYPES.StoredEventStore, TYPES.DataKeys, TYPES.ErasedUsers],
    );

  container
    .bind<RoomCommands>(TYPES.RoomCommands)
    .toResolvedValue(
      (
        eventStore: EventStore,
        clock: Clock,
        ids: IdGenerator,
        db: SqlDatabase,
        directory: RoomDirectory,
        logger: Logger,
        liveFeed: LiveFeed,
        metrics: ChatMetrics,
        config: Config,
        keys: DataKeys,
        erased: ErasedUsers,
        messageView: MessageViewOptions,
        attachments: Attachments,
      ) => {
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
          privacy: { keys, erased },
          onCommitted: (event, preceding) => liveFeed.publishLocal(event, preceding),
          messageView,
          attachments: attachments.claims,
          moderation: new SqlModerationQueries(db),
          suspensions: new SqlSuspensions(db),
        });
        return measuredCommands(commands, metrics, roomCommandNames);
      },
      [
        TYPES.EventStore,
        TYPES.Clock,
        TYPES.Ids,
        TYPES.SqlDatabase,
        TYPES.RoomDirectory,
        TYPES.Logger,
        TYPES.LiveFeed,
        TYPES.Metrics,
        TYPES.Config,
        TYPES.DataKeys,
        TYPES.ErasedUsers,
        TYPES.MessageView,
        TYPES.Attachments,
      ],
    );

  // How a recorded message is shown, everywhere: safety hints, and its photos' signed URLs.
  container
    .bind<MessageViewOptions>(TYPES.MessageView)
    .toResolvedValue(
      (config: Config, links: AttachmentLinks): MessageViewOptions => ({
        safetyHints: config.safetyHints,
        attachmentLinks: (attachmentId) => ({ url: links.url(attachmentId, 'image'), thumbnailUrl: links.url(attachmentId, 'thumbnail') }),
      }),
      [TYPES.Config, TYPES.AttachmentLinks],
    );

  container
    .bind<ModerationQueries>(TYPES.ModerationQueries)
    .toResolvedValue(
      (db: SqlDatabase, config: Config) => new SqlModerationQueries(db, { safetyHints: config.safetyHints }),
      [TYPES.SqlDatabase, TYPES.Config],
    );
  container.bind<Suspensions>(TYPES.Suspensions).toResolvedValue((db: SqlDatabase) => new SqlSuspensions(db), [TYPES.SqlDatabase]);
  container
    .bind<UserCommands>(TYPES.UserCommands)
    .toResolvedValue(
      (eventStore: EventStore, clock: Clock, ids: IdGenerator, metrics: ChatMetrics) =>
        measuredCommands(makeUserCommands({ eventStore, clock, ids }), metrics, userCommandNames),
      [TYPES.EventStore, TYPES.Clock, TYPES.Ids, TYPES.Metrics],
    );

  container
    .bind<PostCommands>(TYPES.PostCommands)
    .toResolvedValue(
      (eventStore: EventStore, clock: Clock, ids: IdGenerator, metrics: ChatMetrics) =>
        measuredCommands(makePostCommands({ eventStore, clock, ids }), metrics, postCommandNames),
      [TYPES.EventStore, TYPES.Clock, TYPES.Ids, TYPES.Metrics],
    );

  container
    .bind<ChatQueries>(TYPES.ChatQueries)
    .toResolvedValue(
      (db: SqlDatabase, messageView: MessageViewOptions) => new SqlChatQueries(db, messageView),
      [TYPES.SqlDatabase, TYPES.MessageView],
    );

  container
    .bind<ProjectionRunner>(TYPES.ProjectionRunner)
    .toResolvedValue(
      async (db: SqlDatabase, eventStore: EventStore, logger: Logger, config: Config, stored: EventStore) => {
        // A checkpoint of the other store (the deployment switched stores) rebuilds the read models too.
        // The EventStoreDB module is loaded only when chosen, as in openEventStore: the only await here.
        const isCurrentCheckpoint =
          config.eventStore.kind === 'eventstoredb'
            ? (await import('../eventStore/eventStoreDbEventStore')).isEventStoreDbCheckpoint
            : stored instanceof PostgresEventStore
              ? isPostgresCheckpoint
              : undefined;
        return new ProjectionRunner({
          projection: chatProjection,
          db,
          eventStore,
          logger,
          ...(isCurrentCheckpoint !== undefined ? { isCurrentCheckpoint } : {}),
        });
      },
      [TYPES.SqlDatabase, TYPES.EventStore, TYPES.Logger, TYPES.Config, TYPES.StoredEventStore],
    );

  container
    .bind<LiveFeed>(TYPES.LiveFeed)
    .toResolvedValue(
      (eventStore: EventStore, logger: Logger) => new LiveFeed(eventStore, logger),
      [TYPES.EventStore, TYPES.Logger],
    );

  container
    .bind<SqlUserProfiles>(TYPES.UserProfiles)
    .toResolvedValue((db: SqlDatabase, logger: Logger) => new SqlUserProfiles(db, logger), [TYPES.SqlDatabase, TYPES.Logger]);

  container
    .bind<TokenVerifier>(TYPES.TokenVerifier)
    .toResolvedValue(
      // An erased user's token is refused before their profile could be noted again.
      (config: Config, profiles: SqlUserProfiles, erased: ErasedUsers) =>
        new ProfileNotingVerifier(new ErasedRefusingVerifier(new JwtVerifier(config.jwt), erased), profiles),
      [TYPES.Config, TYPES.UserProfiles, TYPES.ErasedUsers],
    );

  container
    .bind<RoomDirectory>(TYPES.RoomDirectory)
    .toResolvedValue((db: SqlDatabase) => new SqlRoomDirectory(db), [TYPES.SqlDatabase]);

  container.bind<TypingSignals>(TYPES.TypingSignals).toResolvedValue((db: SqlDatabase) => new PgTypingSignals(db), [TYPES.SqlDatabase]);

  container
    .bind<ExpirySweeper>(TYPES.ExpirySweeper)
    .toResolvedValue(
      (config: Config, logger: Logger, clock: Clock, ids: IdGenerator, commands: RoomCommands, queries: ChatQueries, attachments: Attachments) => {
        const sweepLogger = logger.child({ component: 'expiry-sweeper' });
        const ttl = { emptyTtlMs: config.roomEmptyTtlMs, idleTtlMs: config.roomIdleTtlMs };
        return new ExpirySweeper({
          cron: config.expirySweepCron,
          logger: sweepLogger,
          sweep: async (signal) => {
            const result = await sweepExpiredRooms({ queries, commands, clock, ids, logger: sweepLogger }, { ttl, signal });
            // The same schedule deletes the photos uploaded and never sent (ATTACHMENT_UNSENT_TTL).
            if (!signal.aborted) {
              const deleted = await attachments.deleteUnsent();
              if (deleted > 0) sweepLogger.info({ deleted }, 'unsent attachments deleted');
            }
            return result;
          },
        });
      },
      [TYPES.Config, TYPES.Logger, TYPES.Clock, TYPES.Ids, TYPES.RoomCommands, TYPES.ChatQueries, TYPES.Attachments],
    );

  container
    .bind<UserBudgets>(TYPES.UserBudgets)
    .toResolvedValue(
      (config: Config, db: SqlDatabase, logger: Logger, metrics: ChatMetrics): UserBudgets => {
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
        const shared = sharesSendBudget(db, config) ? new SqlSharedBuckets(db, logger) : null;
        return measureRefusals(new UserBudgets(settings, { shared, sharedKinds: ['send'], logger }), metrics);
      },
      [TYPES.Config, TYPES.SqlDatabase, TYPES.Logger, TYPES.Metrics],
    );

  container
    .bind<AuditAnchorer>(TYPES.AuditAnchorer)
    .toResolvedValue(
      (config: Config, eventStore: EventStore, clock: Clock, ids: IdGenerator, logger: Logger) =>
        new AuditAnchorer({ eventStore, clock, ids, keys: new AnchorKeyRing(config.auditAnchorKeys), logger: logger.child({ component: 'audit-anchor' }) }),
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
    .toResolvedValue((config: Config, eventStore: EventStore) => new AnchorLedger(eventStore, new AnchorKeyRing(config.auditAnchorKeys)), [TYPES.Config, TYPES.StoredEventStore]);

  container
    .bind<AuditAccessLog>(TYPES.AuditAccessLog)
    .toResolvedValue(
      (eventStore: EventStore, clock: Clock, ids: IdGenerator) => new AuditAccessLog({ eventStore, clock, ids }),
      [TYPES.StoredEventStore, TYPES.Clock, TYPES.Ids],
    );

  container
    .bind<Notifications>(TYPES.Notifications)
    .toResolvedValue(
      (config: Config, db: SqlDatabase, eventStore: EventStore, logger: Logger, clock: Clock, ids: IdGenerator) =>
        new Notifications({ config, db, eventStore, logger, clock, ids }),
      [TYPES.Config, TYPES.SqlDatabase, TYPES.EventStore, TYPES.Logger, TYPES.Clock, TYPES.Ids],
    );

  container
    .bind<AttachmentStore>(TYPES.AttachmentStore)
    .toResolvedValue((config: Config, db: SqlDatabase) => openAttachmentStore(config.attachments.store, db), [TYPES.Config, TYPES.SqlDatabase]);

  container
    .bind<AttachmentLinks>(TYPES.AttachmentLinks)
    .toResolvedValue(
      (config: Config, clock: Clock) => new AttachmentLinks(config.attachments.urlKey, config.attachments.urlTtlMs, clock),
      [TYPES.Config, TYPES.Clock],
    );

  container
    .bind<Attachments>(TYPES.Attachments)
    .toResolvedValue(
      (config: Config, db: SqlDatabase, store: AttachmentStore, queries: ChatQueries, logger: Logger, clock: Clock, ids: IdGenerator, pipeline: ImagePipeline) =>
        makeAttachments({
          store,
          catalog: new SqlAttachmentCatalog(db),
          pipeline,
          rooms: queries,
          budget: new UploadBudget({ uploads: config.attachments.uploadsPerMinute, bytes: config.attachments.uploadBytesPerMinute }),
          clock,
          ids,
          logger,
          unsentTtlMs: config.attachments.unsentTtlMs,
        }),
      [TYPES.Config, TYPES.SqlDatabase, TYPES.AttachmentStore, TYPES.ChatQueries, TYPES.Logger, TYPES.Clock, TYPES.Ids, TYPES.ImageWorkerPool],
    );

  container
    .bind<ImageWorkerPool>(TYPES.ImageWorkerPool)
    .toResolvedValue(
      (config: Config, logger: Logger) =>
        // One worker a spare core (at least one): the chat keeps a core to itself.
        new ImageWorkerPool({ maxPixels: config.attachments.maxPixels, workers: Math.min(4, availableParallelism() - 1), logger }),
      [TYPES.Config, TYPES.Logger],
    );

  container
    .bind<ErasureProcess>(TYPES.ErasureProcess)
    .toResolvedValue(
      (
        db: SqlDatabase,
        keys: DataKeys,
        erased: ErasedUsers,
        users: UserCommands,
        attachments: Attachments,
        progress: ProjectionRunner,
        clock: Clock,
        ids: IdGenerator,
        logger: Logger,
      ) =>
        new ErasureProcess({
          table: new SqlErasureTable(db),
          scrubber: new SqlErasureScrubber(db),
          keys,
          erased,
          users,
          attachments,
          progress,
          clock,
          ids,
          logger: logger.child({ component: 'erasure' }),
        }),
      [
        TYPES.SqlDatabase,
        TYPES.DataKeys,
        TYPES.ErasedUsers,
        TYPES.UserCommands,
        TYPES.Attachments,
        TYPES.ProjectionRunner,
        TYPES.Clock,
        TYPES.Ids,
        TYPES.Logger,
      ],
    );

  return container;
}

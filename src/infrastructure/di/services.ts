import { availableParallelism } from 'node:os';
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
import { sweepRetention } from '../../application/privacy/sweepRetention';
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
import { SqlRetentionCandidates } from '../privacy/sqlRetentionCandidates';
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
import { DataKeys } from '../../application/privacy/dataKeys';
import { ErasedUsers } from '../../application/privacy/erasedUsers';
import { ErasedRefusingVerifier } from '../../application/privacy/erasedRefusingVerifier';
import { ErasureProcess } from '../../application/privacy/erasureProcess';
import { SqlErasureScrubber, SqlErasureTable } from '../privacy/sqlErasures';
import { KeyRing } from '../../application/privacy/keyRing';
import { EventOpener, OpenedEventStore } from '../../application/privacy/openedEventStore';
import { SqlDataKeyStore } from '../privacy/sqlDataKeyStore';
import type { MessageViewOptions } from '../../domain/room';
import { AttachmentLinks } from '../../application/attachments/attachmentLinks';
import { makeAttachments, type Attachments } from '../../application/attachments/attachments';
import { UploadBudget } from '../../application/attachments/uploadBudget';
import { openAttachmentStore } from '../attachments/openAttachmentStore';
import { SqlAttachmentCatalog } from '../attachments/sqlAttachmentCatalog';
import { ImageWorkerPool } from '../attachments/imageWorkerPool';
import { UploadSlots } from '../../application/attachments/uploadSlots';
import type { AttachmentStore } from '../../application/ports/attachments';
import { objectGraph } from './graph';

export interface WiringOptions {
  config: Config;
  logger: Logger;
  clock: Clock;
  ids: IdGenerator;
  /** The process's metrics; absent: a registry of its own nobody scrapes. */
  metrics?: ChatMetrics;
  /** Opened and migrated by the caller (src/main.ts): the wiring only builds on it. */
  db: SqlDatabase;
  /** The store as it is: what audit reads and verifies. The rest of the service reads it opened (OpenedEventStore). */
  eventStore: EventStore;
  /** The users known to be erased at start; kept current from the events. */
  erasedUsers?: ErasedUsers;
}

/** Every object of one server process, by name. */
export interface Services {
  config: Config;
  logger: Logger;
  clock: Clock;
  ids: IdGenerator;
  metrics: ChatMetrics;
  db: SqlDatabase;
  /** The store as it is (sealed bodies): what audit reads and verifies. */
  storedEventStore: EventStore;
  /** The store read opened (bodies in the clear, or erased): what the service reads. */
  eventStore: EventStore;
  dataKeys: DataKeys;
  erasedUsers: ErasedUsers;
  roomCommands: RoomCommands;
  postCommands: PostCommands;
  userCommands: UserCommands;
  chatQueries: ChatQueries;
  moderationQueries: ModerationQueries;
  suspensions: Suspensions;
  messageView: MessageViewOptions;
  userProfiles: SqlUserProfiles;
  projections: ProjectionRunner;
  liveFeed: LiveFeed;
  tokenVerifier: TokenVerifier;
  roomDirectory: RoomDirectory;
  typingSignals: TypingSignals;
  expirySweeper: ExpirySweeper;
  userBudgets: UserBudgets;
  auditAnchorer: AuditAnchorer;
  anchorSchedule: AnchorSchedule;
  anchorLedger: AnchorLedger;
  auditAccessLog: AuditAccessLog;
  notifications: Notifications;
  attachmentStore: AttachmentStore;
  attachmentLinks: AttachmentLinks;
  attachments: Attachments;
  imageWorkers: ImageWorkerPool;
  uploadSlots: UploadSlots;
  erasures: ErasureProcess;
}

/**
 * The object graph of one server process, in one place. Each member is a factory that
 * reads its dependencies by name from the graph, so a missing or mistyped dependency
 * does not compile. It builds objects and does no I/O: the database and the event store
 * come in opened, their tables migrated (src/main.ts), and nothing here starts until
 * the caller starts it (src/main.ts lists the components in start order).
 */
export async function wireServices(options: WiringOptions): Promise<Services> {
  const { config } = options;
  // A checkpoint of the other store (the deployment switched stores) rebuilds the read models too.
  // The EventStoreDB module is loaded only when chosen, as in openEventStore: the only await here.
  const isCurrentCheckpoint =
    config.eventStore.kind === 'eventstoredb'
      ? (await import('../eventStore/eventStoreDbEventStore')).isEventStoreDbCheckpoint
      : options.eventStore instanceof PostgresEventStore
        ? isPostgresCheckpoint
        : undefined;

  return objectGraph<Services>({
    config: () => config,
    logger: () => options.logger,
    clock: () => options.clock,
    ids: () => options.ids,
    metrics: () => options.metrics ?? createChatMetrics({ defaultMetrics: false }),
    db: () => options.db,
    storedEventStore: () => options.eventStore,
    erasedUsers: () => options.erasedUsers ?? new ErasedUsers(),
    dataKeys: (s) => new DataKeys(new SqlDataKeyStore(s.db), new KeyRing(s.config.dataKeyEncryptionKeys)),
    // Everything but audit reads the store opened: message bodies in the clear, or erased.
    eventStore: (s) => new OpenedEventStore(s.storedEventStore, new EventOpener(s.dataKeys, s.erasedUsers)),

    roomCommands: (s) => {
      const snapshots = {
        store: new SqlSnapshotStore(s.db),
        onError: (error: unknown) => s.logger.warn({ err: error }, 'room snapshot failed; loads of that room read more events'),
      };
      const liveFeed = s.liveFeed;
      const commands = makeRoomCommands({
        eventStore: s.eventStore,
        clock: s.clock,
        ids: s.ids,
        directory: s.roomDirectory,
        snapshots,
        privacy: { keys: s.dataKeys, erased: s.erasedUsers },
        onCommitted: (event, preceding) => liveFeed.publishLocal(event, preceding),
        messageView: s.messageView,
        attachments: s.attachments.claims,
        moderation: new SqlModerationQueries(s.db),
        suspensions: new SqlSuspensions(s.db),
      });
      return measuredCommands(commands, s.metrics, roomCommandNames);
    },
    userCommands: (s) => measuredCommands(makeUserCommands({ eventStore: s.eventStore, clock: s.clock, ids: s.ids }), s.metrics, userCommandNames),
    postCommands: (s) => measuredCommands(makePostCommands({ eventStore: s.eventStore, clock: s.clock, ids: s.ids }), s.metrics, postCommandNames),

    // How a recorded message is shown, everywhere: safety hints, and its photos' signed URLs.
    messageView: (s) => {
      const links = s.attachmentLinks;
      return {
        safetyHints: s.config.safetyHints,
        attachmentLinks: (attachmentId) => ({ url: links.url(attachmentId, 'image'), thumbnailUrl: links.url(attachmentId, 'thumbnail') }),
      };
    },
    chatQueries: (s) => new SqlChatQueries(s.db, s.messageView),
    // The same view of a message as the room's history: a photo's signed URLs included.
    moderationQueries: (s) => new SqlModerationQueries(s.db, s.messageView),
    suspensions: (s) => new SqlSuspensions(s.db),

    projections: (s) =>
      new ProjectionRunner({
        projection: chatProjection,
        db: s.db,
        eventStore: s.eventStore,
        logger: s.logger,
        ...(isCurrentCheckpoint !== undefined ? { isCurrentCheckpoint } : {}),
      }),
    liveFeed: (s) => new LiveFeed(s.eventStore, s.logger),

    userProfiles: (s) => new SqlUserProfiles(s.db, s.logger),
    // An erased user's token is refused before their profile could be noted again.
    tokenVerifier: (s) => new ProfileNotingVerifier(new ErasedRefusingVerifier(new JwtVerifier(s.config.jwt), s.erasedUsers), s.userProfiles),
    erasures: (s) =>
      new ErasureProcess({
        table: new SqlErasureTable(s.db),
        scrubber: new SqlErasureScrubber(s.db),
        keys: s.dataKeys,
        erased: s.erasedUsers,
        users: s.userCommands,
        attachments: s.attachments,
        progress: s.projections,
        clock: s.clock,
        ids: s.ids,
        logger: s.logger.child({ component: 'erasure' }),
      }),
    roomDirectory: (s) => new SqlRoomDirectory(s.db),
    typingSignals: (s) => new PgTypingSignals(s.db),

    expirySweeper: (s) => {
      const sweepLogger = s.logger.child({ component: 'expiry-sweeper' });
      const ttl = { emptyTtlMs: s.config.roomEmptyTtlMs, idleTtlMs: s.config.roomIdleTtlMs };
      const { chatQueries: queries, roomCommands: commands, clock, ids, attachments, dataKeys: keys } = s;
      const retentionMs = s.config.messageRetentionMs;
      const candidates = new SqlRetentionCandidates(s.db);
      return new ExpirySweeper({
        cron: s.config.expirySweepCron,
        logger: sweepLogger,
        sweep: async (signal) => {
          const result = await sweepExpiredRooms({ queries, commands, clock, ids, logger: sweepLogger }, { ttl, signal });
          // The same schedule deletes the photos uploaded and never sent (ATTACHMENT_UNSENT_TTL).
          if (!signal.aborted) {
            const deleted = await attachments.deleteUnsent();
            if (deleted > 0) sweepLogger.info({ deleted }, 'unsent attachments deleted');
          }
          // And erases the messages of rooms quiet for longer than MESSAGE_RETENTION (docs/privacy.md).
          if (retentionMs !== null && !signal.aborted) {
            const retention = await sweepRetention({ candidates, commands, keys, attachments, clock, ids, logger: sweepLogger }, { retentionMs, signal });
            if (retention.failed > 0) sweepLogger.warn(retention, 'retention sweep finished with failures');
            else if (retention.elapsed > 0 || retention.keysDestroyed > 0) sweepLogger.info(retention, 'retention sweep finished');
          }
          return result;
        },
      });
    },

    userBudgets: (s) => {
      const { config: c, db, logger } = s;
      const settings = {
        perSecond: {
          send: c.sendRateLimit,
          command: c.commandRateLimit,
          read: c.readRateLimit,
          resume: c.resumeRateLimit,
          typing: c.typingRateLimit,
        },
        typingIntervalMs: c.typingIntervalMs,
      };
      const shared = sharesSendBudget(db, c) ? new SqlSharedBuckets(db, logger) : null;
      return measureRefusals(new UserBudgets(settings, { shared, sharedKinds: ['send'], logger }), s.metrics);
    },

    auditAnchorer: (s) =>
      new AuditAnchorer({
        eventStore: s.eventStore,
        clock: s.clock,
        ids: s.ids,
        keys: new AnchorKeyRing(s.config.auditAnchorKeys),
        logger: s.logger.child({ component: 'audit-anchor' }),
      }),
    anchorSchedule: (s) => new AnchorSchedule({ cron: s.config.auditAnchorCron, anchorer: s.auditAnchorer, logger: s.logger.child({ component: 'audit-anchor' }) }),
    anchorLedger: (s) => new AnchorLedger(s.storedEventStore, new AnchorKeyRing(s.config.auditAnchorKeys)),
    auditAccessLog: (s) => new AuditAccessLog({ eventStore: s.storedEventStore, clock: s.clock, ids: s.ids }),

    notifications: (s) => new Notifications({ config: s.config, db: s.db, eventStore: s.eventStore, logger: s.logger, clock: s.clock, ids: s.ids }),

    attachmentStore: (s) => openAttachmentStore(s.config.attachments.store, s.db),
    attachmentLinks: (s) => new AttachmentLinks(s.config.attachments.urlKey, s.config.attachments.urlTtlMs, s.clock),
    attachments: (s) => {
      const a = s.config.attachments;
      return makeAttachments({
        store: s.attachmentStore,
        catalog: new SqlAttachmentCatalog(s.db),
        pipeline: s.imageWorkers,
        rooms: s.chatQueries,
        budget: new UploadBudget({ uploads: a.uploadsPerMinute, bytes: a.uploadBytesPerMinute }),
        slots: s.uploadSlots,
        clock: s.clock,
        ids: s.ids,
        logger: s.logger,
        unsentTtlMs: a.unsentTtlMs,
        keys: s.dataKeys,
      });
    },
    uploadSlots: (s) => {
      const slots = new UploadSlots(s.config.attachments.uploadsAtOnce);
      s.metrics.watchUploads(() => slots.inUse);
      return slots;
    },
    // One worker a spare core (at least one): the chat keeps a core to itself.
    imageWorkers: (s) => new ImageWorkerPool({ maxPixels: s.config.attachments.maxPixels, workers: Math.min(4, availableParallelism() - 1), logger: s.logger }),
  });
}

import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, loadConfig, type Config } from './config';
import type { LiveFeed } from './application/live/liveFeed';
import type { TokenVerifier } from './application/ports/auth';
import { systemClock, type Clock } from './application/ports/clock';
import { randomIds, type IdGenerator } from './application/ports/ids';
import type { Logger } from './application/ports/logger';
import type { ChatQueries } from './application/ports/readModels';
import type { RoomDirectory } from './application/ports/roomDirectory';
import type { TypingSignals } from './application/ports/typingSignals';
import type { PostCommands } from './application/post/postCommands';
import type { RoomCommands } from './application/room/roomCommands';
import type { UserBudgets } from './application/limits/userBudgets';
import { seedDemoPosts } from './application/demo/demoPosts';
import { devTokenIssuer } from './infrastructure/auth/devTokenIssuer';
import { buildContainer } from './infrastructure/di/container';
import { openEventStore } from './infrastructure/eventStore/openEventStore';
import { migrateDatabase } from './infrastructure/migrations';
import { TYPES } from './infrastructure/di/identifiers';
import { pinoLogger } from './infrastructure/logging/pinoLogger';
import { createChatMetrics } from './infrastructure/metrics/chatMetrics';
import { ProjectionLagProbe } from './infrastructure/metrics/projectionLag';
import type { ProjectionRunner } from './infrastructure/readModels/projectionRunner';
import { chatProjection } from './infrastructure/readModels/chatProjection';
import type { Notifications } from './infrastructure/notifications/notifications';
import type { ExpirySweeper } from './infrastructure/scheduler/expirySweeper';
import type { AnchorSchedule } from './infrastructure/scheduler/anchorSchedule';
import type { AnchorLedger } from './application/audit/anchors';
import type { AuditAccessLog } from './application/audit/accessLog';
import { describeStorage, openDatabase } from './infrastructure/sql/openDatabase';
import { auditMessageReader } from './application/privacy/auditContent';
import type { DataKeys } from './application/privacy/dataKeys';
import { createHttpApp } from './interfaces/http/app';
import { defaultHttpTuning, timeoutOptions, tlsOptions, type HttpTuning } from './interfaces/http/serverOptions';
import { auditRoutes } from './interfaces/http/auditRoutes';
import { attachmentRoutes } from './interfaces/http/attachmentRoutes';
import type { Attachments } from './application/attachments/attachments';
import type { AttachmentLinks } from './application/attachments/attachmentLinks';
import type { ImageWorkerPool } from './infrastructure/attachments/imageWorkerPool';
import type { MessageViewOptions } from './domain/room';
import { devRoutes } from './interfaces/http/devRoutes';
import { healthRoutes, metricsRoutes } from './interfaces/http/healthRoutes';
import { httpMetrics } from './interfaces/http/httpMetrics';
import { contractRouteOf, openApiRoutes } from './interfaces/http/openapi';
import { postRoutes } from './interfaces/http/postRoutes';
import { noticeRoutes } from './interfaces/http/noticeRoutes';
import { erasureRoutes } from './interfaces/http/erasureRoutes';
import type { ErasureProcess } from './application/privacy/erasureProcess';
import { loadErasedUsers } from './infrastructure/privacy/erasedUsersTable';
import { moderationRoutes } from './interfaces/http/moderationRoutes';
import type { UserCommands } from './application/user/userCommands';
import type { ModerationQueries } from './application/ports/moderation';
import { pushRoutes } from './interfaces/http/pushRoutes';
import { roomRoutes } from './interfaces/http/roomRoutes';
import { defaultWebRoot, webAppRoutes } from './interfaces/http/webAppRoutes';
import { webhookRoutes } from './interfaces/http/webhookRoutes';
import { ChatGateway, type GatewayTuning } from './interfaces/ws/gateway';

export interface StartOptions {
  logger?: Logger;
  /** Tests drive time through this instead of sleeping. */
  clock?: Clock;
  ids?: IdGenerator;
  /** The built web app served at `/` (default: dist/web of the project). */
  webRoot?: string;
  /** WebSocket timings and limits that are not configuration (tests shorten them). */
  ws?: Partial<GatewayTuning>;
  /** HTTP request timeouts (tests shorten them). */
  http?: Partial<HttpTuning>;
}

export interface RunningServer {
  port: number;
  url: string;
  /**
   * Reads TLS_CERT_FILE and TLS_KEY_FILE again and serves them to new connections
   * (SIGHUP does this); open connections keep theirs. False when TLS is off.
   */
  reloadTls(): boolean;
  /** Where /metrics is served when METRICS_PORT is set; null otherwise. */
  metricsUrl: string | null;
  close(): Promise<void>;
}

/** The composition root: builds one server process from its configuration and starts it. */
export async function start(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? pinoLogger(config.logLevel, { pretty: config.logPretty });
  for (const warning of config.warnings) logger.warn({}, warning);
  const clock = options.clock ?? systemClock;
  const metrics = createChatMetrics();
  // Everything start-up does to the database before the service runs, in one place:
  // open it and the event store, then apply the schema migrations it has not had yet.
  const db = await openDatabase(config, logger);
  const eventStore = await openEventStore(config, db, metrics, logger);
  const schema = await migrateDatabase(db);
  if (schema.applied.length > 0) logger.info({ applied: schema.applied, version: schema.version }, 'database schema migrated');
  if (schema.unknown.length > 0) {
    logger.warn({ version: schema.version, unknown: schema.unknown }, 'the database schema is newer than this release: it was migrated by a newer one');
  }
  // Who is erased, as far as the table knows at start; kept current from the events.
  const erasedUsers = await loadErasedUsers(db);
  const container = buildContainer({ config, logger, clock, ids: options.ids ?? randomIds, metrics, db, eventStore, erasedUsers });
  const projections = await container.getAsync<ProjectionRunner>(TYPES.ProjectionRunner);
  const liveFeed = await container.getAsync<LiveFeed>(TYPES.LiveFeed);
  await projections.start();
  liveFeed.start();
  // Erasures a killed process left unfinished go on now (docs/privacy.md).
  const erasures = await container.getAsync<ErasureProcess>(TYPES.ErasureProcess);
  erasures.start();

  const lag = new ProjectionLagProbe({
    projection: chatProjection.name,
    eventStore,
    checkpoint: () => projections.checkpoint(),
    clock,
    metrics,
  });
  // Live delivery latency: from the event's recordedAt to this process's hand-off to its sockets.
  const stopMeasuringDelivery = liveFeed.listen((event) => {
    const recordedAt = Date.parse(event.metadata.recordedAt);
    if (!Number.isNaN(recordedAt)) metrics.liveDelivery.observe(Math.max(0, (clock.now().getTime() - recordedAt) / 1000));
  });
  // Webhooks, unread reminders and Web Push: off the chat's path, in this process.
  const notifications = await container.getAsync<Notifications>(TYPES.Notifications);
  await notifications.start(metrics.registry);

  const commands = await container.getAsync<RoomCommands>(TYPES.RoomCommands);
  const posts = await container.getAsync<PostCommands>(TYPES.PostCommands);
  const queries = await container.getAsync<ChatQueries>(TYPES.ChatQueries);
  const verifier = await container.getAsync<TokenVerifier>(TYPES.TokenVerifier);
  const api = { commands, queries, progress: projections, verifier, logger };
  // Every per-user budget, for HTTP and the WebSocket alike (docs/limits.md).
  const budgets = await container.getAsync<UserBudgets>(TYPES.UserBudgets);
  if (config.development) await seedDemoPosts(posts.upsertPost, logger);

  const app = createHttpApp({
    logger,
    allowedOrigins: config.allowedOrigins,
    before: [httpMetrics(metrics, contractRouteOf)],
    routers: [
      openApiRoutes(),
      postRoutes({ ...api, commands: posts, internalApiToken: config.internalApiToken }),
      // Before roomRoutes: an upload's body is an image, never parsed as JSON.
      attachmentRoutes({
        attachments: await container.getAsync<Attachments>(TYPES.Attachments),
        links: await container.getAsync<AttachmentLinks>(TYPES.AttachmentLinks),
        verifier,
        logger,
        maxBytes: config.attachments.maxBytes,
      }),
      roomRoutes({ ...api, budgets }),
      noticeRoutes({ commands, progress: projections, internalApiToken: config.internalApiToken, logger }),
      erasureRoutes({ erasures, internalApiToken: config.internalApiToken }),
      moderationRoutes({
        commands,
        users: await container.getAsync<UserCommands>(TYPES.UserCommands),
        queries: await container.getAsync<ModerationQueries>(TYPES.ModerationQueries),
        progress: projections,
        verifier,
        accessLog: await container.getAsync<AuditAccessLog>(TYPES.AuditAccessLog),
        budgets,
        clock,
        internalApiToken: config.internalApiToken,
        logger,
      }),
      auditRoutes({
        eventStore,
        verifier,
        logger,
        ledger: await container.getAsync<AnchorLedger>(TYPES.AnchorLedger),
        accessLog: await container.getAsync<AuditAccessLog>(TYPES.AuditAccessLog),
        readMessages: auditMessageReader(await container.getAsync<DataKeys>(TYPES.DataKeys)),
        attachments: await container.getAsync<Attachments>(TYPES.Attachments),
      }),
      // Development mode only: elsewhere POST /api/dev/session falls through to the 404.
      ...(config.development ? [devRoutes({ issuer: devTokenIssuer(config.jwt, options.clock ?? systemClock) })] : []),
      pushRoutes({
        push:
          notifications.vapidPublicKey === null
            ? null
            : { publicKey: notifications.vapidPublicKey, subscriptions: notifications.subscriptions, endpointRefusal: notifications.endpointRefusal },
        verifier,
        logger,
        budgets,
        allowLoopbackHttp: !config.production,
      }),
      webhookRoutes({ internalApiToken: config.internalApiToken, outbox: notifications.outbox, retryForMs: config.webhooks?.retryForMs ?? 86_400_000 }),
      webAppRoutes(options.webRoot ?? defaultWebRoot(), { frameAncestors: config.allowedOrigins }),
      healthRoutes({
        // METRICS_PORT set: /metrics is served there only, never on the public port; in
        // production it is never on the public port at all (unset: not served).
        ...(config.metricsPort === null && !config.production ? { metrics: metrics.registry } : {}),
        ready: async () => {
          const database = await db.query('SELECT 1').then(() => true, () => false);
          // The lag probe reads the event store after the read models' checkpoint: it
          // answering is the event store's check too.
          const behind = database ? await lag.measure().catch(() => null) : null;
          const eventStoreAnswers = behind !== null;
          // Within the bound rather than at zero: under steady traffic there is always an event in flight.
          const projectionsCaughtUp = behind !== null && behind.seconds * 1000 <= config.readyMaxProjectionLagMs;
          return {
            ready: database && eventStoreAnswers && projectionsCaughtUp,
            checks: { database, eventStore: eventStoreAnswers, projectionsCaughtUp },
            ...(behind !== null ? { details: { projectionLagSeconds: behind.seconds, projectionLagEvents: behind.events } } : {}),
          };
        },
      }),
    ],
  });

  const timeouts = timeoutOptions({ ...defaultHttpTuning, ...options.http });
  const tlsMaterial = (tls: NonNullable<Config['tls']>) => ({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) });
  const server: Server = config.tls
    ? createHttpsServer({ ...tlsOptions(tlsMaterial(config.tls)), ...timeouts }, app)
    : createHttpServer(timeouts, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // Listening on every interface: reach it on the loopback; on one address: there.
  const reachable = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${reachable}:${port}`;
  const metricsServer = config.metricsPort === null ? null : await listenForMetrics(config.metricsPort, config.host, metrics.registry, logger);
  const gateway = new ChatGateway({
    config,
    messageView: await container.getAsync<MessageViewOptions>(TYPES.MessageView),
    verifier,
    commands,
    queries,
    directory: await container.getAsync<RoomDirectory>(TYPES.RoomDirectory),
    typing: await container.getAsync<TypingSignals>(TYPES.TypingSignals),
    liveFeed,
    progress: projections,
    ids: options.ids ?? randomIds,
    logger,
    metrics: metrics.registry,
    budgets,
    presence: notifications.presence,
    erasedUsers,
    ...(options.ws ? { tuning: options.ws } : {}),
  });
  await gateway.start();
  gateway.attach(server);
  const imageWorkers = await container.getAsync<ImageWorkerPool>(TYPES.ImageWorkerPool);
  const sweeper = await container.getAsync<ExpirySweeper>(TYPES.ExpirySweeper);
  sweeper.start();
  const anchorSchedule = await container.getAsync<AnchorSchedule>(TYPES.AnchorSchedule);
  anchorSchedule.start();
  const metricsPort = metricsServer === null ? null : (metricsServer.address() as AddressInfo).port;
  // What a person starting it needs: the address to open, and where the data is kept.
  logger.info(
    { url: `${url}/`, port, metricsPort, storage: describeStorage(config) },
    `chat service listening: open ${url}/ (${describeStorage(config)})`,
  );

  let closing: Promise<void> | null = null;
  return {
    port,
    url,
    reloadTls: () => {
      if (config.tls === null) return false;
      (server as HttpsServer).setSecureContext(tlsOptions(tlsMaterial(config.tls)));
      logger.info({ certFile: config.tls.certFile }, 'TLS certificate reloaded');
      return true;
    },
    metricsUrl: metricsPort === null ? null : `http://${reachable}:${metricsPort}/metrics`,
    close: () =>
      (closing ??= (async () => {
        // WebSocket clients first (1001): upgraded sockets would keep server.close() waiting.
        await gateway.close();
        // No new sweep, and the running one stops after the rooms in hand, before the stores go.
        await sweeper.stop();
        await anchorSchedule.stop();
        await erasures.stop();
        await notifications.stop();
        await imageWorkers.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        if (metricsServer !== null) {
          await new Promise<void>((resolve) => {
            metricsServer.close(() => resolve());
            metricsServer.closeAllConnections();
          });
        }
        stopMeasuringDelivery();
        // The live feed first, so nothing waits on a projection that is already gone.
        await Promise.all([liveFeed.stop(), projections.stop()]);
        await eventStore.close();
        await db.close();
      })()),
  };
}

/**
 * `/metrics` on a port of its own (METRICS_PORT), for the scraper on the private
 * network: plain HTTP, nothing else served there.
 */
async function listenForMetrics(port: number, host: string, registry: Registry, logger: Logger): Promise<Server> {
  const app = createHttpApp({ logger, routers: [metricsRoutes(registry)] });
  const server = createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, { stdoutIsTty: process.stdout.isTTY === true });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const logger = pinoLogger(config.logLevel, { pretty: config.logPretty });
  const server = await start(config, { logger });
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // A renewed certificate is picked up without a restart: `kill -HUP <pid>`.
  process.on('SIGHUP', () => {
    try {
      server.reloadTls();
    } catch (error) {
      logger.error({ err: error }, 'TLS reload failed; the previous certificate stays');
    }
  });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`start-up failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    process.exit(1);
  });
}

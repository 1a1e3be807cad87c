import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, loadConfig, type Config } from './config';
import { systemClock, type Clock } from './application/ports/clock';
import { randomIds, type IdGenerator } from './application/ports/ids';
import type { Logger } from './application/ports/logger';
import { seedDemoPosts } from './application/demo/demoPosts';
import { devTokenIssuer } from './infrastructure/auth/devTokenIssuer';
import { wireServices } from './infrastructure/di/services';
import { Lifecycle } from './infrastructure/di/lifecycle';
import { openEventStore } from './infrastructure/eventStore/openEventStore';
import { migrateDatabase } from './infrastructure/migrations';
import { pinoLogger } from './infrastructure/logging/pinoLogger';
import { createChatMetrics } from './infrastructure/metrics/chatMetrics';
import { ProjectionLagProbe } from './infrastructure/metrics/projectionLag';
import { chatProjection } from './infrastructure/readModels/chatProjection';
import { describeStorage, openDatabase } from './infrastructure/sql/openDatabase';
import { auditMessageReader } from './application/privacy/auditContent';
import { createHttpApp } from './interfaces/http/app';
import { defaultHttpTuning, timeoutOptions, tlsOptions, type HttpTuning } from './interfaces/http/serverOptions';
import { auditRoutes } from './interfaces/http/auditRoutes';
import { attachmentRoutes } from './interfaces/http/attachmentRoutes';
import { devRoutes } from './interfaces/http/devRoutes';
import { healthRoutes, metricsRoutes } from './interfaces/http/healthRoutes';
import { httpMetrics } from './interfaces/http/httpMetrics';
import { contractRouteOf, openApiRoutes } from './interfaces/http/openapi';
import { postRoutes } from './interfaces/http/postRoutes';
import { noticeRoutes } from './interfaces/http/noticeRoutes';
import { erasureRoutes } from './interfaces/http/erasureRoutes';
import { loadErasedUsers } from './infrastructure/privacy/erasedUsersTable';
import { moderationRoutes } from './interfaces/http/moderationRoutes';
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

/**
 * The composition root: builds one server process from its configuration and starts it.
 * The objects are wired in src/infrastructure/di/services.ts; what runs is the list of
 * components below, started in that order and stopped in reverse.
 */
export async function start(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? pinoLogger(config.logLevel, { pretty: config.logPretty });
  for (const warning of config.warnings) logger.warn({}, warning);
  const clock = options.clock ?? systemClock;
  const metrics = createChatMetrics();
  // Everything start-up does to the database before the service runs, in one place:
  // open it and the event store, then apply the schema migrations it has not had yet.
  const db = await openDatabase(config, logger);
  const eventStore = await openEventStore(config, db, metrics, logger).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  const schema = await migrateDatabase(db).catch(async (error: unknown) => {
    await eventStore.close();
    await db.close();
    throw error;
  });
  if (schema.applied.length > 0) logger.info({ applied: schema.applied, version: schema.version }, 'database schema migrated');
  if (schema.unknown.length > 0) {
    logger.warn({ version: schema.version, unknown: schema.unknown }, 'the database schema is newer than this release: it was migrated by a newer one');
  }
  // Who is erased, as far as the table knows at start; kept current from the events.
  const erasedUsers = await loadErasedUsers(db);
  const services = await wireServices({ config, logger, clock, ids: options.ids ?? randomIds, metrics, db, eventStore, erasedUsers });
  const { projections, liveFeed, notifications, roomCommands: commands, chatQueries: queries, tokenVerifier: verifier, userBudgets: budgets } = services;

  const lag = new ProjectionLagProbe({
    projection: chatProjection.name,
    eventStore,
    checkpoint: () => projections.checkpoint(),
    clock,
    metrics,
  });
  const api = { commands, queries, progress: projections, verifier, logger };

  // Built when the HTTP server starts: the push routes read the VAPID key notifications.start() loaded.
  const buildApp = (): ReturnType<typeof createHttpApp> =>
    createHttpApp({
      logger,
      allowedOrigins: config.allowedOrigins,
      before: [httpMetrics(metrics, contractRouteOf)],
      routers: [
        openApiRoutes(),
        postRoutes({ ...api, commands: services.postCommands, internalApiToken: config.internalApiToken }),
        // Before roomRoutes: an upload's body is an image, never parsed as JSON.
        attachmentRoutes({
          attachments: services.attachments,
          links: services.attachmentLinks,
          verifier,
          logger,
          maxBytes: config.attachments.maxBytes,
        }),
        roomRoutes({ ...api, budgets }),
        noticeRoutes({ commands, progress: projections, internalApiToken: config.internalApiToken, logger }),
        erasureRoutes({ erasures: services.erasures, internalApiToken: config.internalApiToken }),
        moderationRoutes({
          commands,
          users: services.userCommands,
          queries: services.moderationQueries,
          progress: projections,
          verifier,
          accessLog: services.auditAccessLog,
          budgets,
          clock,
          internalApiToken: config.internalApiToken,
          logger,
        }),
        auditRoutes({
          eventStore,
          verifier,
          logger,
          ledger: services.anchorLedger,
          accessLog: services.auditAccessLog,
          readMessages: auditMessageReader(services.dataKeys),
          attachments: services.attachments,
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
  let server: Server | null = null;
  let metricsServer: Server | null = null;
  let stopMeasuringDelivery = (): void => {};
  let gateway: ChatGateway | null = null;

  // What runs, in start order; shutdown stops them in reverse (src/infrastructure/di/lifecycle.ts).
  const lifecycle = new Lifecycle(
    [
      { name: 'database', stop: () => db.close() },
      { name: 'event store', stop: () => eventStore.close() },
      {
        name: 'read models and live feed',
        start: async () => {
          await projections.start();
          liveFeed.start();
        },
        // The live feed with the projection, so nothing waits on a projection that is already gone.
        stop: async () => {
          await Promise.all([liveFeed.stop(), projections.stop()]);
        },
      },
      {
        // Live delivery latency: from the event's recordedAt to this process's hand-off to its sockets.
        name: 'live delivery metric',
        start: () => {
          stopMeasuringDelivery = liveFeed.listen((event) => {
            const recordedAt = Date.parse(event.metadata.recordedAt);
            if (!Number.isNaN(recordedAt)) metrics.liveDelivery.observe(Math.max(0, (clock.now().getTime() - recordedAt) / 1000));
          });
        },
        stop: () => stopMeasuringDelivery(),
      },
      // Erasures a killed process left unfinished go on now (docs/privacy.md).
      { name: 'erasure process', start: () => services.erasures.start(), stop: () => services.erasures.stop() },
      // Webhooks, unread reminders and Web Push: off the chat's path, in this process.
      { name: 'notifications', start: () => notifications.start(metrics.registry), stop: () => notifications.stop() },
      // Photos are resized in worker threads, started on the first upload.
      { name: 'image workers', stop: () => services.imageWorkers.close() },
      { name: 'demo posts', start: () => (config.development ? seedDemoPosts(services.postCommands.upsertPost, logger) : undefined) },
      {
        name: 'http server',
        start: async () => {
          const app = buildApp();
          const listening = config.tls ? createHttpsServer({ ...tlsOptions(tlsMaterial(config.tls)), ...timeouts }, app) : createHttpServer(timeouts, app);
          await new Promise<void>((resolve, reject) => {
            listening.once('error', reject);
            listening.listen(config.port, config.host, () => resolve());
          });
          server = listening;
        },
        stop: () => closeServer(server),
      },
      {
        name: 'metrics server',
        start: async () => {
          if (config.metricsPort !== null) metricsServer = await listenForMetrics(config.metricsPort, config.host, metrics.registry, logger);
        },
        stop: () => closeServer(metricsServer),
      },
      // The audit anchor and the expiry sweep stop after the WebSocket clients have gone; the
      // running sweep stops after the rooms in hand, before the stores go.
      { name: 'audit anchor schedule', start: () => services.anchorSchedule.start(), stop: () => services.anchorSchedule.stop() },
      { name: 'expiry sweeper', start: () => services.expirySweeper.start(), stop: () => services.expirySweeper.stop() },
      {
        // Stopped first: WebSocket clients get 1001, and upgraded sockets would keep the HTTP server's close waiting.
        name: 'websocket gateway',
        start: async () => {
          const started = new ChatGateway({
            config,
            messageView: services.messageView,
            verifier,
            commands,
            queries,
            directory: services.roomDirectory,
            typing: services.typingSignals,
            liveFeed,
            progress: projections,
            ids: options.ids ?? randomIds,
            logger,
            metrics: metrics.registry,
            budgets,
            presence: notifications.presence,
            erasedUsers: services.erasedUsers,
            ...(options.ws ? { tuning: options.ws } : {}),
          });
          await started.start();
          if (server !== null) started.attach(server);
          gateway = started;
        },
        stop: () => gateway?.close(),
      },
    ],
    logger,
  );
  await lifecycle.start();

  const httpServer = server as Server | null;
  if (httpServer === null) throw new Error('the HTTP server did not start');
  const port = (httpServer.address() as AddressInfo).port;
  // Listening on every interface: reach it on the loopback; on one address: there.
  const reachable = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${reachable}:${port}`;
  const runningMetrics = metricsServer as Server | null;
  const metricsPort = runningMetrics === null ? null : (runningMetrics.address() as AddressInfo).port;
  // What a person starting it needs: the address to open, and where the data is kept.
  logger.info(
    { url: `${url}/`, port, metricsPort, storage: describeStorage(config) },
    `chat service listening: open ${url}/ (${describeStorage(config)})`,
  );

  return {
    port,
    url,
    reloadTls: () => {
      if (config.tls === null) return false;
      (httpServer as HttpsServer).setSecureContext(tlsOptions(tlsMaterial(config.tls)));
      logger.info({ certFile: config.tls.certFile }, 'TLS certificate reloaded');
      return true;
    },
    metricsUrl: metricsPort === null ? null : `http://${reachable}:${metricsPort}/metrics`,
    close: () => lifecycle.stop(),
  };
}

/** Stops listening and closes every connection still open (keep-alive ones included). */
function closeServer(server: Server | null): Promise<void> {
  if (server === null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
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

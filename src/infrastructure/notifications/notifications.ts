import type { Registry } from 'prom-client';
import type { Config } from '../../config';
import type { Clock } from '../../application/ports/clock';
import type { EventStore } from '../../application/ports/eventStore';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { DeliveryWorker } from './deliveryWorker';
import { OutboxFeeder } from './outboxFeeder';
import { OutboxStore } from './outboxStore';
import { developmentVapidKeys, SqlPushSubscriptions } from './pushSubscriptions';
import { pushSender, webhookSender, type Sender } from './senders';
import { endpointRefusal } from './pushEndpointPolicy';
import { SqlPresence } from './sqlPresence';
import { UnreadReminders } from './unreadReminders';

/**
 * Each channel's slots in this process: enough for several slow receivers, few enough
 * to stay out of the chat's way. One webhook URL may hold half of the webhook slots
 * (the others stay free for the other URLs); one push recipient two push slots,
 * whatever number of endpoints they have.
 */
const WEBHOOK_LANE = { concurrency: 8, perKey: 4 };
const PUSH_LANE = { concurrency: 8, perKey: 2 };
/** Push services answer in well under a second; a push endpoint that does not is not worth a webhook's patience. */
const PUSH_TIMEOUT_MS = 5_000;
/** A push older than this is noise: it is given up (push services keep it at most this long too). */
const PUSH_RETRY_FOR_MS = 60 * 60_000;

export interface NotificationsDeps {
  config: Config;
  db: SqlDatabase;
  eventStore: EventStore;
  logger: Logger;
  clock: Clock;
  ids: IdGenerator;
}

/**
 * Everything that reaches users who are not connected: presence, the outbox feeder,
 * the delivery worker, unread reminders, and Web Push subscriptions. Runs in every
 * server process; the database makes each decision once (see docs/webhooks.md).
 * Its tables (notifications/schema.ts) and the read models its reminders read are
 * created before it is built (migrateDatabase).
 */
export class Notifications {
  readonly presence: SqlPresence;
  readonly outbox: OutboxStore;
  readonly subscriptions: SqlPushSubscriptions;
  private feeder: OutboxFeeder | null = null;
  private worker: DeliveryWorker | null = null;
  private reminders: UnreadReminders | null = null;
  /** The VAPID public key browsers subscribe with; null when push is off. */
  vapidPublicKey: string | null = null;
  /** Why push may not go to this endpoint (checked again at every delivery), or null when it may. */
  readonly endpointRefusal = (endpoint: string): Promise<string | null> => endpointRefusal(endpoint, this.deps.config.push.endpoints);

  constructor(private readonly deps: NotificationsDeps) {
    this.presence = new SqlPresence(deps.db, deps.logger.child({ component: 'presence' }));
    this.outbox = new OutboxStore(deps.db);
    this.subscriptions = new SqlPushSubscriptions(deps.db);
  }

  async start(metrics: Registry): Promise<void> {
    const { config, db, logger } = this.deps;
    await this.presence.start();
    const vapid = config.push.vapid ?? (config.production ? null : await developmentVapidKeys(db));
    this.vapidPublicKey = vapid?.publicKey ?? null;
    const webhooks = config.webhooks;
    if (webhooks === null && vapid === null) return;

    const senders: Partial<Record<'webhook' | 'push', Sender>> = {};
    if (webhooks !== null) senders.webhook = webhookSender(webhooks.secret);
    const pushRetryForMs = Math.min(PUSH_RETRY_FOR_MS, webhooks?.retryForMs ?? PUSH_RETRY_FOR_MS);
    if (vapid !== null) senders.push = pushSender(db, { subject: config.push.subject, ...vapid }, Math.round(pushRetryForMs / 1000), config.push.endpoints);

    this.feeder = new OutboxFeeder({
      db,
      eventStore: this.deps.eventStore,
      ids: this.deps.ids,
      logger: logger.child({ component: 'notification-feeder' }),
      webhooks: webhooks === null ? null : { urls: webhooks.urls, includeBody: webhooks.includeBody, retryForMs: webhooks.retryForMs },
      push: vapid === null ? null : { includeBody: config.push.includeBody, retryForMs: pushRetryForMs },
      historyWindowMs: Math.max(webhooks?.retryForMs ?? 0, pushRetryForMs),
      now: () => this.deps.clock.now(),
    });
    this.worker = new DeliveryWorker({
      db,
      outbox: this.outbox,
      senders,
      logger: logger.child({ component: 'delivery-worker' }),
      lanes: {
        webhook: { ...WEBHOOK_LANE, timeoutMs: webhooks?.timeoutMs ?? 10_000 },
        push: { ...PUSH_LANE, timeoutMs: Math.min(PUSH_TIMEOUT_MS, webhooks?.timeoutMs ?? PUSH_TIMEOUT_MS) },
      },
      onGone: (delivery) => this.subscriptions.removeGone(delivery.target),
      metrics,
      deadLetterRetentionMs: config.deadLetterRetentionMs,
    });
    await this.worker.start();
    await this.feeder.start();
    if (webhooks !== null) {
      this.reminders = new UnreadReminders({
        db,
        clock: this.deps.clock,
        ids: this.deps.ids,
        logger: logger.child({ component: 'unread-reminders' }),
        afterMs: config.notifyUnreadAfterMs,
        webhooks: { urls: webhooks.urls, retryForMs: webhooks.retryForMs },
      });
      await this.reminders.start();
    }
    logger.info({ webhooks: webhooks?.urls.length ?? 0, push: vapid !== null }, 'notifications started');
  }

  async stop(): Promise<void> {
    await this.reminders?.stop();
    await this.feeder?.stop();
    await this.worker?.stop();
    await this.presence.stop();
  }
}

import type { EventStore, RecordedEvent, Subscription } from '../../application/ports/eventStore';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import {
  pushPayload,
  userWebhookEventFor,
  webhookEnvelope,
  webhookEventFor,
  otherParticipant,
  type RoomParticipants,
  type WebhookEvent,
} from '../../application/notifications/webhookEvents';
import { decodeEvent, decodeRoomEvent, isUserEventType } from '../../domain/events';
import { CoalescedPump } from '../coalescedPump';
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';
import { enqueueDeliveries, type NewDelivery } from './outboxStore';
import { isOnline } from './sqlPresence';

export interface OutboxFeederOptions {
  db: SqlDatabase;
  eventStore: EventStore;
  ids: IdGenerator;
  logger: Logger;
  webhooks: { urls: string[]; includeBody: boolean; retryForMs: number } | null;
  push: { includeBody: boolean; retryForMs: number } | null;
  /**
   * On the very first run (no checkpoint yet), events recorded longer ago than this are
   * passed over: turning webhooks on for an old store sends no history. Once a
   * checkpoint exists every event is sent, however late.
   */
  historyWindowMs: number;
  now(): Date;
  batchSize?: number;
  pollIntervalMs?: number;
  /** How long a wake-up waits for more events to gather into the same batch. */
  gatherMs?: number;
}

const FEEDER = 'notifications';

/**
 * Turns stored events into deliveries: a checkpointed follower of the event store with
 * a checkpoint of its own (notify_checkpoints). Each batch is written to the outbox in
 * one transaction that also moves the checkpoint, under an advisory lock, so any number
 * of processes may run it and each event becomes its deliveries exactly once; a crash
 * leaves the checkpoint behind and the next run picks up from there.
 */
export class OutboxFeeder {
  private scheduled = false;
  private doorbell: Subscription | null = null;
  private unlistenAppends: Promise<(() => Promise<void>) | null> = Promise.resolve(null);
  private timer: NodeJS.Timeout | null = null;
  private readonly pump: CoalescedPump;

  constructor(private readonly options: OutboxFeederOptions) {
    this.pump = new CoalescedPump(
      () => this.catchUp(),
      (error) => this.options.logger.error({ err: error }, 'notification feeder batch failed; will retry'),
    );
  }

  start(): void {
    // Webhooks should leave within moments: follow the store. Pushes alone can wait for the poll.
    if (this.options.webhooks !== null) this.followStore();
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  private followStore(): void {
    // The store's own signal where it has one: a subscription would read every event only to ring.
    const store = this.options.eventStore;
    if (store.onAppended !== undefined) {
      this.unlistenAppends = store.onAppended(() => this.wake()).catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'notification feeder could not listen for appends; polling only');
        return null;
      });
      return;
    }
    this.doorbell = store.subscribeToAll(
      { from: 'end' },
      {
        onEvent: async () => this.wake(),
        onError: (error) => this.options.logger.warn({ err: error }, 'notification feeder wake-up subscription failed; retrying'),
      },
    );
  }

  async stop(): Promise<void> {
    const pumped = this.pump.stop();
    if (this.timer !== null) clearInterval(this.timer);
    await this.doorbell?.stop();
    await (await this.unlistenAppends)?.();
    await pumped;
  }

  /**
   * Look for new events soon. Wake-ups within a few milliseconds are gathered into one
   * batch, so a burst of messages costs the database one transaction, not one each.
   */
  wake(): void {
    if (this.pump.isStopped || this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.run();
    }, this.options.gatherMs ?? 25).unref();
  }

  private run(): void {
    this.pump.wake();
  }

  async catchUp(): Promise<void> {
    const batchSize = this.options.batchSize ?? 200;
    while (!this.pump.isStopped) {
      const from = await checkpointOf(this.options.db);
      const events = await this.options.eventStore.readAll(from, batchSize);
      if (events.length === 0) return;
      await this.options.db.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('chat:notify:feeder', 0))`);
        // Another process may have fed some of these while we were reading them.
        const current = await checkpointOf(tx);
        const firstRun = current === null;
        // With no push subscription anywhere (and no webhooks), messages need no lookups at all.
        const anySubscription =
          this.options.push !== null && (await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM push_subscriptions) AS any`)).rows[0]?.any === true;
        let reached = current;
        for (const event of events) {
          if (reached !== null && event.checkpoint <= reached) continue;
          await enqueueDeliveries(tx, await this.deliveriesFor(tx, event, firstRun, anySubscription));
          reached = event.checkpoint;
        }
        if (reached !== null && reached !== current) {
          await tx.query(
            `INSERT INTO notify_checkpoints (feeder, checkpoint) VALUES ($1, $2)
             ON CONFLICT (feeder) DO UPDATE SET checkpoint = excluded.checkpoint`,
            [FEEDER, reached],
          );
        }
      });
      if (events.length < batchSize) return;
    }
  }

  private async deliveriesFor(tx: SqlExecutor, recorded: RecordedEvent, firstRun: boolean, anySubscription: boolean): Promise<NewDelivery[]> {
    if (isUserEventType(recorded.type)) {
      const userEvent = decodeEvent(recorded);
      if (userEvent?.type !== 'UserSuspended' && userEvent?.type !== 'UserReinstated') return [];
      return this.webhooksOf(recorded, userWebhookEventFor(userEvent));
    }
    const event = decodeRoomEvent(recorded);
    if (event === null) return [];
    if (event.type === 'RoomOpened') {
      const d = event.data;
      await tx.query(
        `INSERT INTO notify_rooms (room_id, post_id, post_title, lender_id, borrower_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (room_id) DO NOTHING`,
        [d.roomId, d.postId, d.postTitle, d.lenderId, d.borrowerId],
      );
    }
    // Reads and unblocks are not sent, nor the marketplace's own notices (it tells its users
    // itself); with webhooks off, only messages matter (Web Push).
    if (event.type === 'MessagesRead' || event.type === 'RoomUnblocked') return [];
    if (event.type === 'MessageSent' && event.data.kind === 'notice') return [];
    if (this.options.webhooks === null && (event.type !== 'MessageSent' || !anySubscription)) return [];
    const recordedAt = Date.parse(recorded.metadata.recordedAt);
    const age = Number.isFinite(recordedAt) ? this.options.now().getTime() - recordedAt : 0;
    if (firstRun && age > this.options.historyWindowMs) return [];
    const room = event.type === 'RoomOpened' ? null : await roomOf(tx, event.data.roomId);
    const recipient = event.type === 'MessageSent' && room !== null ? otherParticipant(room, event.data.senderId) : null;
    const webhooks = this.options.webhooks;
    const push = this.options.push;
    // Presence is asked only when an answer matters: a webhook, or a push subscription to send to.
    const subscriptions =
      push !== null && recipient !== null && age <= push.retryForMs
        ? (await tx.query<{ endpoint: string }>(`SELECT endpoint FROM push_subscriptions WHERE user_id = $1 ORDER BY endpoint`, [recipient])).rows
        : [];
    const recipientOnline = recipient !== null && (webhooks !== null || subscriptions.length > 0) && (await isOnline(tx, recipient));
    const deliveries: NewDelivery[] = [];

    const webhook = webhooks === null ? null : webhookEventFor(event, room, { includeBody: webhooks.includeBody, recipientOnline });
    if (webhook !== null) deliveries.push(...this.webhooksOf(recorded, webhook));

    // A notification about a message older than the push window is noise, not news (no subscriptions were read for it).
    if (push !== null && event.type === 'MessageSent' && room !== null && !recipientOnline) {
      for (const { endpoint } of subscriptions) {
        deliveries.push({
          deliveryId: this.options.ids.newId(),
          channel: 'push',
          target: endpoint,
          orderingKey: event.data.roomId,
          // A user's endpoints share one user's slots: many dead ones cannot crowd out other users.
          fairKey: `user:${recipient}`,
          eventId: recorded.eventId,
          type: 'message.created',
          body: pushPayload(event, room, push.includeBody),
          retryForMs: push.retryForMs,
        });
      }
    }
    return deliveries;
  }

  /** One signed delivery of `webhook` to each configured URL (none with webhooks off). */
  private webhooksOf(recorded: RecordedEvent, webhook: WebhookEvent): NewDelivery[] {
    const webhooks = this.options.webhooks;
    if (webhooks === null) return [];
    return webhooks.urls.map((url) => {
      const deliveryId = this.options.ids.newId();
      return {
        deliveryId,
        channel: 'webhook' as const,
        target: url,
        orderingKey: webhook.roomId,
        eventId: recorded.eventId,
        type: webhook.type,
        body: webhookEnvelope(deliveryId, recorded.eventId, recorded.metadata.recordedAt, webhook),
        retryForMs: webhooks.retryForMs,
      };
    });
  }
}

async function checkpointOf(db: SqlExecutor): Promise<string | null> {
  const result = await db.query<{ checkpoint: string }>(`SELECT checkpoint FROM notify_checkpoints WHERE feeder = $1`, [FEEDER]);
  return result.rows[0]?.checkpoint ?? null;
}

export async function roomOf(db: SqlExecutor, roomId: string): Promise<RoomParticipants | null> {
  const result = await db.query<{ room_id: string; post_id: string; post_title: string; lender_id: string; borrower_id: string }>(
    `SELECT room_id, post_id, post_title, lender_id, borrower_id FROM notify_rooms WHERE room_id = $1`,
    [roomId],
  );
  const r = result.rows[0];
  return r === undefined ? null : { roomId: r.room_id, postId: r.post_id, postTitle: r.post_title, lenderId: r.lender_id, borrowerId: r.borrower_id };
}

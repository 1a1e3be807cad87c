import type { EventStore, RecordedEvent } from '../../application/ports/eventStore';
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
import { CheckpointedFollower } from '../checkpointedFollower';
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';
import { enqueueDeliveries, scrubRoomMessageBodies, type NewDelivery } from './outboxStore';
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
 * Turns stored events into deliveries: a checkpointed follower of the event store
 * (checkpointedFollower.ts) with a checkpoint of its own (notify_checkpoints). Each batch
 * is written to the outbox in the transaction that also moves the checkpoint, under an
 * advisory lock, so any number of processes may run it and each event becomes its
 * deliveries exactly once; a crash leaves the checkpoint behind and the next run picks
 * up from there.
 */
export class OutboxFeeder {
  private readonly follower: CheckpointedFollower;

  constructor(private readonly options: OutboxFeederOptions) {
    this.follower = new CheckpointedFollower({
      name: FEEDER,
      label: 'notification feeder',
      lockKey: 'chat:notify:feeder',
      checkpoints: { table: 'notify_checkpoints', keyColumn: 'feeder' },
      db: options.db,
      eventStore: options.eventStore,
      logger: options.logger,
      applyBatch: (tx, events, previous) => this.feed(tx, events, previous),
      batchSize: options.batchSize ?? 200,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      gatherMs: options.gatherMs ?? 25,
      // Webhooks should leave within moments: follow the store. Pushes alone can wait for the poll.
      doorbell: options.webhooks !== null ? 'best-effort' : 'off',
    });
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  /**
   * Look for new events soon. Wake-ups within a few milliseconds are gathered into one
   * batch, so a burst of messages costs the database one transaction, not one each.
   */
  wake(): void {
    this.follower.wake();
  }

  catchUp(): Promise<void> {
    return this.follower.catchUp();
  }

  /** One batch of events (those after `previous`) into the outbox. */
  private async feed(tx: SqlExecutor, events: readonly RecordedEvent[], previous: string | null): Promise<void> {
    const firstRun = previous === null;
    // With no push subscription anywhere (and no webhooks), messages need no lookups at all.
    const anySubscription =
      this.options.push !== null && (await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM push_subscriptions) AS any`)).rows[0]?.any === true;
    for (const event of events) await enqueueDeliveries(tx, await this.deliveriesFor(tx, event, firstRun, anySubscription));
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
    if (event.type === 'RoomRetentionElapsed') {
      // The messages before it were fed already (the store's order): their words leave the outbox.
      await scrubRoomMessageBodies(tx, event.data.roomId, event.data.upToSeq);
      return [];
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

export async function roomOf(db: SqlExecutor, roomId: string): Promise<RoomParticipants | null> {
  const result = await db.query<{ room_id: string; post_id: string; post_title: string; lender_id: string; borrower_id: string }>(
    `SELECT room_id, post_id, post_title, lender_id, borrower_id FROM notify_rooms WHERE room_id = $1`,
    [roomId],
  );
  const r = result.rows[0];
  return r === undefined ? null : { roomId: r.room_id, postId: r.post_id, postTitle: r.post_title, lenderId: r.lender_id, borrowerId: r.borrower_id };
}

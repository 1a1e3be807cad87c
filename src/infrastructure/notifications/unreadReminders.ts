import { scheduleJob, type Job } from 'node-schedule';
import type { Clock } from '../../application/ports/clock';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import { webhookEnvelope, type WebhookEvent } from '../../application/notifications/webhookEvents';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { enqueueDeliveries, type NewDelivery } from './outboxStore';

export interface UnreadRemindersOptions {
  db: SqlDatabase;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** NOTIFY_UNREAD_AFTER. */
  afterMs: number;
  webhooks: { urls: string[]; retryForMs: number };
}

/** A room whose last message is older than this past the reminder time is not reminded of (a first start sends no history). */
const STALE_AFTER_MS = 86_400_000;

/**
 * `user.unread`: once a message has waited NOTIFY_UNREAD_AFTER unread, one reminder
 * per user and room, and none again until the user reads something there. Every
 * process runs the check on a node-schedule timer; the decision is made once, in one
 * transaction under an advisory lock that records the reminder (notify_unread_reminders)
 * and queues its webhooks together.
 */
export class UnreadReminders {
  private job: Job | null = null;
  private running: Promise<number> | null = null;

  constructor(private readonly options: UnreadRemindersOptions) {}

  /** How often to look: about twice per NOTIFY_UNREAD_AFTER, from every second to every 30 s. */
  static cronFor(afterMs: number): string {
    const steps = [1, 2, 5, 10, 15, 30];
    const step = steps.filter((s) => s * 1000 <= afterMs / 2).at(-1) ?? 1;
    return `*/${step} * * * * *`;
  }

  async start(): Promise<void> {
    this.job = scheduleJob(UnreadReminders.cronFor(this.options.afterMs), () => {
      void this.runOnce();
    });
  }

  async stop(): Promise<void> {
    this.job?.cancel();
    this.job = null;
    await this.running?.catch(() => undefined);
  }

  /** One check now (skipped if one is running here); resolves with the number of reminders decided. */
  runOnce(): Promise<number> {
    if (this.running !== null) return Promise.resolve(0);
    const run = this.remind()
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'unread reminder check failed; the next tick tries again');
        return 0;
      })
      .finally(() => {
        this.running = null;
      });
    this.running = run;
    return run;
  }

  private async remind(): Promise<number> {
    const now = this.options.clock.now();
    const dueBefore = new Date(now.getTime() - this.options.afterMs);
    const staleBefore = new Date(dueBefore.getTime() - STALE_AFTER_MS);
    return this.options.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('chat:notify:unread', 0))`);
      const due = await tx.query<{
        room_id: string;
        user_id: string;
        unread_count: number;
        last_read_seq: number;
        oldest_seq: number;
        oldest_at: Date | string;
        post_id: string;
        post_title: string;
        lender_id: string;
        borrower_id: string;
      }>(
        `SELECT m.room_id, m.user_id, m.unread_count, m.last_read_seq, first.seq AS oldest_seq, first.sent_at AS oldest_at,
                r.post_id, r.post_title, r.lender_id, r.borrower_id
           FROM rm_room_members m
           JOIN rm_rooms r ON r.room_id = m.room_id
           CROSS JOIN LATERAL (
             SELECT x.seq, x.sent_at FROM rm_messages x
              WHERE x.room_id = m.room_id AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id
              ORDER BY x.seq LIMIT 1
           ) first
           LEFT JOIN notify_unread_reminders done ON done.room_id = m.room_id AND done.user_id = m.user_id
          WHERE m.unread_count > 0 AND m.status = 'open' AND r.blocks = '{}'::jsonb
            AND first.sent_at <= $1 AND r.last_message_at >= $2
            AND (done.room_id IS NULL OR m.last_read_seq > done.last_read_seq)
          ORDER BY first.sent_at
          LIMIT 500`,
        [dueBefore.toISOString(), staleBefore.toISOString()],
      );
      const deliveries: NewDelivery[] = [];
      for (const row of due.rows) {
        await tx.query(
          `INSERT INTO notify_unread_reminders (room_id, user_id, last_read_seq, reminded_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (room_id, user_id) DO UPDATE SET last_read_seq = excluded.last_read_seq, reminded_at = excluded.reminded_at`,
          [row.room_id, row.user_id, row.last_read_seq, now.toISOString()],
        );
        const event: WebhookEvent = {
          type: 'user.unread',
          roomId: row.room_id,
          data: {
            userId: row.user_id,
            roomId: row.room_id,
            postId: row.post_id,
            postTitle: row.post_title,
            otherUserId: row.user_id === row.lender_id ? row.borrower_id : row.lender_id,
            count: row.unread_count,
            oldestUnreadSeq: row.oldest_seq,
            oldestUnreadAt: new Date(row.oldest_at).toISOString(),
          },
        };
        for (const url of this.options.webhooks.urls) {
          const deliveryId = this.options.ids.newId();
          deliveries.push({
            deliveryId,
            channel: 'webhook',
            target: url,
            orderingKey: row.room_id,
            eventId: null,
            type: event.type,
            body: webhookEnvelope(deliveryId, null, now.toISOString(), event),
            retryForMs: this.options.webhooks.retryForMs,
          });
        }
      }
      await enqueueDeliveries(tx, deliveries);
      if (due.rows.length > 0) this.options.logger.info({ reminders: due.rows.length }, 'unread reminders decided');
      return due.rows.length;
    });
  }
}

import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../application/ports/logger';
import { classifyResponse, nextAttemptAt, parseRetryAfter } from '../../application/notifications/retryPolicy';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { OUTBOX_CHANNEL, type Channel, type ClaimedDelivery, type OutboxStore } from './outboxStore';
import type { Sender } from './senders';
import { CoalescedPump } from '../coalescedPump';

export interface DeliveryWorkerOptions {
  db: SqlDatabase;
  outbox: OutboxStore;
  senders: Partial<Record<Channel, Sender>>;
  logger: Logger;
  /** Each channel's own slots and time limit: webhooks and pushes never wait for each other. */
  lanes: Record<Channel, Lane>;
  /**
   * Called when a push service says the subscription is gone (404/410), or when its
   * endpoint is one push may not reach (stored before the rules, or its host now
   * resolves elsewhere): either way it will never take a delivery.
   */
  onGone?(delivery: ClaimedDelivery): Promise<void>;
  metrics?: Registry;
  pollIntervalMs?: number;
  /** DEAD_LETTER_RETENTION: dead letters older than this are deleted, looked for hourly (and at start). */
  deadLetterRetentionMs: number;
  purgeIntervalMs?: number;
  /** The outbox gauges are counted at most this often, however often /metrics is scraped. */
  summaryMaxAgeMs?: number;
}

/** One channel's share of the worker. */
export interface Lane {
  /** Deliveries of this channel in flight at once in this process. */
  concurrency: number;
  /** Leases one fair key (a webhook URL, a push recipient) may hold at once, across processes. */
  perKey: number;
  /** One attempt's time limit. */
  timeoutMs: number;
}

const CHANNELS: readonly Channel[] = ['webhook', 'push'];

/**
 * Sends what the outbox holds, off the chat's path: its own loop, a bounded number of
 * deliveries in flight per channel, each with a time limit, and a lease in the
 * database so that of several processes one sends each delivery (another takes it
 * over only once the lease has run out). A slow or dead receiver holds only its own
 * share of its channel's slots (OutboxStore.claim), and webhooks and pushes have
 * slots of their own.
 */
export class DeliveryWorker {
  readonly owner = randomUUID();
  private readonly inFlight: Record<Channel, number> = { webhook: 0, push: 0 };
  private timer: NodeJS.Timeout | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private readonly active = new Set<Promise<void>>();
  private readonly pump: CoalescedPump;
  private readonly abort = new AbortController();
  private readonly counter: Counter<'channel' | 'outcome'>;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.pump = new CoalescedPump(
      () => this.claimRound(),
      (error) => this.options.logger.warn({ err: error }, 'claiming deliveries failed; will retry'),
    );
    const registers = options.metrics ? [options.metrics] : [];
    this.counter = new Counter({
      name: 'chat_webhook_deliveries_total',
      help: 'Delivery attempts by this process, by channel (webhook, push) and outcome (delivered, retried, dead, gone)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    const summary = cachedSummary(options.outbox, options.summaryMaxAgeMs ?? 5_000);
    new Gauge({
      name: 'chat_webhook_oldest_undelivered_seconds',
      help: 'Age of the oldest delivery still waiting to go out (0 when none), across all processes',
      registers,
      async collect() {
        this.set((await summary()).oldestPendingAgeSeconds);
      },
    });
    new Gauge({
      name: 'chat_webhook_dead_letters',
      help: 'Dead letters waiting for a replay, across all processes',
      registers,
      async collect() {
        this.set((await summary()).dead);
      },
    });
  }

  async start(): Promise<void> {
    this.unlisten = await this.options.db.listen(OUTBOX_CHANNEL, () => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
    this.wake();
    this.purgeTimer = setInterval(() => void this.purgeDeadLetters(), this.options.purgeIntervalMs ?? 3_600_000);
    this.purgeTimer.unref();
    void this.purgeDeadLetters();
  }

  /** Every process may run it: the delete is the same whoever runs it, and cheap when nothing is due. */
  async purgeDeadLetters(): Promise<number> {
    try {
      const purged = await this.options.outbox.purgeDeadLetters(this.options.deadLetterRetentionMs);
      if (purged > 0) this.options.logger.info({ purged, retentionMs: this.options.deadLetterRetentionMs }, 'deleted dead letters past DEAD_LETTER_RETENTION');
      return purged;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'deleting old dead letters failed; will retry');
      return 0;
    }
  }

  /** Stops claiming, cuts the attempts in flight (they go back to the queue), and waits for them. */
  async stop(): Promise<void> {
    const pumped = this.pump.stop();
    if (this.timer !== null) clearInterval(this.timer);
    if (this.purgeTimer !== null) clearInterval(this.purgeTimer);
    await this.unlisten?.();
    this.abort.abort();
    await pumped;
    await Promise.allSettled([...this.active]);
  }

  private wake(): void {
    this.pump.wake();
  }

  /** One round of claiming, channel by channel; true to go again at once (more may be waiting and there is room). */
  private async claimRound(): Promise<boolean> {
    let again = false;
    for (const channel of CHANNELS) {
      const lane = this.options.lanes[channel];
      const room = lane.concurrency - this.inFlight[channel];
      if (room <= 0) continue;
      // A lease outlives an attempt's time limit with room to record the outcome.
      const claimed = await this.options.outbox.claim(this.owner, { channel, max: room, perKey: lane.perKey, leaseMs: lane.timeoutMs + 5_000 });
      if (this.pump.isStopped) {
        // Claimed while stopping: straight back to the queue.
        for (const delivery of claimed) await this.options.outbox.release(delivery.id, this.owner);
        return false;
      }
      for (const delivery of claimed) this.track(channel, this.deliver(delivery, lane));
      again ||= claimed.length === room;
    }
    return again;
  }

  private track(channel: Channel, work: Promise<void>): void {
    this.inFlight[channel] += 1;
    this.active.add(work);
    void work.finally(() => {
      this.inFlight[channel] -= 1;
      this.active.delete(work);
      this.wake();
    });
  }

  private async deliver(delivery: ClaimedDelivery, lane: Lane): Promise<void> {
    const send = this.options.senders[delivery.channel];
    const { outbox, logger } = this.options;
    try {
      if (send === undefined) {
        await outbox.dead(delivery.id, this.owner, null, `no sender for channel ${delivery.channel} is configured`);
        return;
      }
      const signal = AbortSignal.any([AbortSignal.timeout(lane.timeoutMs), this.abort.signal]);
      const result = await send(delivery, signal);
      if (this.abort.signal.aborted && result.status === null) {
        // Shutting down mid-attempt: another process (or the next start) sends it again.
        await outbox.release(delivery.id, this.owner);
        return;
      }
      const fields = { deliveryId: delivery.deliveryId, channel: delivery.channel, type: delivery.type, attempt: delivery.attempts, status: result.status };
      if (result.refused === true) {
        // An endpoint push may not reach never becomes one by retrying: dead letter, subscription removed.
        await this.options.onGone?.(delivery);
        await outbox.dead(delivery.id, this.owner, null, result.error);
        this.counter.inc({ channel: delivery.channel, outcome: 'dead' });
        logger.warn({ ...fields, error: result.error }, 'push endpoint refused by the push endpoint rules; subscription removed');
        return;
      }
      switch (classifyResponse(result.status, delivery.channel)) {
        case 'delivered':
          await outbox.delivered(delivery.id, this.owner);
          this.counter.inc({ channel: delivery.channel, outcome: 'delivered' });
          return;
        case 'gone':
          await this.options.onGone?.(delivery);
          await outbox.delivered(delivery.id, this.owner);
          this.counter.inc({ channel: delivery.channel, outcome: 'gone' });
          logger.info(fields, 'push subscription is gone; removed');
          return;
        case 'dead':
          await outbox.dead(delivery.id, this.owner, result.status, result.error);
          this.counter.inc({ channel: delivery.channel, outcome: 'dead' });
          logger.warn({ ...fields, error: result.error }, 'delivery refused; moved to dead letters');
          return;
        case 'retry': {
          const now = new Date();
          const at = nextAttemptAt({ attempt: delivery.attempts, now, retryUntil: delivery.retryUntil, retryAfterMs: parseRetryAfter(result.retryAfter, now) });
          if (at === null) {
            await outbox.dead(delivery.id, this.owner, result.status, `${result.error}; gave up after ${delivery.attempts} attempts`);
            this.counter.inc({ channel: delivery.channel, outcome: 'dead' });
            logger.warn({ ...fields, error: result.error }, 'delivery failed past its retry window; moved to dead letters');
          } else {
            await outbox.retryAt(delivery.id, this.owner, at, result.status, result.error);
            this.counter.inc({ channel: delivery.channel, outcome: 'retried' });
            logger.debug({ ...fields, error: result.error, retryAt: at.toISOString() }, 'delivery failed; will retry');
          }
          return;
        }
      }
    } catch (error) {
      // The lease runs out and the delivery is claimed again.
      logger.warn({ err: error, deliveryId: delivery.deliveryId }, 'recording a delivery outcome failed');
    }
  }
}

/**
 * The outbox summary, counted at most once per `maxAgeMs` whatever the scrape rate:
 * scrapes in between get the last count (a failed count gives zeros, retried next time).
 */
function cachedSummary(outbox: OutboxStore, maxAgeMs: number): () => Promise<{ dead: number; oldestPendingAgeSeconds: number }> {
  let last: { at: number; value: Promise<{ dead: number; oldestPendingAgeSeconds: number }> } | null = null;
  return () => {
    const now = performance.now();
    if (last === null || now - last.at >= maxAgeMs) {
      last = { at: now, value: outbox.summary().catch(() => ({ dead: 0, oldestPendingAgeSeconds: 0 })) };
    }
    return last.value;
  };
}

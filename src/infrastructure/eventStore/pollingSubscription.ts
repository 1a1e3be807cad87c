import type { RecordedEvent, SubscribeOptions, Subscription, SubscriptionStart } from '../../application/ports/eventStore';
import { interruptibleSleep } from './interruptibleSleep';

export interface PollingSource extends SubscribeOptions {
  start: SubscriptionStart;
  readAll(after: string | null, maxCount: number): Promise<RecordedEvent[]>;
  head(): Promise<string | null>;
  /** Calls `wake` whenever new events may be there; resolves to a function that stops it. */
  listen(wake: () => void): Promise<() => Promise<void>>;
  pollIntervalMs: number;
  batchSize?: number;
}

/**
 * Follows the store by reading batches after the last delivered checkpoint. A
 * notification wakes it at once; the poll interval is the fallback for a missed
 * notification.
 * Errors (a dropped connection, a failing handler) are reported and retried from
 * the last checkpoint, so nothing is skipped and nothing delivered twice.
 */
export function pollingSubscription(source: PollingSource): Subscription {
  const batchSize = source.batchSize ?? 500;
  let stopped = false;
  let pending = false;
  const nap = interruptibleSleep(() => pending || stopped);
  const sleep = nap.sleep;
  const wake = (): void => {
    pending = true;
    nap.wake();
  };

  const run = async (): Promise<void> => {
    let unlisten: (() => Promise<void>) | null = null;
    let checkpoint: string | null | undefined =
      source.start.from === 'start' ? null : source.start.from === 'checkpoint' ? source.start.checkpoint : undefined;
    let failures = 0;
    while (!stopped) {
      try {
        unlisten ??= await source.listen(wake);
        if (checkpoint === undefined) checkpoint = await source.head();
        pending = false;
        const events = await source.readAll(checkpoint, batchSize);
        for (const event of events) {
          if (stopped) break;
          await source.onEvent(event);
          checkpoint = event.checkpoint;
        }
        failures = 0;
        if (events.length < batchSize) await sleep(source.pollIntervalMs);
      } catch (error) {
        source.onError?.(error);
        failures += 1;
        await sleep(Math.min(5000, 100 * 2 ** failures));
      }
    }
    await unlisten?.().catch(() => undefined);
  };

  const running = run();
  return {
    stop: async () => {
      stopped = true;
      nap.wake();
      await running;
    },
  };
}

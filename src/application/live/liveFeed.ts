import type { EventStore, RecordedEvent, Subscription } from '../ports/eventStore';
import type { Logger } from '../ports/logger';
import { StreamOrder } from './streamOrder';

export type LiveListener = (event: RecordedEvent) => void;

/** Where a locally committed event's stream stood before it, so it can be put in order. */
export interface PrecedingEvent {
  revision: bigint | 'no_stream';
  checkpoint: string | null;
}

/**
 * This process's view of what is happening now, handed to listeners (the WebSocket
 * fan-out) stream by stream in revision order, each event once. Events come two ways:
 *
 * - the local path: this process's own commands publish their event the moment its
 *   append has committed, so the sender's ack and the other participant's message on
 *   this process do not wait for a poll;
 * - the store: every event appended by any process, in global order, from start-up on.
 *   Each server process runs its own feed from the shared store: no broker in between.
 *
 * StreamOrder decides, per stream, what may go out now: an event goes out once the one
 * before it in its stream has (or is known to have been passed by the store feed), a
 * local event ahead of a remote one still in flight waits for it, and the store's copy
 * of an event already handed out locally is dropped.
 *
 * The read models may not hold an event yet when it is handed out; listeners that read
 * them (room views, blocks) wait for the projection themselves.
 */
export class LiveFeed {
  private readonly listeners = new Set<LiveListener>();
  private subscription: Subscription | null = null;
  private readonly order: StreamOrder;
  private highest: string | null = null;

  constructor(
    private readonly eventStore: EventStore,
    private readonly logger: Logger,
    options: { trackedStreams?: number } = {},
  ) {
    this.order = new StreamOrder((event) => this.handOut(event), options.trackedStreams ?? 100_000);
  }

  start(): void {
    this.subscription = this.eventStore.subscribeToAll(
      { from: 'end' },
      {
        onEvent: async (event) => this.order.fromStore(event),
        onError: (error) => this.logger.warn({ err: error }, 'live feed subscription failed; resubscribing'),
      },
    );
  }

  /** An event this process has just committed (the local path). */
  publishLocal(event: RecordedEvent, preceding: PrecedingEvent): void {
    if (this.subscription === null) return;
    this.order.fromLocal(event, preceding);
  }

  /** Returns the function that removes the listener. */
  listen(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.stop();
  }

  /**
   * The highest checkpoint handed out so far. Once the read models have passed it, they
   * hold every event this process has pushed to its connections: a replay read from
   * them after that cannot leave a hole between what was pushed and what is replayed.
   */
  get handedOutUpTo(): string | null {
    return this.highest;
  }

  private handOut(event: RecordedEvent): void {
    if (this.highest === null || event.checkpoint > this.highest) this.highest = event.checkpoint;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error }, 'live listener failed');
      }
    }
  }
}

import type { EventStore, RecordedEvent, Subscription } from '../ports/eventStore';
import type { Logger } from '../ports/logger';
import type { ProjectionProgress } from '../ports/readModels';

export type LiveListener = (event: RecordedEvent) => void;

/**
 * This process's view of what is happening now: every event appended from start-up
 * on, by any process, handed to listeners in global order once the read models
 * hold it, so a client told of a message can already read it over HTTP. Each
 * server process runs its own feed from the shared store: no broker in between.
 */
export class LiveFeed {
  private readonly listeners = new Set<LiveListener>();
  private subscription: Subscription | null = null;

  constructor(
    private readonly eventStore: EventStore,
    private readonly progress: ProjectionProgress,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.subscription = this.eventStore.subscribeToAll(
      { from: 'end' },
      {
        onEvent: async (event) => {
          // Waits as long as it takes: delivering before the read model has it would break read-your-writes.
          while (!(await this.progress.waitFor(event.checkpoint, 5000))) {
            if (this.subscription === null) return;
            this.logger.warn({ checkpoint: event.checkpoint }, 'live feed waiting for the projection to catch up');
          }
          for (const listener of this.listeners) {
            try {
              listener(event);
            } catch (error) {
              this.logger.error({ err: error }, 'live listener failed');
            }
          }
        },
        onError: (error) => this.logger.warn({ err: error }, 'live feed subscription failed; resubscribing'),
      },
    );
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
}

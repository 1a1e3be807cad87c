import type { Logger } from '../../application/ports/logger';

/** A part of the process that runs between start-up and shutdown. */
export interface Component {
  /** For logs and errors. */
  readonly name: string;
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

/**
 * The process's components in start order. `start` starts them one after the other;
 * `stop` stops the started ones in reverse order, so each component stops before what
 * it runs on. A component whose start throws is not stopped; the ones started before it
 * are, and the error is passed on. `stop` runs once however often it is called.
 */
export class Lifecycle {
  private readonly started: Component[] = [];
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly components: readonly Component[],
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    for (const component of this.components) {
      if (this.stopping !== null) throw new Error(`start-up stopped before ${component.name}: the process is shutting down`);
      try {
        await component.start?.();
      } catch (error) {
        await this.stop().catch((stopError: unknown) => this.logger.error({ err: stopError }, 'stopping after a failed start-up failed'));
        throw error;
      }
      this.started.push(component);
    }
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const component of [...this.started].reverse()) await component.stop?.();
    })());
  }
}

/**
 * Runs `round` whenever woken, one round at a time: a wake-up during a round asks for
 * one more round after it (however many came), and a round may ask for another itself
 * by returning true. So followers of the store (projection, notification feeder,
 * delivery worker) never run twice at once and never miss a wake-up.
 */
export class CoalescedPump {
  private running = false;
  private again = false;
  private stopped = false;
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly round: () => Promise<boolean | void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.current = (async () => {
      try {
        do {
          this.again = false;
          if ((await this.round()) === true) this.again = true;
        } while (this.again && !this.stopped);
      } catch (error) {
        this.onError(error);
      } finally {
        this.running = false;
      }
    })();
  }

  /** No round starts after this; resolves once the one under way (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.current.catch(() => undefined);
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

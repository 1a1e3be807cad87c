import { scheduleJob, type Job } from 'node-schedule';
import type { Logger } from '../../application/ports/logger';
import type { SweepResult } from '../../application/room/sweepExpiredRooms';

export interface ExpirySweeperOptions {
  /** A cron expression node-schedule accepts (EXPIRY_SWEEP_CRON, validated by loadConfig). */
  cron: string;
  /** One sweep; stop between rooms when the signal fires. */
  sweep(signal: AbortSignal): Promise<SweepResult>;
  logger: Logger;
}

/**
 * Runs the expiry sweep on a cron schedule with node-schedule. A tick that comes while
 * this process's previous sweep is still running is skipped, so sweeps never overlap
 * here (other processes may sweep at the same moment: the stream decides each room once).
 * A failed sweep is logged and the schedule goes on. `stop()` cancels the schedule,
 * asks a running sweep to stop after the rooms in hand, and resolves once it has.
 */
export class ExpirySweeper {
  private job: Job | null = null;
  private running: Promise<SweepResult | null> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(private readonly options: ExpirySweeperOptions) {}

  start(): void {
    if (this.stopped) throw new Error('the expiry sweeper was stopped; make a new one');
    if (this.job !== null) return;
    const job = scheduleJob(this.options.cron, () => {
      void this.runOnce();
    });
    // loadConfig refuses such a cron; this guards a sweeper made some other way.
    if (job === null) throw new Error(`the expiry sweep cron "${this.options.cron}" never fires`);
    this.job = job;
    this.options.logger.debug({ cron: this.options.cron }, 'expiry sweeper scheduled');
  }

  /** Whether a sweep is running in this process right now. */
  get busy(): boolean {
    return this.running !== null;
  }

  /**
   * One sweep now, unless one is already running in this process (then null at once,
   * and that tick is skipped). Never rejects: a failure is logged and gives null.
   */
  runOnce(): Promise<SweepResult | null> {
    if (this.stopped) return Promise.resolve(null);
    if (this.running !== null) {
      this.options.logger.warn({ cron: this.options.cron }, 'expiry sweep still running from the previous tick; this tick is skipped');
      return Promise.resolve(null);
    }
    // `.finally` runs as a later reaction, so `running` is set before it is cleared.
    const run = this.sweepAndLog().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async sweepAndLog(): Promise<SweepResult | null> {
    const startedAt = Date.now();
    try {
      const result = await this.options.sweep(this.abort.signal);
      const fields = { ...result, ms: Date.now() - startedAt };
      if (result.failed > 0) this.options.logger.warn(fields, 'expiry sweep finished with failures');
      else if (result.expired > 0) this.options.logger.info(fields, 'expiry sweep finished');
      else this.options.logger.debug(fields, 'expiry sweep finished');
      return result;
    } catch (error) {
      this.options.logger.error({ err: error, ms: Date.now() - startedAt }, 'expiry sweep failed; the next tick tries again');
      return null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.job?.cancel();
    this.job = null;
    this.abort.abort();
    await this.running;
  }
}

import { scheduleJob, type Job } from 'node-schedule';
import type { AnchorResult, AuditAnchorer } from '../../application/audit/anchors';
import type { Logger } from '../../application/ports/logger';

/**
 * Records the audit anchor on AUDIT_ANCHOR_CRON with node-schedule. A tick that comes
 * while the previous anchor is still being written is skipped; a failed anchor is
 * logged and the next tick tries again (it covers everything since the last anchor).
 */
export class AnchorSchedule {
  private job: Job | null = null;
  private running: Promise<AnchorResult | null> | null = null;

  constructor(private readonly options: { cron: string; anchorer: AuditAnchorer; logger: Logger }) {}

  start(): void {
    if (this.job !== null) return;
    this.job = scheduleJob(this.options.cron, () => void this.runOnce());
    if (this.job === null) throw new Error(`the audit anchor cron "${this.options.cron}" never fires`);
  }

  runOnce(): Promise<AnchorResult | null> {
    if (this.running !== null) return Promise.resolve(null);
    const run = this.options.anchorer
      .anchorNow()
      .then((result) => {
        if (result !== null) this.options.logger.info({ streams: result.streams, anchorHead: result.head }, 'audit anchor recorded');
        return result;
      })
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'audit anchor failed; the next tick tries again');
        return null;
      })
      .finally(() => {
        this.running = null;
      });
    this.running = run;
    return run;
  }

  async stop(): Promise<void> {
    this.job?.cancel();
    this.job = null;
    await this.running;
  }
}

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Refuses new work at the door while the process is behind, so what it accepted stays
 * fast and what it cannot do is answered at once (`unavailable`) instead of queued for
 * seconds. "Behind" is read from the event loop itself: when callbacks wait more than
 * `maxLagMs` (99th percentile over the last window) for their turn, every frame is
 * answered late, and taking more sends only makes it worse.
 */
export class LoadShedder {
  private readonly delay: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private behind = false;

  constructor(private readonly options: { maxLagMs: number; windowMs: number }) {
    this.delay = monitorEventLoopDelay({ resolution: 10 });
    this.delay.enable();
    this.timer = setInterval(() => {
      this.behind = this.delay.count > 0 && this.delay.percentile(99) / 1e6 > this.options.maxLagMs;
      this.delay.reset();
    }, options.windowMs);
    this.timer.unref();
  }

  /** True while new sends should be refused. */
  get shedding(): boolean {
    return this.behind;
  }

  stop(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }
}

import type { Clock } from '../../application/ports/clock';
import type { EventStore } from '../../application/ports/eventStore';
import type { ChatMetrics } from './chatMetrics';

export interface ProjectionLag {
  /** Committed events not applied yet, counted up to the probe size (then `capped`). */
  events: number;
  capped: boolean;
  /** Age of the oldest event not applied yet, from its `recordedAt`; 0 when caught up. */
  seconds: number;
}

export interface ProjectionLagProbeOptions {
  projection: string;
  eventStore: Pick<EventStore, 'readAll'>;
  /** Where the projection is, as stored (null: it has applied nothing). */
  checkpoint(): Promise<string | null>;
  clock: Clock;
  metrics?: ChatMetrics;
  /** How many unapplied events one probe reads at most: beyond it the count is "at least". */
  maxEvents?: number;
  /** A store that does not answer within this fails the probe (default 3 s) instead of hanging it. */
  timeoutMs?: number;
}

/**
 * How far a projection is behind the event store, measured through the store's port
 * so it works on every adapter: read what follows the projection's checkpoint (at
 * most `maxEvents`) and look at the oldest. `/readyz` and the metrics scrape share one
 * probe; a result is reused for a second, so a burst of probes reads the store once.
 */
export class ProjectionLagProbe {
  private last: { at: number; lag: Promise<ProjectionLag> } | null = null;

  constructor(private readonly options: ProjectionLagProbeOptions) {
    options.metrics?.watchProjectionLag(options.projection, () => this.measure());
  }

  measure(): Promise<ProjectionLag> {
    const now = Date.now();
    if (this.last !== null && now - this.last.at < 1000) return this.last.lag;
    const lag = this.read();
    this.last = { at: now, lag };
    lag.catch(() => {
      if (this.last?.lag === lag) this.last = null;
    });
    return lag;
  }

  private async read(): Promise<ProjectionLag> {
    const timeoutMs = this.options.timeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the stores did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.readPending(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readPending(): Promise<ProjectionLag> {
    const maxEvents = this.options.maxEvents ?? 1000;
    const pending = await this.options.eventStore.readAll(await this.options.checkpoint(), maxEvents + 1);
    const oldest = pending[0];
    const recordedAt = oldest === undefined ? Number.NaN : Date.parse(oldest.metadata.recordedAt);
    const seconds = Number.isNaN(recordedAt) ? 0 : Math.max(0, (this.options.clock.now().getTime() - recordedAt) / 1000);
    return { events: Math.min(pending.length, maxEvents), capped: pending.length > maxEvents, seconds };
  }
}

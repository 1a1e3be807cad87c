import type { ErasureRecord, ErasureScrubber, ErasureTable } from '../ports/erasures';
import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/ids';
import type { Logger } from '../ports/logger';
import type { ProjectionProgress } from '../ports/readModels';
import type { UserCommands } from '../user/userCommands';
import type { DataKeys } from './dataKeys';
import type { ErasedUsers } from './erasedUsers';

/** The steps of an erasure, in order; each is idempotent and recorded once done. */
export const ERASURE_STEPS = ['requested', 'keys', 'read_models', 'snapshots', 'outbox', 'push', 'profile', 'attachments'] as const;
export type ErasureStep = (typeof ERASURE_STEPS)[number];

export interface ErasureProcessDeps {
  table: ErasureTable;
  scrubber: ErasureScrubber;
  keys: Pick<DataKeys, 'destroySenderKeys'>;
  erased: ErasedUsers;
  users: Pick<UserCommands, 'requestErasure' | 'completeErasure'>;
  attachments: { eraseUploadsOf(userId: string): Promise<number> };
  progress: ProjectionProgress;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** How long a process holds an erasure between two steps before another may take it over. */
  leaseMs?: number;
  /** How often pending erasures are looked for (those a killed process left). */
  pollMs?: number;
  /** Tests: called before each step runs (a crash can be staged there). */
  beforeStep?: (step: ErasureStep | 'complete', erasure: ErasureRecord) => Promise<void> | void;
}

const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_POLL_MS = 5_000;

/**
 * The erasure of a user (docs/privacy.md, "The erasure process"). `request` records it
 * (a row in `user_erasures`, then `UserErasureRequested` in the user's stream) and wakes
 * the worker; the worker takes pending erasures one at a time under a lease and runs
 * what is left of their steps, each recorded once done, and ends with `UserErased`. A
 * process killed at any point leaves the row pending: the next process to start (or any
 * running one, once the lease has run out) finishes it.
 */
export class ErasureProcess {
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: ErasureProcessDeps) {
    this.owner = `erasure-${deps.ids.newId()}`;
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
  }

  /**
   * Asks for `userId`'s erasure; asked again, answers the same erasure. The user is
   * treated as erased by this process at once (tokens refused, connections closed); the
   * others learn it from the event.
   */
  async request(userId: string, correlationId: string): Promise<ErasureRecord> {
    const erasure = await this.deps.table.create({ erasureId: this.deps.ids.newId(), userId, requestedBy: correlationId, requestedAt: this.deps.clock.now() });
    this.deps.erased.add(userId);
    if (erasure.status === 'pending') {
      // Recorded in the user's stream before the answer: the audit record holds the request.
      await this.deps.users.requestErasure(userId, erasure.erasureId, erasure.requestedBy);
      this.wake();
    }
    return erasure;
  }

  find(erasureId: string): Promise<ErasureRecord | null> {
    return this.deps.table.find(erasureId);
  }

  /** Starts working: at once (what a killed process left), then on every request and every `pollMs`. */
  start(): void {
    this.stopped = false;
    this.wake();
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Resolves once no pending erasure is left that this process could take (tests). */
  async drained(): Promise<void> {
    this.wake();
    while (this.running !== null) await this.running;
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.work().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      let erasure: ErasureRecord | null;
      try {
        erasure = await this.deps.table.claim(this.owner, this.leaseMs);
      } catch (error) {
        this.deps.logger.warn({ err: error }, 'erasure: looking for pending erasures failed; trying again later');
        return;
      }
      if (erasure === null) return;
      try {
        await this.run(erasure);
      } catch (error) {
        this.deps.logger.error({ err: error, erasureId: erasure.erasureId, userId: erasure.userId }, 'erasure: a step failed; it is tried again');
        await this.deps.table.failed(erasure.erasureId, this.owner, error instanceof Error ? error.message : String(error)).catch(() => undefined);
        return;
      }
    }
  }

  private async run(erasure: ErasureRecord): Promise<void> {
    const { userId, erasureId } = erasure;
    const log = this.deps.logger.child({ component: 'erasure', erasureId, userId });
    this.deps.erased.add(userId);
    const done = new Set(erasure.stepsDone);
    // Always run: a crash between the row and the event left no event; otherwise it records nothing and gives where the stream is.
    const requested = await this.deps.users.requestErasure(userId, erasureId, erasure.requestedBy);
    for (const step of ERASURE_STEPS) {
      if (this.stopped) return;
      if (done.has(step)) continue;
      await this.deps.beforeStep?.(step, erasure);
      const outcome = await this.runStep(step, userId, requested.checkpoint);
      if (this.stopped) return;
      log.info({ step, outcome }, 'erasure step done');
      if (!(await this.deps.table.stepDone(erasureId, this.owner, step, this.leaseMs))) {
        log.warn({ step }, 'erasure: the lease was lost; another process goes on with it');
        return;
      }
    }
    await this.deps.beforeStep?.('complete', erasure);
    // A key made by a process that had not heard of the erasure yet goes too.
    await this.deps.keys.destroySenderKeys(userId);
    const counts = await this.deps.scrubber.counts(userId);
    const now = this.deps.clock.now();
    await this.deps.users.completeErasure(userId, erasureId, counts, erasure.requestedBy);
    await this.deps.table.complete(erasureId, this.owner, counts, now);
    log.info({ counts }, 'user erased');
  }

  private async runStep(step: ErasureStep, userId: string, requestedAt: string | null): Promise<number | string> {
    const { scrubber } = this.deps;
    switch (step) {
      case 'requested':
        return requestedAt ?? 'none';
      case 'keys':
        return (await this.deps.keys.destroySenderKeys(userId)).destroyed;
      case 'read_models': {
        // The projection erases the user's messages when it reads the request; wait for it, then make sure.
        if (requestedAt !== null) {
          while (!this.stopped && !(await this.deps.progress.waitFor(requestedAt, 5000))) {
            this.deps.logger.warn({ userId }, 'erasure waiting for the read models to catch up');
          }
        }
        return scrubber.scrubReadModels(userId);
      }
      case 'snapshots':
        return scrubber.dropSnapshots(userId);
      case 'outbox':
        return scrubber.scrubOutbox(userId);
      case 'push':
        return scrubber.deletePushSubscriptions(userId);
      case 'profile':
        return scrubber.deleteProfile(userId);
      case 'attachments':
        return this.deps.attachments.eraseUploadsOf(userId);
      default: {
        const exhaustive: never = step;
        return exhaustive;
      }
    }
  }
}

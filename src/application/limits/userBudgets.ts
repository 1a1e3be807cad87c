import type { Logger } from '../ports/logger';
import type { SharedBuckets } from '../ports/sharedBuckets';
import { TokenBuckets } from './tokenBuckets';

/**
 * What a user may do how often: every command and every costly frame draws from one
 * of these budgets, over HTTP and WebSocket alike. docs/limits.md is the table.
 * - `send`: HTTP sends and `send` frames (SEND_RATE_LIMIT);
 * - `command`: opening a room, blocking and unblocking, push subscribing (COMMAND_RATE_LIMIT);
 * - `read`: marking read, HTTP or `read` frames (READ_RATE_LIMIT);
 * - `resume`: `resume` frames, each a replay from the read model (RESUME_RATE_LIMIT);
 * - `typing`: `typing` frames over all of a user's rooms (TYPING_RATE_LIMIT); on top,
 *   one per user and room every `typingIntervalMs` (TYPING_INTERVAL).
 */
export type BudgetKind = 'send' | 'command' | 'read' | 'resume' | 'typing';

export interface BudgetSettings {
  /** Per user, a second; bursts to twice that; 0 turns a budget off. */
  perSecond: Record<BudgetKind, number>;
  /** At most one typing signal per user and room in this interval (0: no such limit). */
  typingIntervalMs: number;
}

const nouns: Record<BudgetKind, string> = {
  send: 'messages',
  command: 'commands (open, block, unblock, push subscribe)',
  read: 'read marks',
  resume: 'resumes',
  typing: 'typing signals',
};

/**
 * The per-user budgets of this process, and the shared send budget when several
 * processes may serve one user. Checking here first means a flood is refused without
 * a database round trip; only what passes here asks the shared bucket.
 */
export class UserBudgets {
  private readonly here: Record<BudgetKind, TokenBuckets>;
  private readonly typedAt = new Map<string, number>();
  private checksSincePrune = 0;

  constructor(
    readonly settings: BudgetSettings,
    private readonly options: {
      /** Buckets all processes share (PostgreSQL); null: this process is the only one (PGlite). */
      shared?: SharedBuckets | null;
      /** The budgets that must hold across processes. */
      sharedKinds?: readonly BudgetKind[];
      logger?: Logger;
      now?: () => number;
    } = {},
  ) {
    const now = options.now ?? (() => performance.now());
    const buckets = (kind: BudgetKind) => new TokenBuckets(settings.perSecond[kind], settings.perSecond[kind] * 2, now);
    this.here = { send: buckets('send'), command: buckets('command'), read: buckets('read'), resume: buckets('resume'), typing: buckets('typing') };
  }

  private get now(): number {
    return (this.options.now ?? (() => performance.now()))();
  }

  /** This process's bucket only: synchronous, for refusing a flood before it is queued. */
  tryTakeHere(kind: BudgetKind, userId: string): boolean {
    // Now and then, not on a timer: nothing to stop at shutdown, and idle means nothing to prune.
    if ((this.checksSincePrune += 1) >= 1000) {
      this.checksSincePrune = 0;
      this.prune();
    }
    return this.here[kind].tryTake(userId);
  }

  /**
   * The cross-process bucket, for a kind that has one; true otherwise. A shared store
   * that fails lets the operation through (logged): the command itself then meets the
   * same database, and a limiter must not be what takes the service down.
   */
  async takeShared(kind: BudgetKind, userId: string): Promise<boolean> {
    const shared = this.options.shared;
    const rate = this.settings.perSecond[kind];
    if (shared == null || rate === 0 || !(this.options.sharedKinds ?? []).includes(kind)) return true;
    try {
      return await shared.take(`${kind}:${userId}`, rate, rate * 2);
    } catch (error) {
      this.options.logger?.warn({ err: error, kind }, 'shared rate limit unavailable; letting the operation through');
      return true;
    }
  }

  /** Both: this process's bucket, then the shared one. */
  async take(kind: BudgetKind, userId: string): Promise<boolean> {
    return this.tryTakeHere(kind, userId) && (await this.takeShared(kind, userId));
  }

  /**
   * Whether a typing signal of `userId` in `roomId` may be forwarded: within the user's
   * typing budget, and the first in this room for `typingIntervalMs` — whichever of the
   * user's connections it came from.
   */
  mayType(userId: string, roomId: string): boolean {
    const interval = this.settings.typingIntervalMs;
    const key = `${userId}\n${roomId}`;
    const now = this.now;
    if (interval > 0) {
      const last = this.typedAt.get(key);
      if (last !== undefined && now - last < interval) return false;
    }
    if (!this.tryTakeHere('typing', userId)) return false;
    if (interval > 0) this.typedAt.set(key, now);
    return true;
  }

  /** The `rate_limited` message for a refused operation of this kind. */
  refusal(kind: BudgetKind): string {
    const rate = this.settings.perSecond[kind];
    return `too many ${nouns[kind]}: at most ${rate} a second (bursts up to ${rate * 2}); slow down`;
  }

  /** Forgets what no longer limits anyone (full buckets, old typing marks): memory stays bounded by active users. */
  prune(): void {
    for (const buckets of Object.values(this.here)) buckets.prune();
    const now = this.now;
    for (const [key, at] of this.typedAt) if (now - at >= this.settings.typingIntervalMs) this.typedAt.delete(key);
  }
}

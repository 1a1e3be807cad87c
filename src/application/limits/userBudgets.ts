import type { Logger } from '../ports/logger';
import type { SharedBuckets, UnspentTokens } from '../ports/sharedBuckets';
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
 * How long this process keeps a lease the user no longer sends through before the unspent
 * tokens go back: what bounds how long a lease can keep tokens from the user's other
 * processes once the user stops sending here. Long enough that a person writing a message
 * every few seconds keeps the lease (and never waits for the database); the tokens it
 * holds (at most the hold, 4 by default) are a small part of the burst.
 */
export const LEASE_MS = 10_000;

/** Tokens of a shared bucket this process took and has not spent yet. */
interface Lease {
  tokens: number;
  expiresAt: number;
  burst: number;
}

/**
 * The per-user budgets of this process, and the shared send budget when several
 * processes may serve one user. Checking here first means a flood is refused without
 * a database round trip; only what passes here asks the shared bucket, and then for a
 * lease of several tokens that the next operations spend here, the next lease asked
 * before this one runs out (docs/limits.md).
 */
export class UserBudgets {
  private readonly here: Record<BudgetKind, TokenBuckets>;
  private readonly typedAt = new Map<string, number>();
  private checksSincePrune = 0;
  private readonly leases = new Map<string, Lease>();
  private readonly asking = new Map<string, Promise<number>>();
  private settledAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly settings: BudgetSettings,
    private readonly options: {
      /** Buckets all processes share (PostgreSQL); null: this process is the only one (PGlite). */
      shared?: SharedBuckets | null;
      /** The budgets that must hold across processes. */
      sharedKinds?: readonly BudgetKind[];
      /**
       * The most tokens of one user's shared bucket this process may hold unspent (what
       * bounds over-admission across processes); default half the rate a second, less
       * one. 0 turns leases off: every operation takes its own token.
       */
      leaseHold?: (ratePerSecond: number) => number;
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
   * The cross-process bucket, for a kind that has one; true otherwise. Spends a token
   * this process already leased, or asks the shared store for a new lease. A shared
   * store that fails lets the operation through (logged): the command itself then meets
   * the same database, and a limiter must not be what takes the service down.
   */
  async takeShared(kind: BudgetKind, userId: string): Promise<boolean> {
    const shared = this.options.shared;
    const rate = this.settings.perSecond[kind];
    if (shared == null || rate === 0 || !(this.options.sharedKinds ?? []).includes(kind)) return true;
    const key = `${kind}:${userId}`;
    const hold = Math.max(0, Math.floor((this.options.leaseHold ?? defaultLeaseHold)(rate)));
    this.settleLeases(shared);
    for (;;) {
      if (this.spendLeased(key)) {
        this.leaseAhead(shared, key, rate, hold);
        return true;
      }
      // One lease request per key at a time: concurrent operations wait for it and share
      // what it brings, rather than each leasing tokens the others then leave unspent.
      const pending = this.asking.get(key);
      const granted = await (pending ?? this.ask(shared, key, rate, hold + 1));
      // -1: the store failed, let it through (see above); 0: the budget is spent.
      if (granted <= 0) return granted < 0;
    }
  }

  /**
   * Asks for the next lease while this one still has tokens to spend, so that a user
   * sending steadily never waits for the database: once the lease is down to
   * `refillAt(hold)` tokens, for as many as bring it back to `hold`. Never more than
   * `hold` held and asked together, so the bound on over-admission is unchanged.
   */
  private leaseAhead(shared: SharedBuckets, key: string, rate: number, hold: number): void {
    if (hold === 0 || this.asking.has(key)) return;
    const held = this.leases.get(key)?.tokens ?? 0;
    if (held > refillAt(hold)) return;
    void this.ask(shared, key, rate, hold - held);
  }

  /** One lease request for `key`, known to operations that come while it is under way. */
  private async ask(shared: SharedBuckets, key: string, rate: number, want: number): Promise<number> {
    const asked = this.lease(shared, key, rate, want);
    this.asking.set(key, asked);
    try {
      return await asked;
    } finally {
      this.asking.delete(key);
    }
  }

  /** Asks the shared store for a lease of up to `want` tokens on `key`: the tokens granted (-1 when it failed). */
  private async lease(shared: SharedBuckets, key: string, rate: number, want: number): Promise<number> {
    const burst = rate * 2;
    try {
      const granted = await shared.takeUpTo(key, rate, burst, want);
      if (granted < 1) return 0;
      const lease = this.leases.get(key);
      const expiresAt = this.now + LEASE_MS;
      if (lease === undefined || lease.expiresAt <= this.now) {
        if (lease !== undefined && lease.tokens >= 1) this.giveBack(shared, [{ key, tokens: lease.tokens, burst }]);
        this.leases.set(key, { tokens: granted, expiresAt, burst });
      } else {
        lease.tokens += granted;
        lease.expiresAt = expiresAt;
      }
      return granted;
    } catch (error) {
      this.options.logger?.warn({ err: error, key }, 'shared rate limit unavailable; letting the operation through');
      return -1;
    }
  }

  private spendLeased(key: string): boolean {
    const lease = this.leases.get(key);
    const now = this.now;
    if (lease === undefined || lease.tokens < 1 || lease.expiresAt <= now) return false;
    lease.tokens -= 1;
    lease.expiresAt = now + LEASE_MS;
    return true;
  }

  /**
   * Gives back, in one statement, what expired leases did not spend, so the user's other
   * processes can have it. Run from takeShared at most four times a lease period, not on
   * a timer: an idle process holds nothing worth returning for long (buckets refill
   * within seconds anyway).
   */
  settleLeases(shared: SharedBuckets | null | undefined = this.options.shared, force = false): Promise<void> {
    const now = this.now;
    if (shared == null || (!force && now - this.settledAt < LEASE_MS / 4)) return Promise.resolve();
    this.settledAt = now;
    const unspent: UnspentTokens[] = [];
    for (const [key, lease] of this.leases) {
      if (!force && lease.expiresAt > now) continue;
      this.leases.delete(key);
      if (lease.tokens >= 1) unspent.push({ key, tokens: lease.tokens, burst: lease.burst });
    }
    return this.giveBack(shared, unspent);
  }

  private giveBack(shared: SharedBuckets, unspent: UnspentTokens[]): Promise<void> {
    if (unspent.length === 0) return Promise.resolve();
    return shared.giveBack(unspent).catch((error: unknown) => {
      this.options.logger?.warn({ err: error }, 'giving back unspent send tokens failed');
    });
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

/**
 * Half a second's worth, less the one the asking operation spends at once: a person's
 * sends come in twos and threes, a benchmark's steadily. 4 at the default of 10 a second.
 */
function defaultLeaseHold(ratePerSecond: number): number {
  return Math.ceil(ratePerSecond / 2) - 1;
}

/**
 * How few tokens a lease may be down to before the next is asked: one in hand for the
 * default hold of 4 (so each lease brings 3, and the next send has a send's interval of
 * slack for the round trip); none when the hold is too small to split.
 */
function refillAt(hold: number): number {
  return Math.max(0, Math.floor((hold - 1) / 2));
}

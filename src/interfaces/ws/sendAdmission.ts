/**
 * Which `send` frames the process takes on, decided on arrival so that a refusal costs
 * nothing and goes out at once (`unavailable`), while the sends it took stay fast. A
 * send is *in hand* from admission until it is answered (its ack or error written, or its
 * connection gone). Two rules:
 * - never more than `maxInHand` in hand: a hard bound on the work (and memory) a flood
 *   can queue, whatever the clock says;
 * - no new send while the queue *stands*: when even the quickest ack of the last
 *   window waited longer than `targetWaitMs`, the sends in hand are not draining, and
 *   one more would only wait longer (the idea of CoDel: a burst passes, a standing
 *   queue is what overload looks like). Only with `minInHandToShed` in hand, so a lone
 *   pause (a GC, a slow query) sheds nothing.
 * The acks' waits measure everything a send goes through (room lane, group commit,
 * live feed, the event loop's own lag), so no single stage has to be watched. Quick
 * refusals (a user's budget, a connection's own bound) are not acks and do not count:
 * they would hide a queue that stands.
 */
export interface SendAdmissionLimits {
  maxInHand: number;
  targetWaitMs: number;
  minInHandToShed: number;
  windowMs: number;
}

/** One admitted send, done with by the first of its two calls (later calls do nothing). */
export interface SendTicket {
  /** Its ack was written: done, and how long it waited tells how the queue drains. */
  acked(): void;
  /** Answered otherwise (refused, failed) or dropped with its connection: done, its wait tells nothing. */
  released(): void;
}

export class SendAdmission {
  private inHand = 0;
  private windowStartedAt: number;
  /** The quickest ack of the current window (ms from admission); Infinity: none yet. */
  private quickestWait = Number.POSITIVE_INFINITY;
  private standing = false;
  /** When sends last drained: the last ack, or when the process last went from none in hand to one. */
  private progressAt: number;

  constructor(
    private readonly limits: SendAdmissionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.windowStartedAt = now();
    this.progressAt = this.windowStartedAt;
  }

  /** A ticket for a send to start now, or null: answer it `unavailable` at once. */
  admit(): SendTicket | null {
    const now = this.now();
    this.closeWindowIfDue(now);
    if (this.inHand >= this.limits.maxInHand) return null;
    if (this.standing && this.inHand >= this.limits.minInHandToShed) return null;
    if (this.inHand === 0) this.progressAt = now;
    this.inHand += 1;
    let open = true;
    const done = (acked: boolean): void => {
      if (!open) return;
      open = false;
      this.release(now, acked);
    };
    return { acked: () => done(true), released: () => done(false) };
  }

  /** Sends admitted and not yet answered (for metrics and tests). */
  get sendsInHand(): number {
    return this.inHand;
  }

  /** Whether new sends are being refused for a standing queue. */
  get shedding(): boolean {
    return this.standing;
  }

  private release(admittedAt: number, acked: boolean): void {
    this.inHand -= 1;
    const now = this.now();
    this.closeWindowIfDue(now);
    if (!acked) return;
    this.quickestWait = Math.min(this.quickestWait, now - admittedAt);
    this.progressAt = now;
  }

  /**
   * At the end of each window: the queue stands if its quickest ack waited too long. A
   * window with no ack: it stands if sends have been in hand for longer than the target
   * with none acked (a first burst on a process that cannot keep up, or one stuck),
   * and not if none are in hand.
   */
  private closeWindowIfDue(now: number): void {
    if (now - this.windowStartedAt < this.limits.windowMs) return;
    if (this.quickestWait !== Number.POSITIVE_INFINITY) this.standing = this.quickestWait > this.limits.targetWaitMs;
    else this.standing = this.inHand > 0 && now - this.progressAt > this.limits.targetWaitMs;
    this.windowStartedAt = now;
    this.quickestWait = Number.POSITIVE_INFINITY;
  }
}

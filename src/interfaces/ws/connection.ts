import type { WebSocket } from 'ws';
import type { MessageView } from '../../domain/room';
import type { Logger } from '../../application/ports/logger';
import type { Principal } from '../../application/ports/auth';
import type { ReplayTarget } from '../../application/live/resumeRoom';
import { CloseCode, type CloseCodeValue } from './closeCodes';
import type { ServerFrame } from './frames';
import { markAcked, markDropped, PendingAcks, type PendingSend } from './pendingAcks';
import type { SendTicket } from './sendAdmission';
import { Strikes } from './strikes';
import { RoomDelivery } from './roomDelivery';

export interface ConnectionLimits {
  /** Unsent bytes a connection may hold before it is closed with 4008. */
  maxBufferedBytes: number;
  /** Frames waiting to be handled before the connection is closed with 1008. */
  maxQueuedFrames: number;
  /** After a close frame, how long the peer has to finish the closing handshake. */
  closeGraceMs: number;
  /** How long after `exp` the connection is closed with 4001 (0: at `exp`). */
  expiryGraceMs: number;
  /** The rate-limit allowance used by the 4029 rule; 0 when sends are not limited. */
  strikeAllowance: number;
  /**
   * How long a new connection holds live messages back unless a frame other than
   * `resume` comes first, so resumes sent right after opening race with nothing.
   */
  warmupMs: number;
  /**
   * How long `closeWhenAnswered` waits for the sends under way to be answered before it
   * closes anyway (a send's ack goes out directly `ackFallbackMs` after its command).
   */
  answerWaitMs: number;
}

/** The longest delay setTimeout takes; later expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

let nextConnectionId = 1;

/**
 * One client connection: who it is, what it has been given of each room, the sends
 * it awaits acks for, its frame queue and its timers. It never throws to its caller:
 * a fault here closes this connection (1011), never the process.
 */
export class Connection implements ReplayTarget {
  readonly id = nextConnectionId++;
  readonly userId: string;
  alive = true;
  private expiresAt: Date;
  private closing = false;
  private readonly delivery: RoomDelivery;
  private readonly acks = new PendingAcks();
  private expiryTimer: NodeJS.Timeout | null = null;
  private terminateTimer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private sendGate: Promise<void> = Promise.resolve();
  private lastReplayed: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Sends started (`startNow`) whose command has not answered yet. */
  private sendsRunning = 0;
  /** A close waiting for the sends under way to be answered (`closeWhenAnswered`). */
  private windingUp: { code: CloseCodeValue; reason: string; timer: NodeJS.Timeout } | null = null;
  private warmupTimer: NodeJS.Timeout | null;
  readonly strikes: Strikes;

  constructor(
    readonly ws: WebSocket,
    principal: Principal,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly onServerClose: (code: CloseCodeValue) => void,
  ) {
    this.userId = principal.userId;
    this.expiresAt = principal.expiresAt;
    this.strikes = new Strikes(limits.strikeAllowance);
    this.delivery = new RoomDelivery((frame) => this.send(frame), { warming: true });
    this.armExpiry();
    this.warmupTimer = setTimeout(() => this.endWarmup(), limits.warmupMs);
    this.warmupTimer.unref();
  }

  get isOpen(): boolean {
    return !this.closing && this.ws.readyState === this.ws.OPEN;
  }

  // ---- sending -------------------------------------------------------------

  /** Sends one frame now, unless the peer is too far behind (then 4008). */
  send(frame: ServerFrame): void {
    this.write(frame, undefined);
  }

  /** Sends one frame; resolves once it has been handed to the network (or the connection is gone). */
  sendAndFlush(frame: ServerFrame): Promise<void> {
    return new Promise((resolve) => {
      if (!this.write(frame, () => resolve())) resolve();
    });
  }

  private write(frame: ServerFrame, done: (() => void) | undefined): boolean {
    if (!this.isOpen) return false;
    const data = JSON.stringify(frame);
    if (this.ws.bufferedAmount + Buffer.byteLength(data) > this.limits.maxBufferedBytes) {
      this.close(CloseCode.tooSlow, 'too slow: reconnect and resume');
      return false;
    }
    this.ws.send(data, (error) => {
      if (error !== undefined && error !== null) this.logger.debug({ err: error, connection: this.id }, 'websocket send failed');
      done?.();
    });
    return true;
  }

  // ---- ordered delivery of a room's messages (roomDelivery.ts) and acks (pendingAcks.ts)

  /**
   * A message of one of this user's rooms, from the live side: an `ack` if this very
   * connection sent it (and has not been answered yet), else a `message` frame.
   */
  deliverMessage(message: MessageView): void {
    const waiting = message.senderId === this.userId ? this.acks.take(message) : [];
    if (waiting.length === 0) {
      this.delivery.deliver(message.roomId, { seq: message.seq, frame: { type: 'message', message }, kind: 'message' });
      return;
    }
    let ordered = false;
    for (const send of waiting) {
      if (send.acked) continue;
      markAcked(send);
      const frame: ServerFrame = { type: 'ack', clientMessageId: message.clientMessageId, message, ...(send.ref !== null ? { ref: send.ref } : {}) };
      if (!ordered) this.delivery.deliver(message.roomId, { seq: message.seq, frame, kind: 'ack' });
      else this.send(frame);
      ordered = true;
    }
    // Acked early (a slow hand-over): the message frame is still skipped, and counts as given.
    if (!ordered) this.delivery.markGiven(message.roomId, message.seq);
    this.closeIfAnswered();
  }

  /** Starts a replay of `roomId` after `afterSeq`: live messages for it wait until `finishReplay`. */
  startReplay(roomId: string, afterSeq: number): void {
    this.delivery.startReplay(roomId, afterSeq);
  }

  /** Sends one replayed message, unless it was already given. */
  replay(message: MessageView): void {
    if (!this.delivery.takeReplayed(message.roomId, message.seq)) return;
    this.lastReplayed = this.sendAndFlush({ type: 'message', message });
  }

  /**
   * Resolves at once while little is buffered; else once the last replayed frame is on
   * the network, so a slow reader paces its replay instead of being closed with 4008.
   */
  readyForMore(): Promise<void> {
    return this.ws.bufferedAmount > this.limits.maxBufferedBytes / 4 ? this.lastReplayed : Promise.resolve();
  }

  /** Delivers what arrived live during the replay, in order and without repeats; returns the last seq given. */
  finishReplay(roomId: string): number {
    return this.delivery.finishReplay(roomId);
  }

  /**
   * A `resume` for the room has arrived and waits its turn: from now until it has been
   * handled, live frames for the room are held, so none of them goes out ahead of the
   * replay (and then again inside it), however long the frames before it take.
   */
  holdForResume(roomId: string): void {
    this.delivery.hold(roomId, 'resume');
  }

  /** The `resume` held for is done (replayed, or refused): let held frames go unless more wait. */
  releaseResumeHold(roomId: string): void {
    this.delivery.release(roomId, 'resume');
  }

  /** Drops a replay that failed; the connection is being closed anyway. */
  abandonReplay(roomId: string): void {
    this.delivery.abandonReplay(roomId);
  }

  /**
   * Ends the opening hold: live messages held for rooms that are not being replayed go
   * out now, in order. Called when the first frame other than `resume` is handled, or
   * after `warmupMs`.
   */
  endWarmup(): void {
    if (!this.delivery.isWarming) return;
    if (this.warmupTimer !== null) clearTimeout(this.warmupTimer);
    this.warmupTimer = null;
    this.delivery.endWarmup();
  }

  /**
   * Registers a `send` before it runs, so its event is recognised however early it is
   * handed over. `ticket` is told when its ack is written, or the connection closes
   * without one.
   */
  expectAck(roomId: string, clientMessageId: string, ref: string | null = null, ticket: SendTicket | null = null): PendingSend {
    return this.acks.expect(roomId, clientMessageId, ref, ticket);
  }

  /** The send failed: nothing will be acked for it. */
  cancelAck(roomId: string, clientMessageId: string, send: PendingSend): void {
    this.acks.cancel(roomId, clientMessageId, send);
  }

  /**
   * The command has answered. A retry (no new event) is acked now with the original.
   * A new message is acked when the live side hands it over, in order with the room's
   * other messages; if that takes longer than `fallbackMs`, it is acked directly.
   */
  settleAck(send: PendingSend, message: MessageView, created: boolean, fallbackMs: number): void {
    if (send.acked) return;
    if (!this.isOpen) {
      // Closed while the command ran: no ack will be written; the send is done with.
      this.acks.cancel(message.roomId, message.clientMessageId, send);
      markDropped(send);
      return;
    }
    const ackNow = (): void => {
      if (send.acked) return;
      markAcked(send);
      this.send({ type: 'ack', clientMessageId: message.clientMessageId, message, ...(send.ref !== null ? { ref: send.ref } : {}) });
      this.closeIfAnswered();
    };
    if (!created) {
      this.acks.cancel(message.roomId, message.clientMessageId, send);
      ackNow();
      return;
    }
    send.timer = setTimeout(ackNow, fallbackMs);
    send.timer.unref();
  }

  // ---- frames in ------------------------------------------------------------

  /**
   * Handles the client's frames one at a time, in the order they came: acks, errors and
   * replays answer in that order too. False (and 1008) when too many are waiting.
   */
  enqueue(task: () => Promise<void>): boolean {
    if (this.queued >= this.limits.maxQueuedFrames) {
      this.close(CloseCode.policyViolation, 'too many frames waiting: slow down');
      return false;
    }
    this.queued += 1;
    this.queue = this.queue
      .then(() => (this.closing ? undefined : task()))
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.queued -= 1;
      });
    return true;
  }

  /**
   * Starts a `send` at once, beside the queue: sends are pipelined (the next one need not
   * wait for the previous one's commit), and acks for one room come back in the order the
   * sends were made, since commands on a room take turns in arrival order. Counts against
   * the same limit as queued frames; past it the send is not started (false), and the
   * caller answers it, so a client that outruns the server is told at once per send.
   */
  startNow(task: () => Promise<void>): boolean {
    if (this.queued >= this.limits.maxQueuedFrames) return false;
    this.queued += 1;
    this.sendsRunning += 1;
    void task()
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.queued -= 1;
        this.sendsRunning -= 1;
        this.closeIfAnswered();
      });
    return true;
  }

  /**
   * Runs the asynchronous checks of this connection's sends one after another, so the
   * sends reach their rooms in the order they came even though each then runs on its own.
   */
  inSendOrder<T>(step: () => Promise<T>): Promise<T> {
    const result = this.sendGate.then(step);
    this.sendGate = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  // ---- token expiry ---------------------------------------------------------

  /** The token was replaced by an `auth` frame for the same user. */
  replaceToken(principal: Principal): void {
    this.expiresAt = principal.expiresAt;
    this.armExpiry();
  }

  private armExpiry(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    const delay = this.expiresAt.getTime() + this.limits.expiryGraceMs - Date.now();
    if (delay <= 0) {
      this.expiryTimer = null;
      // After the open handshake has settled, so the close is seen as a 4001 and not a failed open.
      setImmediate(() => this.close(CloseCode.tokenExpired, 'token expired: refresh it and reconnect'));
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(delay, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  // ---- closing --------------------------------------------------------------

  /**
   * Closes with `code` once every send this connection has started is answered (its
   * `ack` or `error` frame sent), or after `answerWaitMs` at the latest, so the client
   * knows what landed. Until then frames that arrive are refused by the caller
   * (`isWindingUp`), and answered.
   */
  closeWhenAnswered(code: CloseCodeValue, reason: string): void {
    if (this.closing || this.windingUp !== null) return;
    const timer = setTimeout(() => this.close(code, reason), this.limits.answerWaitMs);
    timer.unref();
    this.windingUp = { code, reason, timer };
    this.closeIfAnswered();
  }

  /** A close is waiting for the sends under way to be answered: take no new work. */
  get isWindingUp(): boolean {
    return this.windingUp !== null;
  }

  private closeIfAnswered(): void {
    if (this.windingUp === null || this.sendsRunning > 0 || this.acks.unanswered > 0) return;
    this.close(this.windingUp.code, this.windingUp.reason);
  }

  /** Closes with a code of the contract; the peer gets `closeGraceMs` to answer before the socket is cut. */
  close(code: CloseCodeValue, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.onServerClose(code);
    this.clearTimers();
    try {
      this.ws.close(code, reason);
    } catch (error) {
      this.logger.debug({ err: error, connection: this.id }, 'websocket close failed');
      this.ws.terminate();
      return;
    }
    this.terminateTimer = setTimeout(() => this.ws.terminate(), this.limits.closeGraceMs);
    this.terminateTimer.unref();
  }

  /** An unexpected fault in this connection's handling: log it and close with 1011. */
  fail(error: unknown): void {
    this.logger.error({ err: error, connection: this.id, userId: this.userId }, 'websocket connection failed');
    this.close(CloseCode.serverError, 'server error: reconnect and resume');
  }

  /** The socket is closed: stop every timer. */
  dispose(): void {
    this.closing = true;
    this.clearTimers();
    if (this.terminateTimer !== null) clearTimeout(this.terminateTimer);
  }

  private clearTimers(): void {
    if (this.windingUp !== null) clearTimeout(this.windingUp.timer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.warmupTimer !== null) clearTimeout(this.warmupTimer);
    this.warmupTimer = null;
    this.acks.clear();
  }
}

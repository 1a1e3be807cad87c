import { backoffDelay, type BackoffOptions } from './backoff.js';
import { ChatApiError, PERMANENT_SEND_ERRORS, TEMPORARY_ERRORS as TEMPORARY } from './errors.js';
import type { HttpApi } from './http.js';
import type { Outbox, OutgoingErrorCode, OutgoingMessage } from './outbox.js';
import type { RequestFrame } from './requests.js';
import { RoomTimeline } from './timeline.js';
import type { ErrorCode, Message } from './types.js';
import type { PhotoData, UploadOptions } from './upload.js';
import type { Attachment } from './types.js';

/** What a room's channel needs of the client that owns it. */
export interface ChannelHost {
  userId(): string | null;
  readonly backoff: BackoffOptions;
  readonly outbox: Outbox;
  readonly http: HttpApi;
  readonly typingIntervalMs: number;
  now(): Date;
  /** Connected and online. */
  online(): boolean;
  /** close() was called or the account erased. */
  stopped(): boolean;
  /** Sends a frame with a fresh request id; false when there is no open socket. */
  request(frame: RequestFrame): boolean;
  uploadPhoto(roomId: string, photo: PhotoData, options: UploadOptions): Promise<Attachment>;
  /** Hands a message on to the app (in seq order: the timeline decides). */
  delivered(message: Message): void;
  /** An outgoing message changed (a copy). */
  outboxChanged(item: OutgoingMessage): void;
}

/** A photo upload broken off this many times in a row while the socket is up fails (`network`); retry() tries again. */
const MAX_UPLOAD_BREAKS = 3;

/** A copy for listeners, so they cannot change the outbox's own item. */
export const copyOf = (item: OutgoingMessage): OutgoingMessage => ({ ...item, ...(item.photo ? { photo: { ...item.photo } } : {}) });

/**
 * One room, as the client follows and writes it: its timeline (delivery in seq order,
 * each once), its resume, its share of the outbox (one message on the wire at a time,
 * photo uploads, pauses after refusals), its read mark until confirmed, its typing
 * throttle. Every timer and upload of the room is here, and `stop` ends them all; a lost
 * socket is `disconnected`. The client creates one per room and routes frames to it.
 */
export class RoomChannel {
  private timeline: RoomTimeline | null = null;
  private resuming = false;
  private resumeRetry: ReturnType<typeof setTimeout> | null = null;
  private resumeRefusals = 0;
  /** The outgoing message on the wire, waiting for its ack or error. */
  private inFlight: string | null = null;
  /** A pause after a temporary refusal of a send, before the queue goes on. */
  private sendPause: ReturnType<typeof setTimeout> | null = null;
  private sendRefusals = 0;
  private lastTyping = -Infinity;
  /** The read mark asked for, kept until the server confirms it. */
  private readMark: { upToSeq: number; confirmed: boolean } | null = null;
  private readRetry: ReturnType<typeof setTimeout> | null = null;
  private readRefusals = 0;
  /** Photo messages' photos until uploaded (memory only: a Blob does not fit in the outbox's storage). */
  private readonly photos = new Map<string, PhotoData>();
  private readonly uploads = new Map<string, AbortController>();
  private readonly uploadFailures = new Map<string, number>();
  private readonly uploadTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    readonly roomId: string,
    private readonly host: ChannelHost,
  ) {}

  // ---- timeline and resume ----

  /** Followed: its messages are handed on and it is resumed after every reconnect. */
  get followed(): boolean {
    return this.timeline !== null;
  }

  /** The highest seq handed on (null when not followed). */
  get lastSeq(): number | null {
    return this.timeline?.last ?? null;
  }

  /** Starts following after `afterSeq` (resumed now if online); a room followed already keeps its place. */
  follow(afterSeq: number): void {
    if (this.timeline !== null) return;
    this.timeline = new RoomTimeline(afterSeq);
    if (this.host.online()) this.resume();
  }

  /** Asks for every message after the timeline's last (once at a time). */
  resume(): void {
    if (this.timeline === null) return;
    // Marked before it goes: an answer may come back before request() returns.
    this.resuming = true;
    if (!this.host.request({ type: 'resume', roomId: this.roomId, afterSeq: this.timeline.last })) this.resuming = false;
  }

  onResumed(): void {
    this.resuming = false;
    this.resumeRefusals = 0;
    // Still a hole after a full replay (it should not happen): read it over HTTP.
    if (this.timeline?.hasGap) void this.fillGap();
  }

  /** This room's resume was refused: a temporary refusal asks again after a growing pause; any other is given up (the client reports it). */
  onResumeError(error: { code: ErrorCode; message: string; ref: string | null }, options: { onlyIfResuming?: boolean } = {}): void {
    if (options.onlyIfResuming === true && !this.resuming) return;
    this.resuming = false;
    if (!TEMPORARY.has(error.code)) return;
    if (this.resumeRetry !== null) return;
    this.resumeRefusals += 1;
    this.resumeRetry = setTimeout(
      () => {
        this.resumeRetry = null;
        if (this.host.online() && !this.resuming) this.resume();
      },
      500 + backoffDelay(this.resumeRefusals, this.host.backoff),
    );
  }

  /** A message of this room (live, acked, replayed or read over HTTP): settles an own outgoing one, and goes through the timeline. */
  deliver(message: Message): void {
    if (message.senderId === this.host.userId()) {
      const settled = this.host.outbox.settle(message.clientMessageId, message);
      if (settled !== null) {
        this.forgetPhoto(message.clientMessageId);
        this.sendRefusals = 0;
        this.host.outboxChanged(settled);
      }
      this.answered(message.clientMessageId);
    }
    // A room not followed yet starts its timeline just before its first message.
    this.timeline ??= new RoomTimeline(message.seq - 1);
    for (const ready of this.timeline.accept(message)) this.host.delivered(ready);
    // A gap seen live (it should not happen on one connection): resume the room.
    if (this.timeline.hasGap && !this.resuming) this.resume();
  }

  private async fillGap(): Promise<void> {
    const timeline = this.timeline;
    if (timeline === null) return;
    try {
      const page = await this.host.http.messages(this.roomId, { after: timeline.last, limit: 200 });
      for (const message of page.messages) this.deliver(message);
    } catch {
      // The next reconnect resumes the room again.
    }
  }

  // ---- the connection's life ----

  /** A socket opened: resume first (before anything else is sent, see docs/client.md). */
  opened(): void {
    this.resuming = false;
    this.inFlight = null;
    this.resume();
  }

  /** Online after opening: the outbox and an unconfirmed read mark go (again). */
  online(): void {
    this.pump();
    if (this.readMark !== null && !this.readMark.confirmed) void this.sendRead().catch(() => undefined);
  }

  /** The socket is gone: whatever was on the wire goes again after the reconnect. */
  disconnected(): void {
    this.resuming = false;
    this.inFlight = null;
    if (this.resumeRetry !== null) clearTimeout(this.resumeRetry);
    this.resumeRetry = null;
  }

  /** close(): every timer and upload of the room ends (the outbox and the photos stay; connect() starts again). */
  stop(): void {
    this.disconnected();
    if (this.sendPause !== null) clearTimeout(this.sendPause);
    this.sendPause = null;
    if (this.readRetry !== null) clearTimeout(this.readRetry);
    this.readRetry = null;
    for (const upload of this.uploads.values()) upload.abort();
    this.uploads.clear();
    for (const timer of this.uploadTimers.values()) clearTimeout(timer);
    this.uploadTimers.clear();
  }

  // ---- the outbox ----

  /** A new outgoing message of this room (a photo message with its photo). */
  queued(item: OutgoingMessage, photo?: PhotoData): void {
    if (photo !== undefined) this.photos.set(item.clientMessageId, photo);
    this.host.outboxChanged(item);
    this.pump();
  }

  /** A failed message is pending again: a photo not uploaded is uploaded again. */
  retried(item: OutgoingMessage): void {
    this.uploadFailures.delete(item.clientMessageId);
    this.host.outboxChanged(item);
    this.pump();
  }

  /** A message left the outbox unsent: its upload stops; if it was on the wire, the next may go. */
  discarded(clientMessageId: string): void {
    this.forgetPhoto(clientMessageId);
    if (this.inFlight === clientMessageId) {
      this.inFlight = null;
      this.pump();
    }
  }

  /**
   * Sends the room's oldest pending message, if none is on the wire and the room is not
   * paused: a room's messages are stored in the order they were sent, even when one is
   * refused for rate and retried, or a reconnect comes in between. A photo is uploaded
   * first (over HTTP, online or not); the room's later messages wait for it.
   */
  pump(): void {
    if (this.host.stopped() || this.inFlight !== null || this.sendPause !== null) return;
    const next = this.host.outbox.pending().find((i) => i.roomId === this.roomId);
    if (next === undefined) return;
    if (next.photo !== undefined && next.photo.attachment === null) {
      this.startUpload(next);
      return;
    }
    if (!this.host.online()) return;
    const attachments = next.photo?.attachment ? { attachments: [next.photo.attachment.attachmentId] } : {};
    // On the wire before it goes: an answer may come back before request() returns.
    this.inFlight = next.clientMessageId;
    this.host.outbox.attempted(next);
    if (!this.host.request({ type: 'send', roomId: this.roomId, clientMessageId: next.clientMessageId, body: next.body, ...attachments })) this.inFlight = null;
  }

  /** The message on the wire was answered: the next may go. */
  private answered(clientMessageId: string): void {
    if (this.inFlight === clientMessageId) this.inFlight = null;
    this.pump();
  }

  /** A send of this room was refused: for good (failed), or for now (the queue pauses, growing and jittered, then goes on from it). */
  onSendError(clientMessageId: string, error: { code: ErrorCode; message: string }): void {
    const item = this.host.outbox.get(clientMessageId);
    if (item === undefined || item.status !== 'pending') return;
    if (PERMANENT_SEND_ERRORS.has(error.code)) {
      const failed = this.host.outbox.fail(clientMessageId, error);
      if (failed !== null) this.host.outboxChanged(failed);
      this.answered(clientMessageId);
      return;
    }
    if (this.inFlight === clientMessageId) this.inFlight = null;
    if (this.sendPause !== null) return;
    this.sendRefusals += 1;
    const delay = Math.max(error.code === 'rate_limited' ? 1000 : 500, backoffDelay(this.sendRefusals, this.host.backoff));
    this.sendPause = setTimeout(() => {
      this.sendPause = null;
      this.pump();
    }, delay);
  }

  private startUpload(item: OutgoingMessage): void {
    const id = item.clientMessageId;
    if (this.uploads.has(id) || this.uploadTimers.has(id)) return;
    const photo = this.photos.get(id);
    if (photo === undefined) {
      // Loaded from the outbox's storage after a reload: the photo itself was not kept.
      this.failPhoto(id, 'network', 'the photo was not uploaded before the page was closed: attach it again');
      return;
    }
    const controller = new AbortController();
    this.uploads.set(id, controller);
    const mine = () => this.uploads.get(id) === controller;
    this.host
      .uploadPhoto(this.roomId, photo, {
        ...(item.photo?.contentType !== undefined ? { contentType: item.photo.contentType } : {}),
        signal: controller.signal,
        onProgress: ({ loaded }) => {
          if (!mine()) return;
          const updated = this.host.outbox.progress(id, loaded);
          if (updated !== null) this.host.outboxChanged(updated);
        },
      })
      .then(
        (attachment) => {
          if (!mine()) return;
          this.uploads.delete(id);
          this.uploadFailures.delete(id);
          this.photos.delete(id);
          const updated = this.host.outbox.uploaded(id, attachment);
          if (updated !== null) this.host.outboxChanged(updated);
          this.pump();
        },
        (error: unknown) => {
          if (!mine()) return;
          this.uploads.delete(id);
          const current = this.host.outbox.get(id);
          if (current === undefined || current.status !== 'pending') return;
          const refusal = error instanceof ChatApiError ? error : new ChatApiError(0, 'network', String(error));
          if (refusal.code !== 'network' && PERMANENT_SEND_ERRORS.has(refusal.code)) {
            this.failPhoto(id, refusal.code, refusal.message);
            return;
          }
          // Transient (network, 429, 5xx): again after a growing pause. A connection that keeps
          // breaking off while the service is otherwise reachable (the socket is up) is given up
          // on after a few tries: a proxy may be cutting a photo too large for it.
          const failures = (this.uploadFailures.get(id) ?? 0) + 1;
          this.uploadFailures.set(id, failures);
          if (refusal.code === 'network' && this.host.online() && failures >= MAX_UPLOAD_BREAKS) {
            this.failPhoto(id, 'network', `the photo could not be uploaded (${refusal.message})`);
            return;
          }
          const delay = Math.max(1000, (refusal.retryAfter ?? 0) * 1000, backoffDelay(failures, this.host.backoff));
          this.uploadTimers.set(
            id,
            setTimeout(() => {
              this.uploadTimers.delete(id);
              this.pump();
            }, delay),
          );
        },
      );
  }

  private failPhoto(clientMessageId: string, code: OutgoingErrorCode, message: string): void {
    const failed = this.host.outbox.fail(clientMessageId, { code, message });
    if (failed !== null) this.host.outboxChanged(failed);
    this.pump();
  }

  private forgetPhoto(clientMessageId: string): void {
    this.uploads.get(clientMessageId)?.abort();
    this.uploads.delete(clientMessageId);
    const timer = this.uploadTimers.get(clientMessageId);
    if (timer !== undefined) clearTimeout(timer);
    this.uploadTimers.delete(clientMessageId);
    this.uploadFailures.delete(clientMessageId);
    this.photos.delete(clientMessageId);
  }

  // ---- read marks and typing ----

  /**
   * Marks the room read up to `upToSeq` (only ever forward), kept until the server confirms
   * it: over the socket when online (confirmed by `done` or the `read` event), else over HTTP.
   * Refused for now (rate, a fault, the network), it goes again after a growing pause and
   * after every reconnect; refused for good (e.g. `not_found`), it is dropped. Rejects when
   * the HTTP call fails (the retries go on by themselves).
   */
  async markRead(upToSeq: number): Promise<void> {
    if (this.readMark !== null && upToSeq <= this.readMark.upToSeq) return;
    this.readMark = { upToSeq, confirmed: false };
    await this.sendRead();
  }

  private async sendRead(): Promise<void> {
    const mark = this.readMark;
    if (mark === null || mark.confirmed) return;
    if (this.host.online()) {
      this.host.request({ type: 'read', roomId: this.roomId, upToSeq: mark.upToSeq });
      return;
    }
    try {
      await this.host.http.markRead(this.roomId, mark.upToSeq);
      this.confirmRead(mark.upToSeq);
    } catch (error) {
      if (error instanceof ChatApiError && (error.status === 0 || error.status === 429 || error.status >= 500)) this.retryReadLater();
      else if (this.readMark === mark) this.readMark = null;
      throw error;
    }
  }

  /** The server holds this user's read mark of the room at `upToSeq` (its `done`, or a `read` event of this user). */
  confirmRead(upToSeq: number): void {
    const mark = this.readMark;
    if (mark === null || upToSeq < mark.upToSeq) return;
    mark.confirmed = true;
    this.readRefusals = 0;
  }

  /** This room's `read` frame (for `upToSeq`) was refused. */
  onReadRefused(error: { code: ErrorCode; message: string; ref: string | null }, upToSeq: number): void {
    const mark = this.readMark;
    // A refusal of an older mark than the one asked for now says nothing of it (MAX: whichever mark was sent).
    if (mark === null || mark.confirmed || (upToSeq !== Number.MAX_SAFE_INTEGER && upToSeq < mark.upToSeq)) return;
    if (TEMPORARY.has(error.code)) {
      this.retryReadLater();
      return;
    }
    this.readMark = null;
  }

  private retryReadLater(): void {
    if (this.readRetry !== null || this.host.stopped()) return;
    this.readRefusals += 1;
    const delay = Math.max(1000, backoffDelay(this.readRefusals, this.host.backoff));
    this.readRetry = setTimeout(() => {
      this.readRetry = null;
      void this.sendRead().catch(() => undefined);
    }, delay);
  }

  /** "I am typing": at most one frame every `typingIntervalMs`; dropped while offline. */
  typing(): void {
    const now = this.host.now().getTime();
    if (now - this.lastTyping < this.host.typingIntervalMs) return;
    if (!this.host.online()) return;
    this.lastTyping = now;
    this.host.request({ type: 'typing', roomId: this.roomId });
  }
}

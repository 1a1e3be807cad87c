import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { ChatApiError, PERMANENT_SEND_ERRORS } from './errors.js';
import { HttpApi } from './http.js';
import { tokenExpiresAt, tokenSubject } from './jwt.js';
import { Outbox, type OutboxStorage, type OutgoingErrorCode, type OutgoingMessage } from './outbox.js';
import { Timelines } from './timeline.js';
import { contentTypeOf, sizeOf, uploadPhoto, type PhotoData, type UploadOptions, type XMLHttpRequestConstructor } from './upload.js';
import {
  CloseCodes,
  type Attachment,
  type ClientFrame,
  type ErrorCode,
  type Message,
  type MessagePage,
  type OpenRoomResponse,
  type Post,
  type Report,
  type ReportPage,
  type ReportReason,
  type ReportWithContext,
  type ResolutionAction,
  type PostPage,
  type Room,
  type RoomPage,
  type ServerFrame,
} from './types.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the handler parameters differ between the DOM's WebSocket and `ws`; both must fit */
/** What the client needs of a WebSocket: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** Whether the device has a network, and a way to hear when that changes (the browser's online/offline events). */
export interface NetworkStatus {
  online(): boolean;
  subscribe(onChange: (online: boolean) => void): () => void;
}

/**
 * - `connecting`: the first connection is being made;
 * - `online`: connected, resumed, sending;
 * - `reconnecting`: the connection was lost; retrying with backoff (`retryInMs`);
 * - `offline`: the device reports no network; waiting for it to come back;
 * - `closed`: close() was called;
 * - `erased`: the server closed with 4003, the user's account was erased: the client
 *   stops for good (connect() does nothing; the user id is never used again).
 */
export type ConnectionState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'offline' | 'closed' | 'erased';

export interface StateChange {
  state: ConnectionState;
  /** Failed attempts since the last good connection. */
  attempt: number;
  /** When reconnecting: how long until the next attempt. */
  retryInMs: number | null;
  /** The close code that ended the last connection, if any. */
  closeCode: number | null;
}

export interface ChatEvents extends Record<string, unknown> {
  state: StateChange;
  /** Each room's messages in seq order, each once (see docs/client.md). */
  message: Message;
  /** A room was opened, reopened, expired, blocked or unblocked (the user's own view). */
  room: Room;
  read: { roomId: string; userId: string; upToSeq: number };
  typing: { roomId: string; userId: string };
  /** Every change of an outgoing message: pending → sent or failed (and failed → pending on retry). */
  outbox: OutgoingMessage;
  /** A moderator hid a message: show it as hidden (its `body` is "" when read again). */
  messageHidden: { roomId: string; seq: number };
  /** This user was suspended: writes are refused with `suspended` until `until` (null: until reinstated). */
  suspended: { until: string | null };
  /**
   * `userId`'s account was erased: their messages in `roomId` now read as erased. Apply
   * `markErased` to the messages on screen; history read from now on has them erased.
   */
  erased: { roomId: string; userId: string };
  /** A server error frame that answers no outgoing message (e.g. a refused `auth`). */
  error: { code: ErrorCode; message: string; ref: string | null };
}

export interface ChatClientOptions {
  /** The service's origin, e.g. `https://chat.example.com`; default: the page's origin. */
  baseUrl?: string;
  /** Returns a fresh, valid token for the signed-in user; called at start, before `exp` and after a rejection. */
  getToken: () => Promise<string>;
  /** Default: the global WebSocket (browsers); pass `ws`'s in Node 20. */
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  /**
   * Photo uploads go through XMLHttpRequest where there is one (browsers), for upload
   * progress; default: the global one. null (or none, as in Node 20): fetch, with progress
   * only at the start and the end.
   */
  XMLHttpRequest?: XMLHttpRequestConstructor | null;
  backoff?: Partial<BackoffOptions>;
  /**
   * Send `auth` this long before the token's `exp` (default 60 s; at most half the time left).
   * null: never refresh on an open socket; the server's 4001 at `exp` then brings a reconnect with a new token.
   */
  refreshBeforeExpiryMs?: number | null;
  /** At most one typing frame per room this often (default 3 s). */
  typingIntervalMs?: number;
  /** A quiet connection is pinged after this long and dropped after twice this (default 20 s). */
  heartbeatMs?: number;
  /** Default: the browser's navigator.onLine and online/offline events; null: assume always online. */
  network?: NetworkStatus | null;
  /** Keep unsent messages across page loads (default: memory only). */
  outboxStorage?: OutboxStorage;
  now?: () => Date;
}

const OPEN = 1;
const CONNECT_TIMEOUT_MS = 15_000;
/** A photo upload broken off this many times in a row while the socket is up fails (`network`); retry() tries again. */
const MAX_UPLOAD_BREAKS = 3;

/** A copy for listeners, so they cannot change the outbox's own item. */
const copyOf = (item: OutgoingMessage): OutgoingMessage => ({ ...item, ...(item.photo ? { photo: { ...item.photo } } : {}) });

/**
 * The chat client: one WebSocket for all of the user's rooms, reconnected with backoff and
 * resumed room by room; an outbox that retries each message under one clientMessageId until
 * it is acked; token refresh; and the HTTP calls an app needs. Framework-free.
 */
export class ChatClient {
  private readonly events = new Emitter<ChatEvents>();
  private readonly http: HttpApi;
  private readonly timelines = new Timelines();
  private readonly outbox: Outbox;
  private readonly backoff: BackoffOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly network: NetworkStatus | null;
  private readonly now: () => Date;
  private readonly wsUrl: string;

  private socket: WebSocketLike | null = null;
  private current: StateChange = { state: 'idle', attempt: 0, retryInMs: null, closeCode: null };
  private everOnline = false;
  private token: string | null = null;
  private me: string | null = null;
  private tokenRequest: Promise<string> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private readonly resuming = new Set<string>();
  /** Per room: the one message on the wire, waiting for its ack or error. */
  private readonly inFlight = new Map<string, string>();
  /** Per room: a pause after a rate_limited (or transient) refusal, before the queue goes on. */
  private readonly roomPauses = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per room: refusals in a row, so the pause grows; an ack resets it. */
  private readonly refusals = new Map<string, number>();
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private resumeRetry: ReturnType<typeof setTimeout> | null = null;
  private readonly lastTyping = new Map<string, number>();
  /** Per room: the read mark asked for, kept until the server confirms it (its `read` frame for this user). */
  private readonly reads = new Map<string, { upToSeq: number; confirmed: boolean }>();
  /** Read marks refused (or failed over HTTP) in a row, so the pause before sending them again grows. */
  private readRefusals = 0;
  private readRetry: ReturnType<typeof setTimeout> | null = null;
  private unsubscribeNetwork: (() => void) | null = null;
  /** Photo messages' photos, by clientMessageId, until uploaded (memory only: a Blob does not fit in the outbox's storage). */
  private readonly photos = new Map<string, PhotoData>();
  /** Uploads under way, by clientMessageId. */
  private readonly uploads = new Map<string, AbortController>();
  /** Per photo message: uploads that failed in a row for a reason a retry may fix, and the timer of the next try. */
  private readonly uploadFailures = new Map<string, number>();
  private readonly uploadTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly XMLHttpRequestImpl: XMLHttpRequestConstructor | null;
  private readonly fetchImpl: typeof fetch;
  private readonly base: string;

  constructor(private readonly options: ChatClientOptions) {
    const origin = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
    if (origin === undefined) throw new Error('ChatClient: baseUrl is required outside a browser page');
    const base = origin.replace(/\/+$/, '');
    this.wsUrl = `${base.replace(/^http/, 'ws')}/chat`;
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketImpl === undefined) throw new Error('ChatClient: no WebSocket; pass one (e.g. the `ws` package in Node)');
    this.WebSocketImpl = WebSocketImpl;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.network = options.network === undefined ? browserNetwork() : options.network;
    this.now = options.now ?? (() => new Date());
    this.outbox = new Outbox(options.outboxStorage);
    this.base = base;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.XMLHttpRequestImpl =
      options.XMLHttpRequest === undefined ? ((globalThis as { XMLHttpRequest?: XMLHttpRequestConstructor }).XMLHttpRequest ?? null) : options.XMLHttpRequest;
    this.http = new HttpApi(base, this.fetchImpl, {
      token: () => this.validToken(),
      rejected: (token) => this.dropToken(token),
    });
  }

  // ---- events and state ----

  on<K extends keyof ChatEvents>(type: K, listener: (value: ChatEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  get state(): StateChange {
    return { ...this.current };
  }

  /** The signed-in user, from the token's `sub` (null before the first token). */
  get userId(): string | null {
    return this.me;
  }

  /**
   * Starts connecting (idempotent), or connects again after `closed` (close(), or the server's
   * 1008). Unsent messages of a stored outbox go out once online.
   */
  connect(): void {
    if (this.current.state !== 'idle' && this.current.state !== 'closed') return;
    this.current = { state: 'idle', attempt: 0, retryInMs: null, closeCode: null };
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = this.network?.subscribe((online) => this.onNetwork(online)) ?? null;
    if (this.network !== null && !this.network.online()) {
      this.setState({ state: 'offline', retryInMs: null });
      return;
    }
    void this.openSocket();
  }

  /** Closes the connection and stops reconnecting (connect() starts again); unsent messages stay in the outbox and its storage. */
  close(): void {
    this.stop(null);
  }

  /** close() was called, or the account was erased: nothing reconnects. */
  private get stopped(): boolean {
    return this.current.state === 'closed' || this.current.state === 'erased';
  }

  /** No socket, no timers, no reconnecting: `closed` until connect() is called again, or `erased` for good. */
  private stop(closeCode: number | null, state: 'closed' | 'erased' = 'closed'): void {
    this.setState({ state, retryInMs: null, closeCode });
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = null;
    this.clearTimers();
    for (const timer of this.roomPauses.values()) clearTimeout(timer);
    this.roomPauses.clear();
    // Uploads stop too; connect() starts them again (the photos are kept).
    for (const upload of this.uploads.values()) upload.abort();
    this.uploads.clear();
    for (const timer of this.uploadTimers.values()) clearTimeout(timer);
    this.uploadTimers.clear();
    this.dropSocket(CloseCodes.normal, 'client closed');
  }

  // ---- rooms and messages ----

  /**
   * Hand this room's messages after `afterSeq` to `message` listeners (the app holds up to
   * `afterSeq`, e.g. from a history page). A room followed already keeps its place. Followed
   * rooms are resumed after every reconnect. Rooms the user is in are followed on their first
   * live message anyway.
   */
  follow(roomId: string, afterSeq: number): void {
    if (this.timelines.follow(roomId, afterSeq) && this.isOnline()) this.resume(roomId, afterSeq);
  }

  /** The highest seq handed on for a room (null when not followed). */
  lastSeq(roomId: string): number | null {
    return this.timelines.get(roomId)?.last ?? null;
  }

  /**
   * Queues a message and returns at once with it `pending`. It goes out now if online, else
   * after the next (re)connect, and again after every reconnect until acked; the server keeps
   * one message per clientMessageId, so retries never duplicate it.
   */
  send(roomId: string, body: string): OutgoingMessage {
    const item = this.outbox.add(roomId, body, this.now());
    this.events.emit('outbox', { ...item });
    this.pump(roomId);
    return { ...item };
  }

  /**
   * Queues a photo message (`body`: an optional caption) and returns at once with it
   * `pending` and `photo.loaded` 0. The photo is uploaded (`outbox` events report the
   * progress), then the message is sent with `attachments: [attachmentId]`, both in the
   * room's order with its text messages: uploaded once, sent once, retried across
   * reconnects like a text message. A photo the server refuses (`payload_too_large`,
   * `unsupported_media_type`…) leaves the message `failed` with that code.
   */
  sendPhoto(roomId: string, photo: PhotoData, options: { body?: string; contentType?: string } = {}): OutgoingMessage {
    const item = this.outbox.add(roomId, options.body ?? '', this.now(), { contentType: contentTypeOf(photo, options.contentType), bytes: sizeOf(photo) });
    this.photos.set(item.clientMessageId, photo);
    this.events.emit('outbox', copyOf(item));
    this.pump(roomId);
    return copyOf(item);
  }

  /**
   * Uploads a photo to a room (`POST /api/rooms/:roomId/attachments`) → the attachment, to
   * send yourself with a message. `onProgress` reports the bytes sent (see docs/client.md).
   * Refusals reject with `ChatApiError` (413 `payload_too_large`, 415 `unsupported_media_type`,
   * 429 `rate_limited`…). Most apps use sendPhoto() instead.
   */
  uploadPhoto(roomId: string, photo: PhotoData, options: UploadOptions = {}): Promise<Attachment> {
    return uploadPhoto(
      { url: `${this.base}/api/rooms/${encodeURIComponent(roomId)}/attachments`, fetch: this.fetchImpl, XMLHttpRequest: this.XMLHttpRequestImpl },
      { token: () => this.validToken(), rejected: (token) => this.dropToken(token) },
      photo,
      options,
    );
  }

  /** Puts a failed message back in the queue, same clientMessageId (a photo not uploaded yet is uploaded again). */
  retry(clientMessageId: string): void {
    const item = this.outbox.retry(clientMessageId);
    if (item === null) return;
    this.uploadFailures.delete(clientMessageId);
    this.events.emit('outbox', copyOf(item));
    this.pump(item.roomId);
  }

  /** Drops a pending or failed message from the outbox (it may still arrive if it already went out); stops its upload. */
  discard(clientMessageId: string): void {
    const item = this.outbox.get(clientMessageId);
    this.forgetPhoto(clientMessageId);
    this.outbox.discard(clientMessageId);
    if (item !== undefined && this.inFlight.get(item.roomId) === clientMessageId) {
      this.inFlight.delete(item.roomId);
      this.pump(item.roomId);
    }
  }

  /** Pending and failed messages (all, or one room's), oldest first. */
  unsent(roomId?: string): OutgoingMessage[] {
    return this.outbox.list(roomId).map(copyOf);
  }

  /** "I am typing": at most one frame per room every `typingIntervalMs`; dropped while offline. */
  typing(roomId: string): void {
    const now = this.now().getTime();
    if (now - (this.lastTyping.get(roomId) ?? -Infinity) < (this.options.typingIntervalMs ?? 3000)) return;
    if (!this.isOnline()) return;
    this.lastTyping.set(roomId, now);
    this.sendFrame({ type: 'typing', roomId });
  }

  /**
   * Marks the room read up to `upToSeq` (only ever forward): over the socket when online, else
   * over HTTP. The mark is kept until the server confirms it: refused for rate or a fault (a
   * socket `error` with ref `read`, or an HTTP 429/5xx/network failure), it goes again after a
   * growing pause, and after every reconnect. Rejects when the HTTP call fails (the retries go
   * on by themselves); a mark refused for good (e.g. `not_found`) is dropped.
   */
  async markRead(roomId: string, upToSeq: number): Promise<void> {
    const mark = this.reads.get(roomId);
    if (mark !== undefined && upToSeq <= mark.upToSeq) return;
    this.reads.set(roomId, { upToSeq, confirmed: false });
    await this.sendRead(roomId);
  }

  private async sendRead(roomId: string): Promise<void> {
    const mark = this.reads.get(roomId);
    if (mark === undefined || mark.confirmed) return;
    // Answered by a `read` frame (confirmRead) or an `error` with ref `read` (onReadRefused);
    // a frame lost with its socket goes again from onOpen.
    if (this.isOnline()) {
      this.sendFrame({ type: 'read', roomId, upToSeq: mark.upToSeq });
      return;
    }
    try {
      await this.http.markRead(roomId, mark.upToSeq);
      this.confirmRead(roomId, mark.upToSeq);
    } catch (error) {
      if (error instanceof ChatApiError && (error.status === 0 || error.status === 429 || error.status >= 500)) this.retryReadsLater();
      else if (this.reads.get(roomId) === mark) this.reads.delete(roomId);
      throw error;
    }
  }

  /** The server holds this user's read mark of the room at `upToSeq`. */
  private confirmRead(roomId: string, upToSeq: number): void {
    const mark = this.reads.get(roomId);
    if (mark === undefined || upToSeq < mark.upToSeq) return;
    mark.confirmed = true;
    this.readRefusals = 0;
  }

  /** A `read` frame was refused; the error does not say which room, so every unconfirmed mark goes again (the server keeps the highest). */
  private onReadRefused(code: ErrorCode): void {
    if (code === 'rate_limited' || code === 'unavailable' || code === 'internal') {
      this.retryReadsLater();
      return;
    }
    for (const [roomId, mark] of [...this.reads]) if (!mark.confirmed) this.reads.delete(roomId);
  }

  private retryReadsLater(): void {
    if (this.readRetry !== null || this.stopped) return;
    this.readRefusals += 1;
    const delay = Math.max(1000, backoffDelay(this.readRefusals, this.backoff));
    this.readRetry = setTimeout(() => {
      this.readRetry = null;
      // Offline: the reconnect sends them (onOpen).
      if (this.current.state === 'offline') return;
      for (const [roomId, mark] of this.reads) if (!mark.confirmed) void this.sendRead(roomId).catch(() => undefined);
    }, delay);
  }

  // ---- HTTP ----

  posts(options: { limit?: number; cursor?: string | null } = {}): Promise<PostPage> {
    return this.http.posts(options);
  }

  post(postId: string): Promise<Post> {
    return this.http.post(postId);
  }

  /** The user's open rooms, newest activity first; each is followed from its last message. */
  async rooms(options: { limit?: number; cursor?: string | null } = {}): Promise<RoomPage> {
    const page = await this.http.rooms(options);
    for (const room of page.rooms) this.follow(room.roomId, room.lastMessage?.seq ?? 0);
    return page;
  }

  room(roomId: string): Promise<Room> {
    return this.http.room(roomId);
  }

  /** One page of history, ascending by seq: the latest, or older than `before`, or newer than `after`. */
  history(roomId: string, options: { before?: number; after?: number; limit?: number } = {}): Promise<MessagePage> {
    return this.http.messages(roomId, options);
  }

  /** Get-or-open the user's room on a post, as its borrower; followed from the latest page. */
  async openRoom(postId: string): Promise<OpenRoomResponse & { created: boolean }> {
    const result = await this.http.openRoom(postId);
    this.follow(result.room.roomId, result.messages.at(-1)?.seq ?? 0);
    return result;
  }

  /** Either participant reopens an expired room. */
  reopenRoom(roomId: string): Promise<Room> {
    return this.http.reopen(roomId);
  }

  /** Reports a message the user received (once per message: again gives the same report). */
  report(roomId: string, seq: number, reason: ReportReason, note?: string): Promise<Report> {
    return this.http.report(roomId, seq, reason, note);
  }

  /** Moderators only: the queue of reports. */
  reports(options: { status?: 'open' | 'resolved'; limit?: number; cursor?: string | null } = {}): Promise<ReportPage> {
    return this.http.reports(options);
  }

  /** Moderators only: one report and the messages around it (the read is recorded). */
  reportWithContext(reportId: string): Promise<ReportWithContext> {
    return this.http.reportWithContext(reportId);
  }

  /** Moderators only: dismiss, hide the message, or suspend its sender (`suspendFor` like `7d`). */
  resolveReport(reportId: string, resolution: { action: ResolutionAction; note: string; suspendFor?: string }): Promise<Report> {
    return this.http.resolveReport(reportId, resolution);
  }

  block(roomId: string): Promise<void> {
    return this.http.block(roomId, true);
  }

  unblock(roomId: string): Promise<void> {
    return this.http.block(roomId, false);
  }

  // ---- the connection ----

  private isOnline(): boolean {
    return this.current.state === 'online' && this.socket?.readyState === OPEN;
  }

  private setState(change: Partial<StateChange> & { state: ConnectionState }): void {
    if (this.stopped) return;
    this.current = { ...this.current, ...change };
    this.events.emit('state', { ...this.current });
  }

  private async openSocket(): Promise<void> {
    this.reconnectTimer = null;
    this.setState({ state: this.everOnline ? 'reconnecting' : 'connecting', retryInMs: null });
    let token: string;
    try {
      token = await this.validToken();
    } catch {
      this.scheduleReconnect(null);
      return;
    }
    if (this.stopped || this.current.state === 'offline' || this.socket !== null) return;
    let opened = false;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(this.wsUrl, ['chat.v1', token]);
    } catch {
      this.scheduleReconnect(null);
      return;
    }
    this.socket = socket;
    const connectTimer = setTimeout(() => {
      if (!opened) this.lost(socket, null);
    }, CONNECT_TIMEOUT_MS);
    socket.onopen = () => {
      opened = true;
      clearTimeout(connectTimer);
      this.onOpen(socket);
    };
    socket.onmessage = (event: { data: unknown }) => {
      this.lastHeard = Date.now();
      if (typeof event.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    socket.onclose = (event: { code?: number }) => {
      clearTimeout(connectTimer);
      // A handshake refused before opening may be a 401 (browsers cannot tell): ask for a new token.
      if (!opened) this.token = null;
      this.lost(socket, event.code ?? null);
    };
    socket.onerror = () => undefined;
  }

  private onOpen(socket: WebSocketLike): void {
    if (this.socket !== socket) return;
    this.everOnline = true;
    this.lastHeard = Date.now();
    // The failure count is forgotten only once a connection has held for a while, so a
    // server that accepts and at once closes still meets a growing backoff.
    this.stableTimer = setTimeout(() => {
      this.current = { ...this.current, attempt: 0 };
    }, 5_000);
    // Resumes first, before anything a listener of the state change might send: the server
    // holds live messages until the first other frame, so none arrives before its room's replay.
    this.resuming.clear();
    for (const [roomId, timeline] of this.timelines.entries()) this.resume(roomId, timeline.last);
    this.sendFrame({ type: 'ping' });
    this.inFlight.clear();
    this.setState({ state: 'online', retryInMs: null, closeCode: null });
    for (const roomId of new Set(this.outbox.pending().map((i) => i.roomId))) this.pump(roomId);
    // Read marks not confirmed yet (their frame or its answer may have been lost with the last socket).
    for (const [roomId, mark] of this.reads) if (!mark.confirmed) void this.sendRead(roomId).catch(() => undefined);
    this.scheduleRefresh();
    const heartbeatMs = this.options.heartbeatMs ?? 20_000;
    this.heartbeatTimer = setInterval(() => {
      const quiet = Date.now() - this.lastHeard;
      if (quiet >= 2 * heartbeatMs) this.lost(socket, null);
      else if (quiet >= heartbeatMs) this.sendFrame({ type: 'ping' });
    }, Math.max(50, heartbeatMs / 2));
  }

  /** The socket is gone (closed, timed out, or dropped by us): reconnect as its close code asks. */
  private lost(socket: WebSocketLike, code: number | null): void {
    if (this.socket !== socket) return;
    this.clearTimers();
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = null;
    // Not null: Node's `ws` throws an 'error' nobody listens to when a socket still
    // connecting is closed ("closed before the connection was established").
    socket.onerror = () => undefined;
    if (socket.readyState <= OPEN) {
      try {
        socket.close(CloseCodes.normal, 'reconnecting');
      } catch {
        // Already closing.
      }
    }
    this.resuming.clear();
    // Whatever was on the wire goes again, same clientMessageId, after the reconnect.
    this.inFlight.clear();
    if (this.stopped) return;
    // 4003: the account was erased; its tokens are refused from now on, so never reconnect.
    if (code === CloseCodes.accountErased) {
      this.stop(code, 'erased');
      return;
    }
    // 1008: a policy the server applies on purpose, e.g. this was the user's oldest connection
    // past WS_MAX_CONNECTIONS_PER_USER; reconnecting would only push another device out.
    if (code === CloseCodes.policyViolation) {
      this.stop(code);
      return;
    }
    if (this.network !== null && !this.network.online()) {
      this.setState({ state: 'offline', retryInMs: null, closeCode: code });
      return;
    }
    if (code === CloseCodes.tokenExpired) this.token = null;
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number | null): void {
    if (this.stopped || this.reconnectTimer !== null) return;
    const attempt = this.current.attempt;
    let delay = backoffDelay(attempt, this.backoff);
    // 4001 (new token) and 4008 (too slow: resume at once) reconnect straight away the first time.
    if ((code === CloseCodes.tokenExpired || code === CloseCodes.tooSlow) && attempt === 0) delay = 0;
    // 4029: the server asked us to slow down.
    if (code === CloseCodes.rateLimited) delay = Math.max(delay, 5_000);
    this.setState({ state: 'reconnecting', attempt: attempt + 1, retryInMs: delay, closeCode: code });
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delay);
  }

  private onNetwork(online: boolean): void {
    if (this.stopped || this.current.state === 'idle') return;
    if (!online) {
      // Browsers keep a dead socket open for a long time after the network goes; drop it now.
      if (this.socket !== null) this.lost(this.socket, null);
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.setState({ state: 'offline', retryInMs: null });
      return;
    }
    if (this.current.state === 'offline' || this.current.state === 'reconnecting') {
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.current = { ...this.current, attempt: 0 };
      if (this.socket === null) void this.openSocket();
    }
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    if (this.stableTimer !== null) clearTimeout(this.stableTimer);
    if (this.resumeRetry !== null) clearTimeout(this.resumeRetry);
    if (this.readRetry !== null) clearTimeout(this.readRetry);
    this.reconnectTimer = this.refreshTimer = this.heartbeatTimer = this.stableTimer = this.resumeRetry = this.readRetry = null;
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.onerror = () => undefined; // as in lost(): closing a socket still connecting must not throw in Node
    try {
      socket.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  private sendFrame(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  private resume(roomId: string, afterSeq: number): void {
    if (this.sendFrame({ type: 'resume', roomId, afterSeq })) this.resuming.add(roomId);
  }

  /**
   * Sends the room's oldest pending message, if none is on the wire and the room is not
   * paused. One at a time per room: a message is acked (or refused) before the next goes,
   * so a room's messages are stored in the order they were sent even when one is refused
   * for rate and retried, or a reconnect comes in between.
   */
  private pump(roomId: string): void {
    if (this.stopped || this.inFlight.has(roomId) || this.roomPauses.has(roomId)) return;
    const next = this.outbox.pending().find((i) => i.roomId === roomId);
    if (next === undefined) return;
    // A photo is uploaded first (over HTTP, online or not); the room's later messages wait for it.
    if (next.photo !== undefined && next.photo.attachment === null) {
      this.startUpload(next);
      return;
    }
    if (!this.isOnline()) return;
    const attachments = next.photo?.attachment ? { attachments: [next.photo.attachment.attachmentId] } : {};
    if (this.sendFrame({ type: 'send', roomId, clientMessageId: next.clientMessageId, body: next.body, ...attachments })) {
      this.outbox.attempted(next);
      this.inFlight.set(roomId, next.clientMessageId);
    }
  }

  /** Uploads a photo message's photo, once; on success the room's queue goes on and sends it. */
  private startUpload(item: OutgoingMessage): void {
    const id = item.clientMessageId;
    if (this.uploads.has(id) || this.uploadTimers.has(id)) return;
    const photo = this.photos.get(id);
    if (photo === undefined) {
      // Loaded from the outbox's storage after a reload: the photo itself was not kept.
      this.failPhoto(item, 'network', 'the photo was not uploaded before the page was closed: attach it again');
      return;
    }
    const controller = new AbortController();
    this.uploads.set(id, controller);
    const roomId = item.roomId;
    this.uploadPhoto(roomId, photo, {
      contentType: item.photo?.contentType,
      signal: controller.signal,
      onProgress: ({ loaded }) => {
        if (this.uploads.get(id) !== controller) return;
        const updated = this.outbox.progress(id, loaded);
        if (updated !== null) this.events.emit('outbox', copyOf(updated));
      },
    }).then(
      (attachment) => {
        if (this.uploads.get(id) !== controller) return;
        this.uploads.delete(id);
        this.uploadFailures.delete(id);
        this.photos.delete(id);
        const updated = this.outbox.uploaded(id, attachment);
        if (updated !== null) this.events.emit('outbox', copyOf(updated));
        this.pump(roomId);
      },
      (error: unknown) => {
        if (this.uploads.get(id) !== controller) return;
        this.uploads.delete(id);
        const current = this.outbox.get(id);
        if (current === undefined || current.status !== 'pending') return;
        const refusal = error instanceof ChatApiError ? error : new ChatApiError(0, 'network', String(error));
        if (refusal.code !== 'network' && PERMANENT_SEND_ERRORS.has(refusal.code)) {
          this.failPhoto(current, refusal.code, refusal.message);
          return;
        }
        // Transient (network, 429, 5xx): again after a growing pause. A connection that keeps
        // breaking off while the service is otherwise reachable (the socket is up) is given up
        // on after a few tries: a proxy may be cutting a photo too large for it.
        const failures = (this.uploadFailures.get(id) ?? 0) + 1;
        this.uploadFailures.set(id, failures);
        if (refusal.code === 'network' && this.isOnline() && failures >= MAX_UPLOAD_BREAKS) {
          this.failPhoto(current, 'network', `the photo could not be uploaded (${refusal.message})`);
          return;
        }
        const delay = Math.max(1000, (refusal.retryAfter ?? 0) * 1000, backoffDelay(failures, this.backoff));
        this.uploadTimers.set(
          id,
          setTimeout(() => {
            this.uploadTimers.delete(id);
            this.pump(roomId);
          }, delay),
        );
      },
    );
  }

  private failPhoto(item: OutgoingMessage, code: OutgoingErrorCode, message: string): void {
    const failed = this.outbox.fail(item.clientMessageId, { code, message });
    if (failed !== null) this.events.emit('outbox', copyOf(failed));
    this.pump(item.roomId);
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

  /** The message on the wire for its room was answered: the next may go. */
  private answered(roomId: string, clientMessageId: string): void {
    if (this.inFlight.get(roomId) === clientMessageId) this.inFlight.delete(roomId);
    this.pump(roomId);
  }

  // ---- frames ----

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
        this.deliver(frame.message);
        return;
      case 'ack':
        this.deliver(frame.message);
        return;
      case 'resumed': {
        this.resuming.delete(frame.roomId);
        const timeline = this.timelines.get(frame.roomId);
        // Still a hole after a full replay (it should not happen): read it over HTTP.
        if (timeline?.hasGap) void this.fillGap(frame.roomId);
        return;
      }
      case 'room':
        this.events.emit('room', frame.room);
        return;
      case 'read':
        if (frame.userId === this.me) this.confirmRead(frame.roomId, frame.upToSeq);
        this.events.emit('read', { roomId: frame.roomId, userId: frame.userId, upToSeq: frame.upToSeq });
        return;
      case 'typing':
        this.events.emit('typing', { roomId: frame.roomId, userId: frame.userId });
        return;
      case 'error':
        this.onError(frame);
        return;
      case 'message_hidden':
        this.events.emit('messageHidden', { roomId: frame.roomId, seq: frame.seq });
        return;
      case 'suspended':
        this.events.emit('suspended', { until: frame.until });
        return;
      case 'erased':
        this.events.emit('erased', { roomId: frame.roomId, userId: frame.userId });
        return;
      case 'pong':
        return;
      default:
        return;
    }
  }

  private deliver(message: Message): void {
    // Our own message, by ack, by another device, or replayed after a lost ack: it is sent.
    if (message.senderId === this.userId) {
      const settled = this.outbox.settle(message.clientMessageId, message);
      if (settled !== null) {
        this.forgetPhoto(message.clientMessageId);
        this.refusals.delete(message.roomId);
        this.events.emit('outbox', settled);
      }
      this.answered(message.roomId, message.clientMessageId);
    }
    const { ready, gap } = this.timelines.accept(message);
    for (const m of ready) this.events.emit('message', m);
    const timeline = this.timelines.get(message.roomId);
    if (gap && timeline !== undefined && !this.resuming.has(message.roomId)) this.resume(message.roomId, timeline.last);
  }

  private async fillGap(roomId: string): Promise<void> {
    const timeline = this.timelines.get(roomId);
    if (timeline === undefined) return;
    try {
      const page = await this.http.messages(roomId, { after: timeline.last, limit: 200 });
      for (const message of page.messages) this.deliver(message);
    } catch {
      // The next reconnect resumes the room again.
    }
  }

  private onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const item = frame.ref === null ? undefined : this.outbox.get(frame.ref);
    if (item === undefined || item.status !== 'pending') {
      if (frame.ref === 'read') this.onReadRefused(frame.code);
      // A resume the server could not answer yet (its read models behind): the error does not
      // say which room, so every room still waiting for its `resumed` asks again shortly (a
      // repeated replay costs nothing: the timeline drops what it has).
      if (frame.ref === 'resume' && (frame.code === 'unavailable' || frame.code === 'internal') && this.resumeRetry === null) {
        this.resumeRetry = setTimeout(() => {
          this.resumeRetry = null;
          if (!this.isOnline()) return;
          for (const roomId of [...this.resuming]) this.resume(roomId, this.timelines.get(roomId)?.last ?? 0);
        }, 500 + backoffDelay(1, this.backoff));
      }
      this.events.emit('error', { code: frame.code, message: frame.message, ref: frame.ref });
      return;
    }
    if (PERMANENT_SEND_ERRORS.has(frame.code)) {
      const failed = this.outbox.fail(item.clientMessageId, { code: frame.code, message: frame.message });
      if (failed !== null) this.events.emit('outbox', { ...failed });
      this.answered(item.roomId, item.clientMessageId);
      return;
    }
    // rate_limited, internal, unavailable: the room's queue pauses (growing, jittered), then
    // goes on from this same message.
    const roomId = item.roomId;
    if (this.inFlight.get(roomId) === item.clientMessageId) this.inFlight.delete(roomId);
    if (this.roomPauses.has(roomId)) return;
    const refusals = (this.refusals.get(roomId) ?? 0) + 1;
    this.refusals.set(roomId, refusals);
    const delay = Math.max(frame.code === 'rate_limited' ? 1000 : 500, backoffDelay(refusals, this.backoff));
    this.roomPauses.set(
      roomId,
      setTimeout(() => {
        this.roomPauses.delete(roomId);
        this.pump(roomId);
      }, delay),
    );
  }

  // ---- tokens ----

  /** The current token while it has time left, else a new one from getToken() (one call at a time). */
  private validToken(): Promise<string> {
    const expiresAt = this.token === null ? null : tokenExpiresAt(this.token);
    if (this.token !== null && (expiresAt === null || expiresAt - Date.now() > 5_000)) return Promise.resolve(this.token);
    this.tokenRequest ??= this.options
      .getToken()
      .then((token) => {
        this.token = token;
        this.me = tokenSubject(token) ?? this.me;
        return token;
      })
      .finally(() => {
        this.tokenRequest = null;
      });
    return this.tokenRequest;
  }

  private dropToken(token: string): void {
    if (this.token === token) this.token = null;
  }

  /** Before `exp`: a new token from getToken(), handed to the open connection in an `auth` frame. */
  private scheduleRefresh(): void {
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const expiresAt = this.token === null ? null : tokenExpiresAt(this.token);
    if (expiresAt === null || this.options.refreshBeforeExpiryMs === null) return;
    const left = expiresAt - Date.now();
    const early = Math.min(this.options.refreshBeforeExpiryMs ?? 60_000, left / 2);
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(0, left - early));
  }

  private async refresh(): Promise<void> {
    this.refreshTimer = null;
    const old = this.token;
    try {
      if (old !== null) this.dropToken(old);
      const token = await this.validToken();
      if (this.isOnline() && token !== old) this.sendFrame({ type: 'auth', token });
      this.scheduleRefresh();
    } catch {
      // getToken failed: try again shortly; if `exp` passes first, the 4001 reconnect asks again.
      if (this.isOnline()) this.refreshTimer = setTimeout(() => void this.refresh(), 5_000);
    }
  }
}

/** The browser's idea of the network, when there is one. */
function browserNetwork(): NetworkStatus | null {
  const g = globalThis as {
    navigator?: { onLine?: unknown };
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  if (typeof g.navigator?.onLine !== 'boolean' || typeof g.addEventListener !== 'function') return null;
  return {
    online: () => g.navigator?.onLine !== false,
    subscribe(onChange) {
      const up = () => onChange(true);
      const down = () => onChange(false);
      g.addEventListener?.('online', up);
      g.addEventListener?.('offline', down);
      return () => {
        g.removeEventListener?.('online', up);
        g.removeEventListener?.('offline', down);
      };
    },
  };
}



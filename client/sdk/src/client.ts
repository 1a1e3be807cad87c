import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { copyOf, RoomChannel, type ChannelHost } from './channel.js';
import { Emitter } from './emitter.js';
import { TEMPORARY_ERRORS } from './errors.js';
import { HttpApi } from './http.js';
import { tokenExpiresAt, tokenSubject } from './jwt.js';
import { Outbox, type OutboxStorage, type OutgoingMessage } from './outbox.js';
import { Requests, type RequestFrame } from './requests.js';
import { ConnectionStates, type StateChange } from './state.js';
import { contentTypeOf, sizeOf, uploadPhoto, type PhotoData, type UploadOptions, type XMLHttpRequestConstructor } from './upload.js';
import {
  CloseCodes,
  type Attachment,
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

export type { ConnectionState, StateChange } from './state.js';

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
  /**
   * A server error frame that answers no outgoing message: a refused `auth`, `typing` or
   * `ping`, or a room's `resume` or `read` refused for good (`not_found`…). Temporary
   * refusals of those (rate, overload) are retried by the client, and reported here too.
   */
  error: { code: ErrorCode; message: string; ref: string | null; temporary: boolean };
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

/**
 * The chat client: one WebSocket for all of the user's rooms, reconnected with backoff and
 * resumed room by room; an outbox that retries each message under one clientMessageId until
 * it is acked; token refresh; and the HTTP calls an app needs. Framework-free.
 *
 * Inside: the connection's state machine (`state.ts`, changed only through `states.set`),
 * one `RoomChannel` per room (`channel.ts`: its timeline, resume, outbox, read mark and
 * refusals), and the requests on the socket by id (`requests.ts`), so each answer settles
 * exactly the frame it answers and reaches that frame's room.
 */
export class ChatClient {
  private readonly events = new Emitter<ChatEvents>();
  private readonly http: HttpApi;
  private readonly outbox: Outbox;
  private readonly backoff: BackoffOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly network: NetworkStatus | null;
  private readonly now: () => Date;
  private readonly wsUrl: string;
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly XMLHttpRequestImpl: XMLHttpRequestConstructor | null;
  private readonly states = new ConnectionStates((change) => this.events.emit('state', change));
  /** One per room, created by channel() and stopped in stop(). */
  private readonly channels = new Map<string, RoomChannel>();
  private readonly requests = new Requests();
  private readonly host: ChannelHost;

  private socket: WebSocketLike | null = null;
  private everOnline = false;
  private token: string | null = null;
  private me: string | null = null;
  private tokenRequest: Promise<string> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private lastHeard = 0;
  private unsubscribeNetwork: (() => void) | null = null;

  constructor(private readonly options: ChatClientOptions) {
    const origin = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
    if (origin === undefined) throw new Error('ChatClient: baseUrl is required outside a browser page');
    const base = origin.replace(/\/+$/, '');
    this.base = base;
    this.wsUrl = `${base.replace(/^http/, 'ws')}/chat`;
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketImpl === undefined) throw new Error('ChatClient: no WebSocket; pass one (e.g. the `ws` package in Node)');
    this.WebSocketImpl = WebSocketImpl;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.network = options.network === undefined ? browserNetwork() : options.network;
    this.now = options.now ?? (() => new Date());
    this.outbox = new Outbox(options.outboxStorage);
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.XMLHttpRequestImpl =
      options.XMLHttpRequest === undefined ? ((globalThis as { XMLHttpRequest?: XMLHttpRequestConstructor }).XMLHttpRequest ?? null) : options.XMLHttpRequest;
    this.http = new HttpApi(base, this.fetchImpl, {
      token: () => this.validToken(),
      rejected: (token) => this.dropToken(token),
    });
    this.host = {
      userId: () => this.me,
      backoff: this.backoff,
      outbox: this.outbox,
      http: this.http,
      typingIntervalMs: options.typingIntervalMs ?? 3000,
      now: () => this.now(),
      online: () => this.isOnline(),
      stopped: () => this.states.stopped,
      request: (frame) => this.request(frame),
      uploadPhoto: (roomId, photo, uploadOptions) => this.uploadPhoto(roomId, photo, uploadOptions),
      delivered: (message) => this.events.emit('message', message),
      outboxChanged: (item) => this.events.emit('outbox', copyOf(item)),
    };
  }

  // ---- events and state ----

  on<K extends keyof ChatEvents>(type: K, listener: (value: ChatEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  get state(): StateChange {
    return this.states.value;
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
    if (this.states.state !== 'idle' && this.states.state !== 'closed') return;
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = this.network?.subscribe((online) => this.onNetwork(online)) ?? null;
    if (this.network !== null && !this.network.online()) {
      this.states.set({ state: 'offline', attempt: 0, retryInMs: null, closeCode: null }, { reopen: true });
      return;
    }
    this.states.set({ state: 'connecting', attempt: 0, retryInMs: null, closeCode: null }, { reopen: true });
    void this.openSocket();
  }

  /** Closes the connection and stops reconnecting (connect() starts again); unsent messages stay in the outbox and its storage. */
  close(): void {
    this.stop(null);
  }

  /** No socket, no timers, no reconnecting, no uploads: `closed` until connect() is called again, or `erased` for good. */
  private stop(closeCode: number | null, state: 'closed' | 'erased' = 'closed'): void {
    this.states.set({ state, retryInMs: null, closeCode });
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = null;
    this.clearTimers();
    this.requests.clear();
    for (const channel of this.channels.values()) channel.stop();
    this.dropSocket(CloseCodes.normal, 'client closed');
  }

  /** The room's channel, made on first use: the one place rooms are created. */
  private channel(roomId: string): RoomChannel {
    let channel = this.channels.get(roomId);
    if (channel === undefined) this.channels.set(roomId, (channel = new RoomChannel(roomId, this.host)));
    return channel;
  }

  // ---- rooms and messages ----

  /**
   * Hand this room's messages after `afterSeq` to `message` listeners (the app holds up to
   * `afterSeq`, e.g. from a history page). A room followed already keeps its place. Followed
   * rooms are resumed after every reconnect. Rooms the user is in are followed on their first
   * live message anyway.
   */
  follow(roomId: string, afterSeq: number): void {
    this.channel(roomId).follow(afterSeq);
  }

  /** The highest seq handed on for a room (null when not followed). */
  lastSeq(roomId: string): number | null {
    return this.channels.get(roomId)?.lastSeq ?? null;
  }

  /**
   * Queues a message and returns at once with it `pending`. It goes out now if online, else
   * after the next (re)connect, and again after every reconnect until acked; the server keeps
   * one message per clientMessageId, so retries never duplicate it.
   */
  send(roomId: string, body: string): OutgoingMessage {
    const item = this.outbox.add(roomId, body, this.now());
    this.channel(roomId).queued(item);
    return copyOf(item);
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
    this.channel(roomId).queued(item, photo);
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
    if (item !== null) this.channel(item.roomId).retried(item);
  }

  /** Drops a pending or failed message from the outbox (it may still arrive if it already went out); stops its upload. */
  discard(clientMessageId: string): void {
    const item = this.outbox.get(clientMessageId);
    this.outbox.discard(clientMessageId);
    if (item !== undefined) this.channel(item.roomId).discarded(clientMessageId);
  }

  /** Pending and failed messages (all, or one room's), oldest first. */
  unsent(roomId?: string): OutgoingMessage[] {
    return this.outbox.list(roomId).map(copyOf);
  }

  /** "I am typing": at most one frame per room every `typingIntervalMs`; dropped while offline. */
  typing(roomId: string): void {
    this.channel(roomId).typing();
  }

  /**
   * Marks the room read up to `upToSeq` (only ever forward): over the socket when online, else
   * over HTTP. The mark is kept until the server confirms it (`done`, or its `read` event):
   * refused for rate or a fault (an `error` answering that very frame, or an HTTP
   * 429/5xx/network failure), it goes again after a growing pause, and after every reconnect.
   * Rejects when the HTTP call fails (the retries go on by themselves); a mark refused for
   * good (e.g. `not_found`) is dropped.
   */
  markRead(roomId: string, upToSeq: number): Promise<void> {
    return this.channel(roomId).markRead(upToSeq);
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
    return this.states.state === 'online' && this.socket?.readyState === OPEN;
  }

  private async openSocket(): Promise<void> {
    this.reconnectTimer = null;
    this.states.set({ state: this.states.state === 'connecting' || !this.everOnline ? 'connecting' : 'reconnecting', retryInMs: null });
    let token: string;
    try {
      token = await this.validToken();
    } catch {
      this.scheduleReconnect(null);
      return;
    }
    if (this.states.stopped || this.states.state === 'offline' || this.socket !== null) return;
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
    this.requests.clear();
    // The failure count is forgotten only once a connection has held for a while, so a
    // server that accepts and at once closes still meets a growing backoff.
    this.stableTimer = setTimeout(() => this.states.set({ attempt: 0 }), 5_000);
    // Resumes first, before anything a listener of the state change might send: the server
    // holds live messages until the first other frame, so none arrives before its room's replay.
    for (const channel of this.channels.values()) channel.opened();
    this.request({ type: 'ping' });
    this.states.set({ state: 'online', retryInMs: null, closeCode: null });
    // The outbox, and read marks not confirmed yet (their frame or its answer may have been lost with the last socket).
    for (const channel of this.channels.values()) channel.online();
    for (const roomId of new Set(this.outbox.pending().map((i) => i.roomId))) this.channel(roomId).pump();
    this.scheduleRefresh();
    const heartbeatMs = this.options.heartbeatMs ?? 20_000;
    this.heartbeatTimer = setInterval(() => {
      const quiet = Date.now() - this.lastHeard;
      if (quiet >= 2 * heartbeatMs) this.lost(socket, null);
      else if (quiet >= heartbeatMs) this.request({ type: 'ping' });
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
    // Their answers went with the socket; whatever was on the wire goes again after the reconnect.
    this.requests.clear();
    for (const channel of this.channels.values()) channel.disconnected();
    if (this.states.stopped) return;
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
      this.states.set({ state: 'offline', retryInMs: null, closeCode: code });
      return;
    }
    if (code === CloseCodes.tokenExpired) this.token = null;
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number | null): void {
    if (this.states.stopped || this.reconnectTimer !== null) return;
    const attempt = this.states.value.attempt;
    let delay = backoffDelay(attempt, this.backoff);
    // 4001 (new token) and 4008 (too slow: resume at once) reconnect straight away the first time.
    if ((code === CloseCodes.tokenExpired || code === CloseCodes.tooSlow) && attempt === 0) delay = 0;
    // 4029: the server asked us to slow down.
    if (code === CloseCodes.rateLimited) delay = Math.max(delay, 5_000);
    this.states.set({ state: 'reconnecting', attempt: attempt + 1, retryInMs: delay, closeCode: code });
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delay);
  }

  private onNetwork(online: boolean): void {
    if (this.states.stopped || this.states.state === 'idle') return;
    if (!online) {
      // Browsers keep a dead socket open for a long time after the network goes; drop it now.
      if (this.socket !== null) this.lost(this.socket, null);
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.states.set({ state: 'offline', retryInMs: null });
      return;
    }
    if (this.states.state === 'offline' || this.states.state === 'reconnecting') {
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.states.set({ attempt: 0 });
      if (this.socket === null) void this.openSocket();
    }
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    if (this.stableTimer !== null) clearTimeout(this.stableTimer);
    this.reconnectTimer = this.refreshTimer = this.heartbeatTimer = this.stableTimer = null;
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

  /** Sends a frame with a fresh request id (remembered, so its answer finds it); false without an open socket. */
  private request(frame: RequestFrame): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(this.requests.issue(frame)));
    return true;
  }

  // ---- frames ----

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
        this.channel(frame.message.roomId).deliver(frame.message);
        return;
      case 'ack':
        this.requests.take(frame.ref);
        this.channel(frame.message.roomId).deliver(frame.message);
        return;
      case 'resumed':
        this.requests.take(frame.ref);
        this.channel(frame.roomId).onResumed();
        return;
      case 'done': {
        const request = this.requests.take(frame.ref);
        if (request?.type === 'read') this.channel(request.roomId).confirmRead(request.upToSeq);
        return;
      }
      case 'room':
        this.events.emit('room', frame.room);
        return;
      case 'read':
        if (frame.userId === this.me) this.channels.get(frame.roomId)?.confirmRead(frame.upToSeq);
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
        this.requests.take(frame.ref);
        return;
      default:
        return;
    }
  }

  /** An error goes to the request its `ref` names: a send, read or resume to its room's channel; anything else to the app. */
  private onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const error = { code: frame.code, message: frame.message, ref: frame.ref, temporary: TEMPORARY_ERRORS.has(frame.code) };
    const request = this.requests.take(frame.ref) ?? this.legacyRequest(frame.ref);
    if (request === undefined && (frame.ref === 'read' || frame.ref === 'resume')) {
      // A server older than request ids names only the frame's type: every room that may be concerned.
      this.events.emit('error', error);
      for (const channel of this.channels.values()) {
        if (frame.ref === 'read') channel.onReadRefused(error, Number.MAX_SAFE_INTEGER);
        else channel.onResumeError(error, { onlyIfResuming: true });
      }
      return;
    }
    switch (request?.type) {
      case 'send':
        this.channel(request.roomId).onSendError(request.clientMessageId, error);
        return;
      case 'read':
        this.events.emit('error', error);
        this.channel(request.roomId).onReadRefused(error, request.upToSeq);
        return;
      case 'resume':
        this.events.emit('error', error);
        this.channel(request.roomId).onResumeError(error);
        return;
      default:
        this.events.emit('error', error);
    }
  }

  /**
   * An error whose `ref` names no request: a server older than request ids names a send by
   * its clientMessageId (still matched to its message); anything else is the app's to see.
   */
  private legacyRequest(ref: string | null): { type: 'send'; roomId: string; clientMessageId: string } | undefined {
    const item = ref === null ? undefined : this.outbox.get(ref);
    return item === undefined || item.status !== 'pending' ? undefined : { type: 'send', roomId: item.roomId, clientMessageId: item.clientMessageId };
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
      if (this.isOnline() && token !== old) this.request({ type: 'auth', token });
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



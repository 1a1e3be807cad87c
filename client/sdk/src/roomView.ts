import type { ChatClient } from './client.js';
import type { OutgoingMessage } from './outbox.js';
import type { PhotoData } from './upload.js';
import { markErased, type Message, type Room } from './types.js';

/** What a room view needs of the client (a `ChatClient`; a fake in tests). */
export type RoomViewClient = Pick<ChatClient, 'on' | 'userId' | 'room' | 'history' | 'follow' | 'unsent' | 'send' | 'sendPhoto' | 'retry' | 'discard' | 'markRead' | 'typing'>;

/** One conversation as a screen shows it; a new object on every change. */
export interface RoomViewState {
  /** The room as this user sees it (status, block state, read marks, participants); null until loaded. */
  room: Room | null;
  /** Delivered messages, ascending by seq, each once: history pages and live ones merged. */
  messages: Message[];
  /** This user's messages not delivered yet (pending or failed), oldest first; each leaves when it arrives in `messages`. */
  unsent: OutgoingMessage[];
  /** Older messages than `messages[0]` exist. */
  hasMore: boolean;
  /** A page is being read (the first, or an older one). */
  loading: boolean;
  /** The last failure of a read (history, room), for the screen to show; null when none. */
  error: string | null;
  /** Who is typing right now (shown for `typingShownMs` after their last typing frame); null when nobody. */
  typing: string | null;
}

export interface RoomViewOptions {
  /** Messages per history page (default 30). */
  pageSize?: number;
  /** A typing indicator stays this long after the last typing frame (default 4 s). */
  typingShownMs?: number;
  /** The room already known to the app (e.g. from the room list), shown until the fresh one is read. */
  room?: Room | null;
}

function mergeBySeq(existing: readonly Message[], incoming: readonly Message[]): Message[] {
  const bySeq = new Map(existing.map((m) => [m.seq, m]));
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * One room's conversation over a `ChatClient`, framework-free: the room, the latest page
 * of history then everything after it live (merged by seq, each once), older pages on
 * demand, the outbox's unsent messages until each is delivered, moderation and erasure
 * applied to the messages on screen, typing and read marks. `subscribe` hears every change;
 * `close` stops listening. A React app wraps it in a hook (client/web's `useConversation`).
 */
export class RoomView {
  private current: RoomViewState;
  private readonly listeners = new Set<(state: RoomViewState) => void>();
  private readonly offs: Array<() => void> = [];
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private opened: Promise<void> | null = null;
  private readonly pageSize: number;

  constructor(
    private readonly client: RoomViewClient,
    readonly roomId: string,
    private readonly options: RoomViewOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 30;
    this.current = { room: options.room ?? null, messages: [], unsent: client.unsent(roomId), hasMore: false, loading: true, error: null, typing: null };
  }

  get state(): RoomViewState {
    return this.current;
  }

  /** Hears every change of `state`; returns the function that stops it. */
  subscribe(listener: (state: RoomViewState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts listening, reads the room and its latest page, then follows it live (idempotent). */
  open(): Promise<void> {
    this.opened ??= this.start();
    return this.opened;
  }

  /** Stops listening; the view no longer changes. */
  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    this.listeners.clear();
  }

  /** Reads the page before the oldest message shown; false when there is none or a read is under way. */
  async loadOlder(): Promise<boolean> {
    const first = this.current.messages[0];
    if (!this.current.hasMore || this.current.loading || first === undefined) return false;
    this.update({ loading: true });
    try {
      const page = await this.client.history(this.roomId, { before: first.seq, limit: this.pageSize });
      this.update({ messages: mergeBySeq(this.current.messages, page.messages), hasMore: page.hasMore, loading: false });
      return true;
    } catch (error) {
      this.update({ loading: false, error: messageOf(error) });
      return false;
    }
  }

  /** Queues a message (the outbox sends it, across reconnects); it shows in `unsent` until delivered. */
  send(body: string): OutgoingMessage {
    const item = this.client.send(this.roomId, body);
    this.refreshUnsent();
    return item;
  }

  /**
   * Queues a photo message (uploaded, then sent, by the outbox: see ChatClient.sendPhoto); it
   * shows in `unsent` with its upload's progress (`photo.loaded` of `photo.bytes`) until delivered.
   */
  sendPhoto(photo: PhotoData, options: { body?: string; contentType?: string } = {}): OutgoingMessage {
    const item = this.client.sendPhoto(this.roomId, photo, options);
    this.refreshUnsent();
    return item;
  }

  /** Puts a failed message back in the queue. */
  retry(clientMessageId: string): void {
    this.client.retry(clientMessageId);
    this.refreshUnsent();
  }

  /** Drops a pending or failed message (a photo's upload stops). */
  discard(clientMessageId: string): void {
    this.client.discard(clientMessageId);
    this.refreshUnsent();
  }

  /** "I am typing" (the client sends at most one frame every few seconds). */
  typing(): void {
    this.client.typing(this.roomId);
  }

  /**
   * Marks the room read up to its newest delivered message. The client keeps the mark until
   * the server confirms it, and sends it again after a refusal or a reconnect.
   */
  markRead(): void {
    const last = this.current.messages.at(-1)?.seq ?? 0;
    if (last === 0) return;
    // A failure over HTTP is retried by the client; nothing is left for the screen to do.
    this.client.markRead(this.roomId, last).catch(() => undefined);
  }

  /** The room was read again (e.g. after block, unblock or reopen): show it. */
  setRoom(room: Room): void {
    if (room.roomId === this.roomId && room !== this.current.room) this.update({ room });
  }

  /** A failure of an action the screen ran itself, shown like the view's own; null clears it. */
  setError(error: unknown): void {
    this.update({ error: error === null ? null : messageOf(error) });
  }

  private async start(): Promise<void> {
    const me = (): string | null => this.client.userId;
    this.offs.push(
      this.client.on('message', (m) => {
        if (m.roomId !== this.roomId) return;
        const fromOther = m.senderId !== me();
        this.update({ messages: mergeBySeq(this.current.messages, [m]), ...(fromOther && this.current.typing === m.senderId ? { typing: null } : {}) });
        if (!fromOther) this.refreshUnsent();
      }),
      this.client.on('outbox', (o) => {
        if (o.roomId === this.roomId) this.refreshUnsent();
      }),
      this.client.on('messageHidden', (h) => {
        if (h.roomId !== this.roomId) return;
        this.update({ messages: this.current.messages.map((m) => (m.seq === h.seq ? { ...m, hidden: true, body: '', safety: [], attachments: [] } : m)) });
      }),
      this.client.on('erased', (erasure) => {
        if (erasure.roomId === this.roomId) this.update({ messages: markErased(this.current.messages, erasure) });
      }),
      this.client.on('typing', (t) => {
        if (t.roomId !== this.roomId || t.userId === me()) return;
        if (this.typingTimer !== null) clearTimeout(this.typingTimer);
        this.typingTimer = setTimeout(() => {
          this.typingTimer = null;
          this.update({ typing: null });
        }, this.options.typingShownMs ?? 4000);
        this.update({ typing: t.userId });
      }),
      this.client.on('room', (room) => this.setRoom(room)),
      this.client.on('read', (r) => {
        const room = this.current.room;
        if (r.roomId !== this.roomId || room === null) return;
        if ((room.lastReadSeq[r.userId] ?? 0) >= r.upToSeq) return;
        this.update({ room: { ...room, lastReadSeq: { ...room.lastReadSeq, [r.userId]: r.upToSeq } } });
      }),
    );
    try {
      const [room, page] = await Promise.all([this.client.room(this.roomId), this.client.history(this.roomId, { limit: this.pageSize })]);
      if (this.closed) return;
      this.update({ room, messages: mergeBySeq(this.current.messages, page.messages), hasMore: page.hasMore, loading: false });
      this.refreshUnsent();
      this.client.follow(this.roomId, page.messages.at(-1)?.seq ?? 0);
    } catch (error) {
      this.update({ loading: false, error: messageOf(error) });
    }
  }

  /** The outbox's messages of this room that have not arrived as messages yet. */
  private refreshUnsent(): void {
    const me = this.client.userId;
    const delivered = new Set(this.current.messages.filter((m) => m.senderId === me).map((m) => m.clientMessageId));
    const unsent = this.client.unsent(this.roomId).filter((u) => !delivered.has(u.clientMessageId));
    const old = this.current.unsent;
    const same = (u: OutgoingMessage, o: OutgoingMessage) =>
      u.clientMessageId === o.clientMessageId &&
      u.status === o.status &&
      u.attempts === o.attempts &&
      u.photo?.loaded === o.photo?.loaded &&
      u.photo?.attachment === o.photo?.attachment;
    if (unsent.length === old.length && unsent.every((u, i) => same(u, old[i]!))) return;
    this.update({ unsent });
  }

  private update(change: Partial<RoomViewState>): void {
    if (this.closed) return;
    this.current = { ...this.current, ...change };
    for (const listener of [...this.listeners]) listener(this.current);
  }
}

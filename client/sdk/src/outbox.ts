import { newClientMessageId } from './ids.js';
import type { ErrorCode, Message } from './types.js';

/**
 * A message the app sent: pending until the server acks it (then `sent`, with the stored
 * message), or `failed` when the server refused it for good (blocked, room expired…).
 * Its clientMessageId never changes, so every retry is the same message to the server.
 */
export interface OutgoingMessage {
  clientMessageId: string;
  roomId: string;
  body: string;
  status: 'pending' | 'sent' | 'failed';
  /** When send() was called (ISO-8601). */
  createdAt: string;
  /** How many times it went out on a socket. */
  attempts: number;
  /** Set when sent. */
  message?: Message;
  /** Set when failed. */
  error?: { code: ErrorCode; message: string };
}

/** Where unsent messages outlive the page (e.g. localStorage); the outbox saves on every change. */
export interface OutboxStorage {
  load(): OutgoingMessage[];
  save(unsent: OutgoingMessage[]): void;
}

/** The messages not yet acked or refused, in the order they were sent. */
export class Outbox {
  private readonly items = new Map<string, OutgoingMessage>();

  constructor(private readonly storage?: OutboxStorage) {
    for (const item of storage?.load() ?? []) {
      if (item.status !== 'sent') this.items.set(item.clientMessageId, { ...item });
    }
  }

  add(roomId: string, body: string, now: Date): OutgoingMessage {
    const item: OutgoingMessage = {
      clientMessageId: newClientMessageId(),
      roomId,
      body,
      status: 'pending',
      createdAt: now.toISOString(),
      attempts: 0,
    };
    this.items.set(item.clientMessageId, item);
    this.persist();
    return item;
  }

  get(clientMessageId: string): OutgoingMessage | undefined {
    return this.items.get(clientMessageId);
  }

  /** Pending and failed messages, oldest first (a room's `pending` ones are sent in this order). */
  list(roomId?: string): OutgoingMessage[] {
    return [...this.items.values()].filter((i) => roomId === undefined || i.roomId === roomId);
  }

  pending(): OutgoingMessage[] {
    return this.list().filter((i) => i.status === 'pending');
  }

  attempted(item: OutgoingMessage): void {
    item.attempts += 1;
  }

  /** Acked, or seen stored (a replay after a lost ack): leaves the outbox. Null if it was not there. */
  settle(clientMessageId: string, message: Message): OutgoingMessage | null {
    const item = this.items.get(clientMessageId);
    if (item === undefined) return null;
    this.items.delete(clientMessageId);
    const sent: OutgoingMessage = { ...item, status: 'sent', message };
    delete sent.error;
    this.persist();
    return sent;
  }

  fail(clientMessageId: string, error: { code: ErrorCode; message: string }): OutgoingMessage | null {
    const item = this.items.get(clientMessageId);
    if (item === undefined || item.status !== 'pending') return null;
    item.status = 'failed';
    item.error = error;
    this.persist();
    return item;
  }

  /** A failed message goes back to pending, same clientMessageId. */
  retry(clientMessageId: string): OutgoingMessage | null {
    const item = this.items.get(clientMessageId);
    if (item === undefined || item.status !== 'failed') return null;
    item.status = 'pending';
    delete item.error;
    this.persist();
    return item;
  }

  discard(clientMessageId: string): boolean {
    const removed = this.items.delete(clientMessageId);
    if (removed) this.persist();
    return removed;
  }

  private persist(): void {
    this.storage?.save(this.list().map((i) => ({ ...i })));
  }
}

import { newClientMessageId } from './ids.js';
import type { Attachment, ErrorCode, Message } from './types.js';

/** Why an outgoing message failed: the service's error code, or `network` (a photo that could not be uploaded). */
export type OutgoingErrorCode = ErrorCode | 'network';

/** A photo message's upload: uploaded once, then sent (and retried) with its attachment id. */
export interface OutgoingPhoto {
  /** The type the app gave (or the file's); the server decides from the bytes. */
  contentType: string;
  /** The photo's size. */
  bytes: number;
  /** Bytes uploaded so far (see docs/client.md for when this moves). */
  loaded: number;
  /** Set once uploaded: the message then goes out with `attachments: [attachment.attachmentId]`. */
  attachment: Attachment | null;
}

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
  error?: { code: OutgoingErrorCode; message: string };
  /** A photo message (`body` is its caption, may be ""): the photo's upload. */
  photo?: OutgoingPhoto;
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

  add(roomId: string, body: string, now: Date, photo?: { contentType: string; bytes: number }): OutgoingMessage {
    const item: OutgoingMessage = {
      clientMessageId: newClientMessageId(),
      roomId,
      body,
      status: 'pending',
      createdAt: now.toISOString(),
      attempts: 0,
      ...(photo !== undefined ? { photo: { ...photo, loaded: 0, attachment: null } } : {}),
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

  /** Upload progress of a photo message (not persisted on every step: only the end matters after a reload). */
  progress(clientMessageId: string, loaded: number): OutgoingMessage | null {
    const item = this.items.get(clientMessageId);
    if (item?.photo === undefined || item.photo.attachment !== null) return null;
    item.photo = { ...item.photo, loaded };
    return item;
  }

  /** A photo message's photo is uploaded: kept (and persisted) so it is never uploaded again. */
  uploaded(clientMessageId: string, attachment: Attachment): OutgoingMessage | null {
    const item = this.items.get(clientMessageId);
    if (item?.photo === undefined) return null;
    item.photo = { ...item.photo, loaded: item.photo.bytes, attachment };
    this.persist();
    return item;
  }

  fail(clientMessageId: string, error: { code: OutgoingErrorCode; message: string }): OutgoingMessage | null {
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

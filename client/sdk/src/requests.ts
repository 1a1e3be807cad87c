import type { ClientFrame } from './types.js';

/** A frame the client sent with an `id`, and what is needed to act on its answer. */
export type Request =
  | { type: 'send'; roomId: string; clientMessageId: string }
  | { type: 'read'; roomId: string; upToSeq: number }
  | { type: 'typing'; roomId: string }
  | { type: 'resume'; roomId: string }
  | { type: 'auth' }
  | { type: 'ping' };

/** A frame as the client builds it, before it is given its `id`. */
export type RequestFrame = ClientFrame extends infer F ? (F extends ClientFrame ? Omit<F, 'id'> : never) : never;

/** Requests left unanswered past this many (a server that answers none, e.g. one older than request ids) are forgotten, oldest first. */
const MAX_PENDING = 1000;

/**
 * The requests on one socket, by `id`: every frame the client sends carries a fresh one, and
 * the server names it as `ref` in the answer (`ack`, `done`, `resumed`, `pong`, `error`), so
 * each answer settles exactly its request. Cleared when the socket goes (their answers went with it).
 */
export class Requests {
  private next = 1;
  private readonly pending = new Map<string, Request>();

  /** Gives the frame its id and remembers what it asked. */
  issue(frame: RequestFrame): ClientFrame {
    const id = String(this.next++);
    this.pending.set(id, describe(frame));
    if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    return { ...frame, id } as ClientFrame;
  }

  /** The request an answer's `ref` names (removed: an answer settles it once), or undefined. */
  take(ref: string | null | undefined): Request | undefined {
    if (ref === null || ref === undefined) return undefined;
    const request = this.pending.get(ref);
    this.pending.delete(ref);
    return request;
  }

  clear(): void {
    this.pending.clear();
  }
}

function describe(frame: RequestFrame): Request {
  switch (frame.type) {
    case 'send':
      return { type: 'send', roomId: frame.roomId, clientMessageId: frame.clientMessageId };
    case 'read':
      return { type: 'read', roomId: frame.roomId, upToSeq: frame.upToSeq };
    case 'typing':
      return { type: 'typing', roomId: frame.roomId };
    case 'resume':
      return { type: 'resume', roomId: frame.roomId };
    case 'auth':
      return { type: 'auth' };
    case 'ping':
      return { type: 'ping' };
    default: {
      const exhaustive: never = frame;
      return exhaustive;
    }
  }
}

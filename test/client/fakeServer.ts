/**
 * A fake chat server for the SDK's unit tests (after centrifuge-js's fakeServer): sockets
 * the test opens, drops and answers frame by frame, so reconnects, refusals and answers
 * matched by request id are tested without a network or a real server. The integration
 * tests (`*.e2e.test.ts`) use the real server instead.
 */
import type { WebSocketConstructor, WebSocketLike } from '../../client/sdk/src';

/* eslint-disable @typescript-eslint/no-explicit-any -- frames are whatever the client sent */
export type Frame = Record<string, any>;

/** One socket as the server sees it. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  /** Frames the client sent on it, parsed. */
  readonly received: Frame[] = [];

  constructor(
    private readonly server: FakeServer,
    readonly url: string,
    readonly protocols: string[],
  ) {}

  // ---- the client's side ----

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const frame = JSON.parse(data) as Frame;
    this.received.push(frame);
    // Answered after the client's call returns, as over a network.
    queueMicrotask(() => this.server.handle(this, frame));
  }

  close(): void {
    this.readyState = 3;
  }

  // ---- the server's side ----

  /** Completes the handshake. */
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Sends a frame to the client. */
  push(frame: Frame): void {
    if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** Closes the socket from the server's side with `code` (1006: cut without a close frame). */
  drop(code = 1006): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code });
  }

  /** Frames of a type the client sent on this socket. */
  sent(type: string): Frame[] {
    return this.received.filter((f) => f.type === type);
  }
}

/** What the server does with a frame by default; a test replaces a type's answer to script it. */
export type Answer = (socket: FakeSocket, frame: Frame) => void;

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  /** Accept each new socket at once (else the test calls accept()). */
  acceptNew = true;
  private seq = new Map<string, number>();
  readonly answers: Record<string, Answer> = {
    ping: (socket, frame) => socket.push({ type: 'pong', ...(frame.id ? { ref: frame.id } : {}) }),
    resume: (socket, frame) => socket.push({ type: 'resumed', roomId: frame.roomId, lastSeq: this.seq.get(frame.roomId) ?? frame.afterSeq, ...(frame.id ? { ref: frame.id } : {}) }),
    read: (socket, frame) => socket.push({ type: 'done', ref: frame.id }),
    typing: (socket, frame) => socket.push({ type: 'done', ref: frame.id }),
    send: (socket, frame) => socket.push({ type: 'ack', clientMessageId: frame.clientMessageId, message: this.store(frame), ...(frame.id ? { ref: frame.id } : {}) }),
    auth: () => undefined,
  };
  /** The user the client signs in as (its messages' senderId). */
  constructor(readonly userId: string) {}

  /** The WebSocket constructor to give the client. */
  get WebSocket(): WebSocketConstructor {
    return socketClassOf(this);
  }

  /** The newest socket. */
  get current(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error('no socket yet');
    return socket;
  }

  /** Every frame of a type the client sent, on every socket. */
  sent(type: string): Frame[] {
    return this.sockets.flatMap((s) => s.sent(type));
  }

  handle(socket: FakeSocket, frame: Frame): void {
    this.answers[frame.type]?.(socket, frame);
  }

  /** A stored message for a send frame: the room's next seq. */
  store(frame: Frame): Frame {
    const seq = (this.seq.get(frame.roomId) ?? 0) + 1;
    this.seq.set(frame.roomId, seq);
    return aMessage(frame.roomId, seq, this.userId, frame.clientMessageId, frame.body);
  }
}

/** A WebSocket class whose sockets join `server`. */
function socketClassOf(server: FakeServer): WebSocketConstructor {
  return class extends FakeSocket {
    constructor(url: string, protocols: string[]) {
      super(server, url, protocols);
      server.sockets.push(this);
      if (server.acceptNew) queueMicrotask(() => this.accept());
    }
  };
}

export function aMessage(roomId: string, seq: number, senderId: string, clientMessageId = `cm-${roomId}-${seq}`, body = `message ${seq}`): Frame {
  return {
    messageId: `m-${roomId}-${seq}`,
    roomId,
    seq,
    senderId,
    body,
    sentAt: new Date(0).toISOString(),
    clientMessageId,
    kind: 'text',
    hidden: false,
    erased: false,
    safety: [],
    attachments: [],
  };
}

/** A token the SDK can read `sub` and `exp` from (the fake server checks nothing). */
export function aToken(userId: string, expiresInSeconds = 3600): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: userId, exp: Math.floor(Date.now() / 1000) + expiresInSeconds })}.sig`;
}

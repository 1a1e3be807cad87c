/** A real `ws` client for the WebSocket suites: it keeps every frame, for a test to wait on. */
import { randomUUID } from 'node:crypto';
import WebSocket, { type ClientOptions } from 'ws';
import { tokenFor } from './tokens';

export const wsUrl = (httpUrl: string): string => `${httpUrl.replace(/^http/, 'ws')}/chat`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- frames are checked field by field in the tests
export type Frame = Record<string, any>;

/** A real `ws` client that keeps every frame it receives, for `next` to pick from in order. */
export class TestClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { binary: true } : (JSON.parse(data.toString()) as Frame));
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame (after those already taken) that matches; frames before it are skipped. */
  next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return this.until(
      () => {
        while (this.cursor < this.frames.length) {
          const frame = this.frames[this.cursor++] as Frame;
          if (match(frame)) return frame;
        }
        return undefined;
      },
      timeoutMs,
      'no matching frame',
    );
  }

  /** Any frame received so far or later that matches, whatever was taken with `next`: for concurrent waiters. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.until(() => this.frames.find(match), timeoutMs, 'no matching frame');
  }

  /**
   * A barrier for checks that something did not come: sends a ping and waits for its pong.
   * The server handles a connection's frames in the order they came, so everything an
   * earlier frame of this client set off on this connection has been sent before the pong.
   */
  async roundTrip(timeoutMs = 5000): Promise<void> {
    const pongsBefore = this.all('pong').length;
    this.send({ type: 'ping' });
    await this.until(() => (this.all('pong').length > pongsBefore ? true : undefined), timeoutMs, 'no pong');
  }

  private async until<T>(found: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting; frames: ${JSON.stringify(this.frames.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame of a type. */
  nextOf(type: string, extra: (frame: Frame) => boolean = () => true, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.type === type && extra(f), timeoutMs);
  }

  /** Frames of a type received so far (taken or not). */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}

/** Opens a client the way a browser does: ["chat.v1", token] as subprotocols. */
export async function connect(
  baseUrl: string,
  userId: string,
  options: {
    token?: string;
    protocols?: string[];
    wsOptions?: ClientOptions;
    /**
     * Called with the socket before it opens, to listen for what may come with the
     * handshake: a ping the server sent at once arrives in the same read as the upgrade
     * and is emitted before `connect` resolves, so a listener added after it misses it.
     */
    beforeOpen?: (ws: WebSocket) => void;
  } = {},
): Promise<TestClient> {
  const token = options.token ?? tokenFor(userId);
  const ws = new WebSocket(wsUrl(baseUrl), options.protocols ?? ['chat.v1', token], options.wsOptions);
  options.beforeOpen?.(ws);
  const client = new TestClient(ws);
  await client.opened;
  return client;
}

/** Sends one message and waits for its ack. */
export async function sendAndAck(client: TestClient, roomId: string, body: string): Promise<Frame> {
  const clientMessageId = randomUUID();
  client.send({ type: 'send', roomId, clientMessageId, body });
  const ack = await client.nextOf('ack', (f) => f.clientMessageId === clientMessageId);
  return ack.message as Frame;
}

/**
 * Sends every body as a message and resolves to their acks, in the order given. A send
 * answered `unavailable` (the server shedding load: a busy CI machine may refuse a
 * burst's tail) is sent again with the same clientMessageId, as the contract tells a
 * client to; any other refusal fails the test.
 */
export async function sendAllAcked(client: TestClient, roomId: string, bodies: string[], timeoutMs = 30_000): Promise<Frame[]> {
  const frameOf = new Map(bodies.map((body) => [randomUUID(), { type: 'send', roomId, clientMessageId: '', body }]));
  for (const [clientMessageId, frame] of frameOf) frame.clientMessageId = clientMessageId;
  let refused: Frame | null = null;
  const onMessage = (data: WebSocket.RawData): void => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.type !== 'error' || !frameOf.has(frame.ref)) return;
    if (frame.code === 'unavailable') setTimeout(() => client.send(frameOf.get(frame.ref)), 50);
    else refused ??= frame;
  };
  client.ws.on('message', onMessage);
  try {
    for (const frame of frameOf.values()) client.send(frame);
    const acks: Frame[] = [];
    for (const clientMessageId of frameOf.keys()) {
      acks.push(await client.waitFor((f) => (f.type === 'ack' && f.clientMessageId === clientMessageId) || refused !== null, timeoutMs));
      if (refused !== null) throw new Error(`a send was refused: ${JSON.stringify(refused)}`);
    }
    return acks;
  } finally {
    client.ws.off('message', onMessage);
  }
}

/**
 * Round trips on each client in turn: a barrier for "nothing else came". A frame the first
 * client sent, and anything the server sent because of it to the later ones, has been
 * written to their sockets before the last pong (frames the store's feed delivers need a
 * marker event of their own instead: see docs/testing.md).
 */
export async function roundTrips(...clients: TestClient[]): Promise<void> {
  for (const client of clients) await client.roundTrip();
}

/** Remembers the clients a test opens and closes them after each test. */
export function closedAfterEach(): (client: TestClient) => TestClient {
  const clients: TestClient[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  return (client) => {
    clients.push(client);
    return client;
  };
}

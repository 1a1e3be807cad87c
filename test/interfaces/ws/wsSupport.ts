/**
 * Helpers for the WebSocket end-to-end suites: a real server on a fresh database,
 * the HTTP calls that set a conversation up, and a `ws` client that collects frames.
 */
import { randomUUID } from 'node:crypto';
import WebSocket, { type ClientOptions } from 'ws';
import { loadConfig } from '../../../src/config';
import type { Logger } from '../../../src/application/ports/logger';
import { start } from '../../../src/main';
import type { GatewayTuning } from '../../../src/interfaces/ws/gateway';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from '../../support/databases';
import { testEnv, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/** Starts a server in this process with WebSocket timings shortened as the test needs. */
export async function startWsServer(
  kind: DatabaseKind,
  options: { env?: Record<string, string>; ws?: Partial<GatewayTuning>; database?: TestDatabase; logger?: Logger } = {},
): Promise<TestServer> {
  const database = options.database ?? (await createTestDatabase(kind));
  const config = loadConfig(testEnv(database, options.env));
  const server = await start(config, { ...(options.ws ? { ws: options.ws } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  return { ...server, database, config };
}

export const wsUrl = (httpUrl: string): string => `${httpUrl.replace(/^http/, 'ws')}/chat`;

export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function http<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

export interface Room {
  roomId: string;
  lenderId: string;
  borrowerId: string;
}

/** A lender's post and a borrower's room on it, made over the HTTP API. */
export async function openRoom(baseUrl: string, lenderId: string, borrowerId: string): Promise<Room> {
  const postId = unique('post');
  const put = await http(baseUrl, 'PUT', `/api/internal/posts/${postId}`, {
    token: TEST_INTERNAL_TOKEN,
    body: { ownerId: lenderId, title: 'Cordless drill' },
  });
  if (put.status !== 200) throw new Error(`upsert post: ${put.status} ${JSON.stringify(put.body)}`);
  const opened = await http<{ room: Room }>(baseUrl, 'POST', '/api/rooms', { token: tokenFor(borrowerId), body: { postId } });
  if (opened.status !== 201) throw new Error(`open room: ${opened.status} ${JSON.stringify(opened.body)}`);
  return opened.body.room;
}

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
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const frame = this.frames[this.cursor++] as Frame;
        if (match(frame)) return frame;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting; frames: ${JSON.stringify(this.frames.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Any frame received so far or later that matches, whatever was taken with `next`: for concurrent waiters. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms`);
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

  /** Waits until no frame has arrived for `quietMs`: to check that something did not come. */
  async settle(quietMs = 300): Promise<void> {
    let seen = -1;
    while (seen !== this.frames.length) {
      seen = this.frames.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}

/** Opens a client the way a browser does: ["chat.v1", token] as subprotocols. */
export async function connect(
  baseUrl: string,
  userId: string,
  options: { token?: string; protocols?: string[]; wsOptions?: ClientOptions } = {},
): Promise<TestClient> {
  const token = options.token ?? tokenFor(userId);
  const client = new TestClient(new WebSocket(wsUrl(baseUrl), options.protocols ?? ['chat.v1', token], options.wsOptions));
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

/** Reads a Prometheus counter off /metrics (0 when absent). */
export async function metric(baseUrl: string, line: string): Promise<number> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
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

/** A logger that keeps what it is given, to check what reaches the log (and at which level). */
export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: 'debug' | 'info' | 'warn' | 'error'; fields: object; message: string }> = [];
  debug(fields: object, message: string): void {
    this.lines.push({ level: 'debug', fields, message });
  }
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
  child(): Logger {
    return this;
  }
  at(level: 'debug' | 'info' | 'warn' | 'error'): Array<{ fields: object; message: string }> {
    return this.lines.filter((l) => l.level === level);
  }
}

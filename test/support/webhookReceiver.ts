/* eslint-disable @typescript-eslint/no-explicit-any -- envelopes are checked field by field in the tests */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DatabaseKind } from './databases';
import { startTestServer, type TestServer } from './server';

/** One request as the receiver got it. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  raw: Buffer;
  body: string;
  json: any;
  at: number;
}

/** How to answer: a status (and headers), or `hang` to never answer (the connection stays open). */
export type Answer = { status: number; headers?: Record<string, string>; delayMs?: number } | 'hang';

/**
 * A real HTTP server on the loopback that records every request it gets and answers
 * as the test says (200 unless told otherwise).
 */
export class HttpReceiver {
  readonly received: Received[] = [];
  answer: (request: Received) => Answer = () => ({ status: 200 });
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HttpReceiver> {
    let receiver: HttpReceiver | null = null;
    const server = createServer((req, res) => receiver?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    receiver = new HttpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return receiver;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const request: Received = { path: req.url ?? '/', headers, raw, body, json, at: Date.now() };
      this.received.push(request);
      const answer = this.answer(request);
      if (answer === 'hang') {
        this.hanging.add(res);
        return;
      }
      const reply = (): void => {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      };
      if (answer.delayMs === undefined) reply();
      else setTimeout(reply, answer.delayMs);
    });
  }

  /** Deliveries of one room, of the given types, in the order they arrived. */
  of(roomId: string, type?: string): Received[] {
    return this.received.filter((r) => r.json?.data?.roomId === roomId && (type === undefined || r.json?.type === type));
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A Standard Webhooks secret: whsec_ and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * A test server on a fresh database that delivers signed webhooks to a receiver of its
 * own (WEBHOOK_URL is the receiver's `/hooks`); `stop` stops both and drops the database.
 */
export async function startServerWithWebhooks(
  kind: DatabaseKind,
  env: Record<string, string> = {},
): Promise<{ server: TestServer; receiver: HttpReceiver; stop(): Promise<void> }> {
  const receiver = await HttpReceiver.start();
  const server = await startTestServer(kind, { env: { WEBHOOK_URL: `${receiver.url}/hooks`, WEBHOOK_SECRET: newWebhookSecret(), ...env } });
  return {
    server,
    receiver,
    stop: async () => {
      await server.close();
      await server.database.drop();
      await receiver.close();
    },
  };
}

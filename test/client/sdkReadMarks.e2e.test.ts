/**
 * The SDK keeps a read mark until the server confirms it: a `read` frame refused (rate,
 * fault) goes again after a pause, one lost with its socket goes again after the reconnect,
 * and one that failed over HTTP is retried. Real sockets against a small server of the
 * test's own that answers `read` frames as the test scripts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { ChatClient, type WebSocketConstructor } from '../../client/sdk/src';
import { eventually } from '../support/http';
import { tokenFor } from '../support/tokens';

interface ReadFrame {
  type: 'read';
  roomId: string;
  upToSeq: number;
}

/**
 * A server that hands every `read` frame it gets, in order, to `answer`: what it returns is
 * sent back; 'drop' closes the connection (1011) without an answer; null answers nothing.
 * `reads` keeps the frames without their request ids (`ids` has those).
 */
async function readServer(answer: (frame: ReadFrame & { id?: string }, nth: number) => object | 'drop' | null) {
  const ids: Array<string | undefined> = [];
  const reads: ReadFrame[] = [];
  let connections = 0;
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/chat', handleProtocols: (offered) => (offered.has('chat.v1') ? 'chat.v1' : false) });
  wss.on('connection', (socket) => {
    connections += 1;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string };
      if (frame.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      if (frame.type !== 'read') return;
      const { id, ...read } = frame as ReadFrame & { id?: string };
      reads.push(read);
      ids.push(id);
      const reply = answer(frame as ReadFrame & { id?: string }, reads.length);
      if (reply === 'drop') socket.close(1011, 'dropped');
      else if (reply !== null) socket.send(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    reads,
    ids,
    connections: () => connections,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

const confirmed = (frame: ReadFrame, userId = 'lena') => ({ type: 'read', roomId: frame.roomId, userId, upToSeq: frame.upToSeq });
/** A refusal naming the frame by its request id (v1.2), or as a server before request ids did (ref `read`). */
const refused = (frame: { id?: string }, legacy = false) => ({ type: 'error', code: 'rate_limited', message: 'too many reads', ref: legacy ? 'read' : frame.id });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function lenaAt(baseUrl: string, fetchImpl?: typeof fetch): ChatClient {
  return new ChatClient({
    baseUrl,
    getToken: async () => tokenFor('lena'),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 50, maxMs: 100 },
    network: null,
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  });
}

describe('the SDK’s read marks', () => {
  it('sends a read mark the server refused again after a pause, and stops once the server confirms it', async () => {
    const server = await readServer((frame, nth) => (nth === 1 ? refused(frame) : confirmed(frame)));
    const lena = lenaAt(server.url);
    try {
      lena.connect();
      await eventually(async () => lena.state.state === 'online', 10_000, 'online');
      await lena.markRead('room-1', 5);
      await eventually(async () => server.reads.length >= 2, 10_000, 'the read mark sent again');
      expect(server.reads).toEqual([
        { type: 'read', roomId: 'room-1', upToSeq: 5 },
        { type: 'read', roomId: 'room-1', upToSeq: 5 },
      ]);
      // Each frame has its own request id.
      expect(new Set(server.ids).size).toBe(2);
      // Confirmed: it is not sent again, and asking for the same mark sends nothing.
      await lena.markRead('room-1', 5);
      await sleep(2_500);
      expect(server.reads).toHaveLength(2);
    } finally {
      lena.close();
      await server.close();
    }
  });

  it('also sends again a mark a server older than request ids refused (ref "read"), confirmed by its read event', async () => {
    const server = await readServer((frame, nth) => (nth === 1 ? refused(frame, true) : confirmed(frame)));
    const lena = lenaAt(server.url);
    try {
      lena.connect();
      await eventually(async () => lena.state.state === 'online', 10_000, 'online');
      await lena.markRead('room-1', 5);
      await eventually(async () => server.reads.length >= 2, 10_000, 'the read mark sent again');
      await sleep(2_500);
      expect(server.reads).toEqual([
        { type: 'read', roomId: 'room-1', upToSeq: 5 },
        { type: 'read', roomId: 'room-1', upToSeq: 5 },
      ]);
    } finally {
      lena.close();
      await server.close();
    }
  });

  it('sends an unanswered read mark again after the reconnect, but not a confirmed one', async () => {
    const server = await readServer((frame, nth) => (nth === 2 ? 'drop' : confirmed(frame)));
    const lena = lenaAt(server.url);
    try {
      lena.connect();
      await eventually(async () => lena.state.state === 'online', 10_000, 'online');
      await lena.markRead('room-1', 3);
      await eventually(async () => server.reads.length === 1, 10_000, 'the first mark');
      await sleep(200);
      await lena.markRead('room-2', 7);
      await eventually(async () => server.connections() === 2 && server.reads.length === 3, 10_000, 'the mark sent again on the new connection');
      expect(server.reads[2]).toEqual({ type: 'read', roomId: 'room-2', upToSeq: 7 });
      await sleep(500);
      expect(server.reads).toHaveLength(3);
    } finally {
      lena.close();
      await server.close();
    }
  });

  it('retries a read mark that failed over HTTP (before the socket is up)', async () => {
    const calls: Array<{ url: string; body: string }> = [];
    const fakeFetch = (async (url: string, init?: RequestInit) => {
      calls.push({ url: String(url), body: String(init?.body) });
      if (calls.length === 1) return new Response(JSON.stringify({ error: { code: 'unavailable', message: 'busy' } }), { status: 503, headers: { 'content-type': 'application/json' } });
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    const lena = lenaAt('http://127.0.0.1:9', fakeFetch);
    try {
      await expect(lena.markRead('room-1', 4)).rejects.toMatchObject({ status: 503 });
      await eventually(async () => calls.length === 2, 10_000, 'the HTTP mark retried');
      expect(calls.map((c) => [c.url, JSON.parse(c.body)])).toEqual([
        ['http://127.0.0.1:9/api/rooms/room-1/read', { upToSeq: 4 }],
        ['http://127.0.0.1:9/api/rooms/room-1/read', { upToSeq: 4 }],
      ]);
      await sleep(1_500);
      expect(calls).toHaveLength(2);
    } finally {
      lena.close();
    }
  });
});

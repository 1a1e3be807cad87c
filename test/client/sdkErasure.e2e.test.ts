/**
 * The client SDK when its user's account, or the other participant's, is erased: real
 * sockets against a small server of the test's own that sends what the service sends
 * then (an `erased` frame to the other participant; close code 4003 to the erased user).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { ChatClient, CloseCodes, markErased, type ChatEvents, type Message, type StateChange, type WebSocketConstructor } from '../../client/sdk/src';
import { eventually } from '../support/http';
import { tokenFor } from '../support/tokens';

/** A server that, on every connection, sends `frames` and then closes with `closeCode` (null: stays open). */
async function scriptedServer(frames: object[], closeCode: number | null): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/chat', handleProtocols: (offered) => (offered.has('chat.v1') ? 'chat.v1' : false) });
  wss.on('connection', (socket) => {
    connections += 1;
    for (const frame of frames) socket.send(JSON.stringify(frame));
    if (closeCode !== null) socket.close(closeCode, 'account erased');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    connections: () => connections,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

function clientOf(baseUrl: string, userId: string): { client: ChatClient; states: StateChange[]; erasures: Array<ChatEvents['erased']> } {
  const client = new ChatClient({
    baseUrl,
    getToken: async () => tokenFor(userId),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 50, maxMs: 100 },
    network: null,
  });
  const watched = { client, states: [] as StateChange[], erasures: [] as Array<ChatEvents['erased']> };
  client.on('state', (s) => watched.states.push(s));
  client.on('erased', (e) => watched.erasures.push(e));
  return watched;
}

describe('the SDK and erasure', () => {
  it('tells the app which user\'s messages in which room are erased', async () => {
    const server = await scriptedServer([{ type: 'erased', roomId: 'room-1', userId: 'bob' }], null);
    const lena = clientOf(server.url, 'lena');
    try {
      lena.client.connect();
      await eventually(async () => lena.erasures.length === 1, 10_000, 'the erased event');
      expect(lena.erasures).toEqual([{ roomId: 'room-1', userId: 'bob' }]);
      expect(lena.client.state.state).toBe('online');
    } finally {
      lena.client.close();
      await server.close();
    }
  });

  it('on close code 4003 stops for good in the `erased` state: no reconnect, and connect() does nothing', async () => {
    const server = await scriptedServer([], CloseCodes.accountErased);
    const bob = clientOf(server.url, 'bob');
    try {
      bob.client.connect();
      await eventually(async () => bob.client.state.state === 'erased', 10_000, 'the erased state');
      expect(bob.client.state).toMatchObject({ state: 'erased', closeCode: 4003, retryInMs: null });
      bob.client.connect();
      expect(bob.client.state.state).toBe('erased');
      expect(server.connections()).toBe(1);
      expect(bob.states.map((s) => s.state)).not.toContain('reconnecting');
    } finally {
      bob.client.close();
      await server.close();
    }
  });

  it('reconnects after another close code from the same server (so the test above would see a reconnect)', async () => {
    const server = await scriptedServer([], CloseCodes.serverError);
    const bob = clientOf(server.url, 'bob');
    try {
      bob.client.connect();
      await eventually(async () => server.connections() >= 2, 10_000, 'a second connection');
      expect(bob.states.map((s) => s.state)).toContain('reconnecting');
    } finally {
      bob.client.close();
      await server.close();
    }
  });
});

describe('markErased', () => {
  const message = (roomId: string, seq: number, senderId: string): Message => ({
    messageId: `${roomId}-${seq}`,
    roomId,
    seq,
    senderId,
    body: `text ${seq}`,
    sentAt: '2026-05-01T09:00:00.000Z',
    clientMessageId: `c${seq}`,
    kind: 'text',
    hidden: false,
    safety: [],
    attachments: [],
  });

  it('erases only that user\'s messages in that room, keeping their seq, ids, sender and time', () => {
    const shown = [message('room-1', 1, 'bob'), message('room-1', 2, 'lena'), message('room-2', 1, 'bob')];
    const after = markErased(shown, { roomId: 'room-1', userId: 'bob' });
    expect(after[0]).toEqual({ ...shown[0], body: '', erased: true });
    expect(after.slice(1)).toEqual(shown.slice(1));
  });
});

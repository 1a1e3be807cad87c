/**
 * Photo messages through the SDK against a real server (in this process, on PostgreSQL):
 * the outbox uploads the photo once, sends the message once with its attachment id, keeps
 * it across a lost connection, and leaves a refused photo `failed` with the server's code.
 */
import WebSocket from 'ws';
import { ChatClient, type Message, type OutgoingMessage, type WebSocketConstructor, type WebSocketLike } from '../../client/sdk/src';
import { as, eventually, openRoom, unique } from '../support/http';
import { aPhoneJpeg, aPng } from '../support/images';
import { startTestServer, type TestServer } from '../support/server';
import { tokenFor } from '../support/tokens';

const MAX_BYTES = 256 * 1024;

interface App {
  client: ChatClient;
  messages: Message[];
  outbox: OutgoingMessage[];
  /** POSTs to an attachments route, as the SDK made them. */
  uploads: number;
  sockets: WebSocketLike[];
}

describe('photo messages through the SDK', () => {
  let server: TestServer;
  const apps: App[] = [];

  /** An SDK client; `cutOnSend` closes the socket as the first `send` frame would go out, so it never reaches the server. */
  function app(userId: string, options: { cutOnSend?: boolean } = {}): App {
    const result: App = { client: null as unknown as ChatClient, messages: [], outbox: [], uploads: 0, sockets: [] };
    let cut = options.cutOnSend === true;
    class CountingWebSocket extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url, protocols);
        result.sockets.push(this as unknown as WebSocketLike);
      }
      override send(data: string): void {
        if (cut && data.includes('"type":"send"')) {
          cut = false;
          this.terminate();
          return;
        }
        super.send(data);
      }
    }
    result.client = new ChatClient({
      baseUrl: server.url,
      getToken: async () => tokenFor(userId),
      WebSocket: CountingWebSocket as unknown as WebSocketConstructor,
      fetch: (input, init) => {
        if (String(input).endsWith('/attachments')) result.uploads += 1;
        return fetch(input, init);
      },
      backoff: { initialMs: 100, maxMs: 500 },
      network: null,
    });
    result.client.on('message', (m) => result.messages.push(m));
    result.client.on('outbox', (o) => result.outbox.push(o));
    result.client.connect();
    apps.push(result);
    return result;
  }

  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { ATTACHMENT_MAX_BYTES: String(MAX_BYTES) } });
  });
  afterEach(() => {
    for (const a of apps.splice(0)) a.client.close();
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  const online = (a: App) => eventually(async () => a.client.state.state === 'online', 15_000, 'the client to be online');

  it('uploads the photo once, sends it once with its attachment, and the other side gets it', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = app(room.borrowerId);
    const lender = app(room.lenderId);
    lender.client.follow(room.roomId, 0);
    await Promise.all([online(borrower), online(lender)]);

    const photo = await aPhoneJpeg(400, 200);
    const queued = borrower.client.sendPhoto(room.roomId, new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), { body: 'the scratch' });
    expect(queued).toMatchObject({ status: 'pending', body: 'the scratch', photo: { bytes: photo.length, loaded: 0, attachment: null, contentType: 'image/jpeg' } });

    await eventually(async () => lender.messages.length === 1, 15_000, 'the lender to get the photo');
    const received = lender.messages[0] as Message;
    expect(received).toMatchObject({ body: 'the scratch', senderId: room.borrowerId, attachments: [{ contentType: 'image/jpeg', width: 200, height: 400 }] });

    const mine = borrower.outbox.filter((o) => o.clientMessageId === queued.clientMessageId);
    // pending (queued) → pending, uploaded (attachment set) → sent, in that order.
    const uploaded = mine.find((o) => o.photo?.attachment != null);
    expect(uploaded).toMatchObject({ status: 'pending', photo: { loaded: photo.length } });
    expect(received.attachments[0]?.attachmentId).toBe(uploaded?.photo?.attachment?.attachmentId);
    expect(mine.at(-1)).toMatchObject({ status: 'sent', message: { seq: 1 } });
    // Without XMLHttpRequest (Node): progress at the start and the end only, never backwards.
    const loaded = mine.map((o) => o.photo?.loaded ?? -1);
    expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
    expect(borrower.uploads).toBe(1);
    expect(borrower.client.unsent(room.roomId)).toEqual([]);
  });

  it('keeps a photo message across a lost connection: sent again after the reconnect, uploaded and stored once', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = app(room.borrowerId, { cutOnSend: true });
    await online(borrower);

    const queued = borrower.client.sendPhoto(room.roomId, new Uint8Array(await aPng(80, 60)));
    expect(queued.photo?.contentType).toBe('application/octet-stream');
    await eventually(async () => borrower.outbox.some((o) => o.clientMessageId === queued.clientMessageId && o.status === 'sent'), 15_000, 'the photo to be sent');

    expect(borrower.sockets.length).toBeGreaterThanOrEqual(2);
    expect(borrower.uploads).toBe(1);
    // The read model follows the store a moment after the ack.
    const history = () => as(server.url, tokenFor(room.borrowerId)).get(`/api/rooms/${room.roomId}/messages?limit=10`);
    await eventually(async () => (await history()).body.messages.length > 0, 10_000, 'the message in the history');
    const messages = (await history()).body.messages;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ body: '', clientMessageId: queued.clientMessageId, attachments: [{ contentType: 'image/png', width: 80, height: 60 }] });
  });

  it('leaves a photo the server refuses failed with its code, and the room goes on', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = app(room.borrowerId);
    await online(borrower);

    const text = borrower.client.sendPhoto(room.roomId, new TextEncoder().encode('not an image, whatever the name says'), { contentType: 'image/jpeg' });
    const huge = borrower.client.sendPhoto(room.roomId, new Uint8Array(MAX_BYTES + 1024), { contentType: 'image/jpeg' });
    const after = borrower.client.send(room.roomId, 'the photos did not go?');

    const final = (id: string) => borrower.outbox.filter((o) => o.clientMessageId === id).at(-1);
    await eventually(async () => final(after.clientMessageId)?.status === 'sent', 15_000, 'the text after them to be sent');
    expect(final(text.clientMessageId)).toMatchObject({ status: 'failed', error: { code: 'unsupported_media_type' } });
    expect(final(huge.clientMessageId)).toMatchObject({ status: 'failed', error: { code: 'payload_too_large' } });
    expect(borrower.client.unsent(room.roomId).map((o) => o.status)).toEqual(['failed', 'failed']);
    expect(borrower.uploads).toBe(2);
  });

  it('uploadPhoto() gives the attachment, reporting progress, or rejects with the refusal', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = app(room.borrowerId);
    const photo = await aPng(32, 32);
    const progress: number[] = [];
    const attachment = await borrower.client.uploadPhoto(room.roomId, new Uint8Array(photo), { onProgress: (p) => progress.push(p.loaded / p.total) });
    expect(attachment).toMatchObject({ contentType: 'image/png', width: 32, height: 32, url: expect.stringMatching(/^\/attachments\//) });
    expect(progress).toEqual([0, 1]);
    await expect(borrower.client.uploadPhoto(room.roomId, new TextEncoder().encode('hello'))).rejects.toMatchObject({
      name: 'ChatApiError',
      status: 415,
      code: 'unsupported_media_type',
    });
  });
});

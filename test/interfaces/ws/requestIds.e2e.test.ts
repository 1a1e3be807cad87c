/**
 * Request ids on frames (v1.2): a client frame may carry `id`, and whatever answers it
 * (`ack`, `resumed`, `pong`, `done` or `error`) names it as `ref`, so a client can match
 * every answer to its request. Without an `id`, the answers are as in v1.1.
 */
import { randomUUID } from 'node:crypto';
import { openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect, type TestClient } from '../../support/ws';

describe('request ids on frames', () => {
  let server: TestServer;
  const track = closedAfterEach();
  const open = async (userId: string): Promise<TestClient> => track(await connect(server.url, userId));

  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { TYPING_INTERVAL: '1ms' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('answers each frame that carries an id with ref: id (ack, done for read and typing, resumed, pong)', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const [borrower, lender] = [await open(room.borrowerId), await open(room.lenderId)];

    const clientMessageId = randomUUID();
    borrower.send({ type: 'send', id: 's-1', roomId: room.roomId, clientMessageId, body: 'free on Saturday?' });
    expect(await borrower.nextOf('ack')).toMatchObject({ type: 'ack', ref: 's-1', clientMessageId, message: { seq: 1 } });

    await lender.nextOf('message');
    lender.send({ type: 'read', id: 'r-1', roomId: room.roomId, upToSeq: 1 });
    expect(await lender.nextOf('done')).toEqual({ type: 'done', ref: 'r-1' });
    // A read that changes nothing is answered with where it stands, and done all the same.
    lender.send({ type: 'read', id: 'r-2', roomId: room.roomId, upToSeq: 1 });
    expect(await lender.nextOf('done', (f) => f.ref === 'r-2')).toEqual({ type: 'done', ref: 'r-2' });

    lender.send({ type: 'typing', id: 't-1', roomId: room.roomId });
    expect(await lender.nextOf('done', (f) => f.ref === 't-1')).toEqual({ type: 'done', ref: 't-1' });
    expect(await borrower.nextOf('typing')).toEqual({ type: 'typing', roomId: room.roomId, userId: room.lenderId });

    lender.send({ type: 'resume', id: 'x-1', roomId: room.roomId, afterSeq: 0 });
    expect(await lender.nextOf('resumed')).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 1, ref: 'x-1' });

    // The id is any string of 1 to 64 characters.
    const longId = 'é'.repeat(64);
    lender.send({ type: 'ping', id: longId });
    expect(await lender.nextOf('pong')).toEqual({ type: 'pong', ref: longId });
  });

  it('answers as in v1.1 when a frame has no id: no ref on ack, resumed or pong, no done', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = await open(room.borrowerId);
    const clientMessageId = randomUUID();
    borrower.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'hello' });
    expect(Object.keys(await borrower.nextOf('ack')).sort()).toEqual(['clientMessageId', 'message', 'type']);
    borrower.send({ type: 'read', roomId: room.roomId, upToSeq: 1 });
    borrower.send({ type: 'typing', roomId: room.roomId });
    borrower.send({ type: 'resume', roomId: room.roomId, afterSeq: 1 });
    expect(await borrower.nextOf('resumed')).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 1 });
    borrower.send({ type: 'ping' });
    expect(await borrower.nextOf('pong')).toEqual({ type: 'pong' });
    expect(borrower.all('done')).toEqual([]);
    expect(borrower.all('error')).toEqual([]);
  });

  it('names the id as the ref of every error answering such a frame', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const stranger = await open(unique('stranger'));
    const borrower = await open(room.borrowerId);

    // Refused by the domain: not a participant (a room not theirs is not found).
    stranger.send({ type: 'read', id: 'r-9', roomId: room.roomId, upToSeq: 1 });
    expect(await stranger.nextOf('error')).toMatchObject({ code: 'not_found', ref: 'r-9' });
    stranger.send({ type: 'resume', id: 'x-9', roomId: room.roomId, afterSeq: 0 });
    expect(await stranger.nextOf('error', (f) => f.ref === 'x-9')).toMatchObject({ code: 'not_found' });
    stranger.send({ type: 'send', id: 's-9', roomId: room.roomId, clientMessageId: randomUUID(), body: 'hi' });
    expect(await stranger.nextOf('error', (f) => f.ref === 's-9')).toMatchObject({ code: 'not_found' });
    stranger.send({ type: 'typing', id: 't-9', roomId: room.roomId });
    expect(await stranger.nextOf('error', (f) => f.ref === 't-9')).toMatchObject({ code: 'not_found' });
    expect(stranger.all('done')).toEqual([]);

    // Refused by validation: a field missing, or a type nobody knows.
    borrower.send({ type: 'read', id: 'r-10', roomId: room.roomId });
    expect(await borrower.nextOf('error')).toMatchObject({ code: 'bad_request', ref: 'r-10', message: expect.stringMatching(/^upToSeq: /) });
    borrower.send({ type: 'wave', id: 'w-1' });
    expect(await borrower.nextOf('error', (f) => f.ref === 'w-1')).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/unknown frame type/) });
    // Refused for the token: an auth frame's error names its id too.
    borrower.send({ type: 'auth', id: 'a-1', token: 'not-a-token' });
    expect(await borrower.nextOf('error', (f) => f.ref === 'a-1')).toMatchObject({ code: 'unauthorized' });
  });

  it('refuses an id that is not a string of 1 to 64 characters, naming it, with the ref a frame without an id gets', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = await open(room.borrowerId);
    const clientMessageId = randomUUID();
    const bad: unknown[] = ['', 'x'.repeat(65), 42, null, ['a']];
    for (const id of bad) {
      borrower.send({ type: 'send', id, roomId: room.roomId, clientMessageId, body: 'hi' });
      expect(await borrower.nextOf('error')).toMatchObject({ code: 'bad_request', ref: clientMessageId, message: 'id: must be a string of 1 to 64 characters' });
      borrower.send({ type: 'ping', id });
      expect(await borrower.nextOf('error')).toMatchObject({ code: 'bad_request', ref: 'ping', message: 'id: must be a string of 1 to 64 characters' });
    }
    // Nothing was sent, and the socket is still open.
    expect(borrower.all('ack')).toEqual([]);
    borrower.send({ type: 'ping', id: 'p' });
    expect(await borrower.nextOf('pong')).toEqual({ type: 'pong', ref: 'p' });
  });
});

import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import { as, eventually, openRoom, unique } from '../../support/http';
import { spawnServer, stopServer, type ServerProcess } from '../../support/serverProcess';
import { tokenFor } from '../../support/tokens';
import { connect } from '../../support/ws';

/**
 * A TCP relay in front of PostgreSQL that the test can cut (every connection dropped,
 * new ones closed at once) and restore: the database "unreachable" for the server, as a
 * network partition or a database restart would make it, without stopping the shared one.
 */
class Relay {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async to(host: string, port: number): Promise<Relay> {
    let relay: Relay | null = null;
    const server = createServer((client) => {
      if (relay === null || relay.cut) return void client.destroy();
      const upstream = new Socket();
      upstream.connect(port, host);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.on('data', (chunk) => b.write(chunk));
        a.on('error', () => b.destroy());
        a.on('close', () => b.destroy());
        relay.sockets.add(a);
        a.on('close', () => relay?.sockets.delete(a));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    relay = new Relay(server, (server.address() as AddressInfo).port);
    return relay;
  }

  sever(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * The contract: "`unavailable` (503 with Retry-After): overloaded or the store is
 * unreachable; nothing was done, retry". With PostgreSQL out of reach a client is told
 * to retry, over HTTP and WebSocket alike, not handed a server fault; the server keeps
 * running, and once the database is back the same requests succeed, a retried send once.
 */
describe('PostgreSQL out of reach', () => {
  let database: TestDatabase;
  let relay: Relay;
  let server: ServerProcess | null = null;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    if (server !== null) await stopServer(server);
    await relay?.close();
    await database?.drop();
  });

  it('answers unavailable with Retry-After while it is gone, and serves the same requests once it is back', async () => {
    if (database.url === null) {
      // createTestDatabase fell back to PGlite: there is no network to cut.
      console.warn('skipped: no PostgreSQL server for this test (TEST_DATABASE_URL unset)');
      return;
    }
    const target = new URL(database.url);
    relay = await Relay.to(target.hostname, Number(target.port || 5432));
    const viaRelay = new URL(database.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    server = await spawnServer(database, { DATABASE_URL: viaRelay.toString() });

    const lender = unique('lender');
    const borrower = unique('borrower');
    const room = await openRoom(server.url, lender, borrower);
    const socket = await connect(server.url, borrower);

    relay.sever();

    const list = await as(server.url, tokenFor(borrower)).get('/api/rooms');
    expect(list.status).toBe(503);
    expect(list.body.error.code).toBe('unavailable');
    expect(Number(list.headers.get('retry-after'))).toBeGreaterThan(0);

    const send = { clientMessageId: unique('cmid'), body: 'Is the drill free on Saturday?' };
    const refused = await as(server.url, tokenFor(borrower)).post(`/api/rooms/${room.roomId}/messages`, send);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');

    socket.send({ type: 'send', id: 'r1', roomId: room.roomId, clientMessageId: unique('cmid'), body: 'over the socket' });
    const frame = await socket.nextOf('error', (f) => f.ref === 'r1', 20_000);
    expect(frame.code).toBe('unavailable');

    relay.restore();

    // Back: the refused send, retried as a client would, is stored once.
    let stored: { status: number; body: { message: { messageId: string } } } = { status: 0, body: { message: { messageId: '' } } };
    await eventually(async () => {
      stored = await as(server!.url, tokenFor(borrower)).post(`/api/rooms/${room.roomId}/messages`, send);
      return stored.status === 201 || stored.status === 200;
    }, 30_000, 'the send to succeed once the database is back');
    const again = await as(server.url, tokenFor(borrower)).post(`/api/rooms/${room.roomId}/messages`, send);
    expect(again.status).toBe(200);
    expect(again.body.message.messageId).toBe(stored.body.message.messageId);
    const history = await as(server.url, tokenFor(lender)).get(`/api/rooms/${room.roomId}/messages`);
    expect(history.status).toBe(200);
    expect(history.body.messages.filter((m: { body: string }) => m.body === send.body)).toHaveLength(1);
    socket.close();
  }, 90_000);

  it('stops on SIGTERM within the 20 s operators are told to allow, with the database gone', async () => {
    if (server === null) return; // the first case skipped or failed before starting one
    relay.sever();
    const stopping = server;
    server = null;
    stopping.child.kill('SIGTERM');
    const outcome = await Promise.race([
      stopping.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000)),
    ]);
    if (outcome === 'still running') stopping.child.kill('SIGKILL');
    expect(outcome).toEqual({ code: 0, signal: null });
  }, 40_000);
});

/**
 * An erasure as the participants live it, on PostgreSQL and on embedded PGlite: the erased
 * user's socket closes with 4003 and their token is refused (HTTP and the WebSocket
 * handshake); the other participant gets `erased` live and reads the messages erased in
 * history, in order, seqs unchanged. Across two processes: multiProcess.e2e.test.ts.
 */
import { databaseKinds } from '../../support/databases';
import { expectLiveErasure } from '../../support/erasure';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect } from '../../support/ws';

describe.each(databaseKinds)('an erasure, live, on %s', (kind) => {
  let server: TestServer;
  const track = closedAfterEach();
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  it('closes the erased user with 4003, refuses their token, and tells the other participant', async () => {
    await expectLiveErasure({ askAt: server.url, chatAt: server.url }, async (url, userId) => track(await connect(url, userId)));
  }, 120_000);
});

/**
 * The erasure process survives kill -9: a real server process erasing a user with
 * thousands of messages is SIGKILLed in the middle of the process (held inside a step by
 * a trigger), started again on the same database, and finishes the erasure by itself.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, withConnection, type TestDatabase } from '../../support/databases';
import { as, eventually, openRoom, unique } from '../../support/http';
import { runCli } from '../../support/auditCli';
import { spawnServer, type ServerProcess } from '../../support/serverProcess';
import { TEST_INTERNAL_TOKEN } from '../../support/tokens';
import { connect, sendAllAcked } from '../../support/ws';

const MESSAGES = 2000;
/** Holds the erasure inside its push step (deleting the user's subscriptions) until dropped. */
const HOLD = [
  `CREATE FUNCTION erasure_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(600); RETURN NULL; END $$`,
  `CREATE TRIGGER erasure_test_hold BEFORE DELETE ON push_subscriptions FOR EACH STATEMENT EXECUTE FUNCTION erasure_test_hold()`,
];
const RELEASE = [`DROP TRIGGER erasure_test_hold ON push_subscriptions`, `DROP FUNCTION erasure_test_hold()`];

describe('an erasure killed mid-way (postgres)', () => {
  let database: TestDatabase;
  let server: ServerProcess | null = null;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    if (server !== null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await database?.drop();
  });

  it('completes after a restart', async () => {
    server = await spawnServer(database);
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(server.url, lena, bob);
    const marker = randomUUID().slice(0, 8);
    const socket = await connect(server.url, bob);
    await sendAllAcked(socket, room.roomId, Array.from({ length: MESSAGES }, (_, i) => `crash${marker}n${i}`), 240_000);
    socket.close();

    await withConnection(database, async (db) => {
      for (const statement of HOLD) await db.query(statement);
    });
    const asked = await as(server.url, TEST_INTERNAL_TOKEN).post(`/api/internal/users/${bob}/erasure`);
    expect(asked.status).toBe(202);
    const erasureId: string = asked.body.erasure.erasureId;
    // Killed once the steps before the push step are recorded done.
    await eventually(
      () =>
        withConnection(database, async (db) => {
          const row = await db.query<{ steps: string[] }>(`SELECT steps_done AS steps FROM user_erasures WHERE erasure_id = $1`, [erasureId]);
          return (row.rows[0]?.steps ?? []).includes('outbox');
        }),
      120_000,
      'the erasure to reach its push step',
    );
    server.child.kill('SIGKILL');
    expect((await server.exited).signal).toBe('SIGKILL');
    server = null;
    await withConnection(database, async (db) => {
      // The killed server's held statement is ended with it; the hold goes.
      await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      for (const statement of RELEASE) await db.query(statement);
      const pending = await db.query<{ status: string }>(`SELECT status FROM user_erasures WHERE erasure_id = $1`, [erasureId]);
      expect(pending.rows[0]?.status).toBe('pending');
    });

    // The lease of the killed process runs out (a minute at most); the new process takes it over.
    server = await spawnServer(database);
    const url = server.url;
    let erasure: { status: string; counts: unknown } | null = null;
    await eventually(async () => {
      erasure = (await as(url, TEST_INTERNAL_TOKEN).get(`/api/internal/erasures/${erasureId}`)).body.erasure;
      return erasure?.status === 'done';
    }, 150_000, 'the erasure to complete after the restart');
    expect(erasure).toMatchObject({ status: 'done', counts: { rooms: 1, messages: MESSAGES } });
    await withConnection(database, async (db) => {
      const left = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM rm_messages WHERE sender_id = $1 AND (body <> '' OR NOT erased)`, [bob]);
      expect(left.rows[0]?.n).toBe('0');
      const live = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM data_keys WHERE sender_id = $1 AND destroyed_at IS NULL`, [bob]);
      expect(live.rows[0]?.n).toBe('0');
      const erased = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM events WHERE stream_id = $1 AND event_type = 'UserErased'`, [`user-${bob}`]);
      expect(erased.rows[0]?.n).toBe('1');
    });
    expect((await runCli(database, ['verify'])).code).toBe(0);
  }, 600_000);
});

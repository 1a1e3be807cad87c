import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';
import { withConnection, type TestDatabase } from './databases';
import { as, eventually, openRoom, unique } from './http';
import { TEST_INTERNAL_TOKEN, tokenFor } from './tokens';
import { connect, sendAndAck, type Frame, type TestClient } from './ws';

const run = promisify(execFile);

/**
 * Everything the database holds, as text: `pg_dump` of a PostgreSQL database, or every
 * row of every table of a PGlite one (with PGlite, only while no server has it open).
 */
export async function dumpDatabase(database: TestDatabase): Promise<string> {
  if (database.url !== null) {
    const { stdout } = await run('pg_dump', ['--no-owner', '--no-privileges', database.url], { maxBuffer: 512 * 1024 * 1024 });
    return stdout;
  }
  return withConnection(database, async (db) => {
    const tables = await db.query<{ name: string }>(
      `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    const parts: string[] = [];
    for (const { name } of tables.rows) {
      const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
      parts.push(`-- ${name}`, ...rows.rows.map((r) => r.row));
    }
    return parts.join('\n');
  });
}

/** Every event row exactly as stored (data and metadata as the database prints them), in order. */
export async function eventRows(db: SqlDatabase): Promise<string[]> {
  const result = await db.query<{ row: string }>(
    `SELECT concat_ws('|', global_position, transaction_id, stream_id, stream_revision, event_id, event_type, data::text, metadata::text, recorded_at) AS row
       FROM events ORDER BY global_position`,
  );
  return result.rows.map((r) => r.row);
}

/**
 * An erasure as the participants live it. Lena and bob chat through `chatAt`; the
 * marketplace asks `askAt` (the same process, or another on the same database) to erase
 * bob. Then on `chatAt`: bob's socket closes with 4003; his token is refused over HTTP
 * (401) and at the WebSocket handshake; lena gets `erased` live and reads his messages
 * erased in history, in order, seqs unchanged, hers untouched; the erasure completes and
 * her socket goes on. `open` connects a user and keeps the client for the suite to close.
 */
export async function expectLiveErasure(
  { askAt, chatAt }: { askAt: string; chatAt: string },
  open: (url: string, userId: string) => Promise<TestClient>,
): Promise<void> {
  const lena = unique('lena');
  const bob = unique('bob');
  const room = await openRoom(askAt, lena, bob);
  const lenaSocket = await open(chatAt, lena);
  const bobSocket = await open(chatAt, bob);
  await sendAndAck(bobSocket, room.roomId, 'is the drill free on Saturday?');
  await sendAndAck(lenaSocket, room.roomId, 'yes, from 9');
  await sendAndAck(bobSocket, room.roomId, 'great, my number is 010-1234');
  await lenaSocket.nextOf('message', (f) => f.message.seq === 3);

  const asked = await as(askAt, TEST_INTERNAL_TOKEN).post(`/api/internal/users/${bob}/erasure`);
  expect(asked.status).toBe(202);

  const closed = await Promise.race([bobSocket.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000).unref())]);
  expect(closed?.code ?? 'still open after 15 s').toBe(4003);
  expect(await lenaSocket.nextOf('erased', () => true, 15_000)).toEqual({ type: 'erased', roomId: room.roomId, userId: bob });
  expect((await as(chatAt, tokenFor(bob)).get('/api/rooms')).status).toBe(401);
  await expect(connect(chatAt, bob)).rejects.toThrow(/401/);

  const history = await as(chatAt, tokenFor(lena)).get(`/api/rooms/${room.roomId}/messages`);
  expect(history.body.messages.map((m: Frame) => [m.seq, m.senderId, m.body, m.erased])).toEqual([
    [1, bob, '', true],
    [2, lena, 'yes, from 9', false],
    [3, bob, '', true],
  ]);
  await eventually(async () => {
    const read = await as(chatAt, TEST_INTERNAL_TOKEN).get(`/api/internal/erasures/${asked.body.erasure.erasureId}`);
    return read.body.erasure.status === 'done';
  }, 60_000, 'the erasure to be done');
  await sendAndAck(lenaSocket, room.roomId, 'hello?');
}

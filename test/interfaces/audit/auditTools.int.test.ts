import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomIds } from '../../../src/application/ports/ids';
import { silentLogger } from '../../../src/application/ports/logger';
import { makePostCommands } from '../../../src/application/post/postCommands';
import { makeRoomCommands, type Actor } from '../../../src/application/room/roomCommands';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { chatProjection } from '../../../src/infrastructure/readModels/chatProjection';
import { ProjectionRunner } from '../../../src/infrastructure/readModels/projectionRunner';
import { runCli } from '../../support/auditCli';
import { createTestDatabase, databaseKinds, withConnection, type TestDatabase } from '../../support/databases';
import { eventually } from '../../support/http';
import { ManualClock } from '../../support/server';

/** export, room-at and rebuild-check, run as `npm run audit -- …` would run them, on a real store. */
describe.each(databaseKinds)('the audit tools on %s', (kind) => {
  let tdb: TestDatabase;
  const clock = new ManualClock(new Date('2026-04-01T08:00:00.000Z'));
  const lena: Actor = { userId: `lena-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
  const bob: Actor = { userId: `bob-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
  const otherBorrower: Actor = { userId: `cara-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
  let roomId: string;
  let otherRoomId: string;

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    const postId = `post-${randomUUID().slice(0, 8)}`;
    await withConnection(tdb, async (db) => {
      await migrateDatabase(db);
      const eventStore = new PostgresEventStore(db);
      const commands = makeRoomCommands({ eventStore, clock, ids: randomIds });
      await makePostCommands({ eventStore, clock, ids: randomIds }).upsertPost({ postId, ownerId: lena.userId, title: 'Ladder' }, randomUUID());
      roomId = (await commands.openRoom(postId, bob)).room.roomId; // 08:00
      clock.set(new Date('2026-04-01T09:00:00.000Z'));
      await commands.sendMessage({ roomId, clientMessageId: 'm1', body: 'How tall is it?' }, bob);
      clock.set(new Date('2026-04-01T10:00:00.000Z'));
      await commands.sendMessage({ roomId, clientMessageId: 'm2', body: 'Four metres.' }, lena);
      await commands.markRead(roomId, 2, bob);
      clock.set(new Date('2026-04-01T11:00:00.000Z'));
      await commands.block(roomId, lena);
      otherRoomId = (await commands.openRoom(postId, otherBorrower)).room.roomId;
      await commands.sendMessage({ roomId: otherRoomId, clientMessageId: 'c1', body: 'Still available?' }, otherBorrower);
      // The live read models, as a running server would have them.
      const projection = new ProjectionRunner({ projection: chatProjection, db, eventStore, logger: silentLogger });
      // Until every event is in: on a shared server another suite's open transaction may hold some back for a moment.
      await eventually(async () => {
        await projection.catchUp();
        return projection.caughtUp();
      });
    });
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  const lines = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line));

  describe('export', () => {
    it('writes a room\'s events as JSON Lines exactly as recorded, one a line, in revision order', async () => {
      const result = await runCli(tdb, ['export', '--room', roomId]);
      expect(result.code).toBe(0);
      const exported = lines(result.stdout);
      const stored = await withConnection(tdb, (db) => new PostgresEventStore(db).readStream(`room-${roomId}`));
      expect(exported).toEqual(
        stored.map((e) => ({
          streamId: e.streamId,
          streamRevision: Number(e.streamRevision),
          globalPosition: Number(e.globalPosition),
          eventId: e.eventId,
          type: e.type,
          data: e.data,
          metadata: e.metadata,
        })),
      );
      expect(exported.map((e) => e.type)).toEqual(['RoomOpened', 'MessageSent', 'MessageSent', 'MessagesRead', 'RoomBlocked']);
    });

    it('exports every stream with --all, and only a window of recorded times with --from and --to', async () => {
      const all = lines((await runCli(tdb, ['export', '--all'])).stdout);
      expect(new Set(all.map((e) => e.streamId))).toEqual(new Set([`room-${roomId}`, `room-${otherRoomId}`, expect.stringMatching(/^post-/)]));
      const positions = all.map((e) => e.globalPosition as number);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      const window = lines((await runCli(tdb, ['export', '--room', roomId, '--from', '2026-04-01T09:00:00Z', '--to', '2026-04-01T11:00:00Z'])).stdout);
      expect(window.map((e) => e.type)).toEqual(['MessageSent', 'MessageSent', 'MessagesRead']);
    });

    it('is verified by the standalone script in docs/audit.md, which also catches an edited line', async () => {
      const doc = readFileSync(path.join(__dirname, '../../../docs/audit.md'), 'utf8');
      const script = /### Checking it yourself[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1] as string;
      expect(script.split('\n').length).toBeLessThanOrEqual(25);
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'audit-script-')), 'verify-export.js');
      writeFileSync(file, script);
      const exported = (await runCli(tdb, ['export', '--all'])).stdout;
      const clean = spawnSync(process.execPath, [file], { input: exported, encoding: 'utf8' });
      expect([clean.status, clean.stdout]).toEqual([0, 'OK: 3 streams\n']);
      const edited = exported.replace('Four metres.', 'Five metres.');
      const caught = spawnSync(process.execPath, [file], { input: edited, encoding: 'utf8' });
      expect([caught.status, caught.stdout]).toEqual([1, `FAIL room-${roomId} revision 2\n1 bad events\n`]);
    });

    it('refuses bad input with one line and exit 2: no room chosen, an unknown room, a bad date', async () => {
      const neither = await runCli(tdb, ['export']);
      expect([neither.code, neither.stderr.trim()]).toEqual([2, 'audit: export needs either --room <roomId> or --all']);
      const unknown = await runCli(tdb, ['export', '--room', randomUUID()]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^audit: room .* not found\n$/);
      const badDate = await runCli(tdb, ['export', '--all', '--from', 'last tuesday']);
      expect(badDate.code).toBe(2);
      expect(badDate.stderr.trim().split('\n')).toHaveLength(1);
      expect(badDate.stderr).toContain("option '--from <iso>' argument 'last tuesday' is invalid");
      expect(unknown.stdout + badDate.stdout).toBe('');
    });
  });

  describe('room-at', () => {
    const at = async (instant: string) => {
      const result = await runCli(tdb, ['room-at', '--room', roomId, '--at', instant]);
      return { ...result, room: result.code === 0 ? JSON.parse(result.stdout) : null };
    };

    it('shows the room as it stood at each instant: participants, messages so far, read marks, blocks', async () => {
      const justOpened = (await at('2026-04-01T08:30:00Z')).room;
      expect(justOpened).toMatchObject({ status: 'open', participants: [lena.userId, bob.userId], messages: [], blocks: [], asOfRevision: 0 });
      expect(justOpened.lastReadSeq).toEqual({ [lena.userId]: 0, [bob.userId]: 0 });

      const afterFirst = (await at('2026-04-01T09:30:00+00:00')).room;
      expect(afterFirst.messages.map((m: { body: string }) => m.body)).toEqual(['How tall is it?']);

      const afterRead = (await at('2026-04-01T10:30:00Z')).room;
      expect(afterRead.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
      expect(afterRead.lastReadSeq[bob.userId]).toBe(2);
      expect(afterRead.blocks).toEqual([]);

      const now = (await at('2026-04-01T12:00:00Z')).room;
      expect(now.blocks).toEqual([{ blockerId: lena.userId, blockedId: bob.userId }]);
      expect(now.asOfRevision).toBe(4);
    });

    it('says so, with exit 2, for an instant before the room opened and for an unknown room', async () => {
      const before = await at('2026-04-01T07:59:59Z');
      expect(before.code).toBe(2);
      expect(before.stderr.trim()).toBe(`audit: room ${roomId} was not open yet at 2026-04-01T07:59:59.000Z`);
      const unknown = await runCli(tdb, ['room-at', '--room', randomUUID(), '--at', '2026-04-01T12:00:00Z']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/not found/);
    });
  });

  describe('rebuild-check', () => {
    it('finds the rebuilt read models equal to the live ones, and leaves no scratch tables behind', async () => {
      const result = await runCli(tdb, ['rebuild-check']);
      expect(result.stdout).toMatch(/^EQUAL: replayed 8 events up to checkpoint \S+, 0 rows differ$/m);
      expect(result.code).toBe(0);
      const schemas = await withConnection(tdb, (db) =>
        db.query(`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'rebuild_check_%'`),
      );
      expect(schemas.rows).toEqual([]);
    });

    it('names the table, row and column once a live read-model row has been edited, and exits 1', async () => {
      await withConnection(tdb, async (db) => {
        await db.query(`UPDATE rm_messages SET body = 'Five metres.' WHERE room_id = $1 AND seq = 2`, [roomId]);
        await db.query(`DELETE FROM rm_room_members WHERE room_id = $1 AND user_id = $2`, [otherRoomId, otherBorrower.userId]);
      });
      const result = await runCli(tdb, ['rebuild-check']);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`rm_messages {"room_id":"${roomId}","seq":2}: body live "Five metres.", rebuilt "Four metres."`);
      expect(result.stdout).toContain(`rm_room_members {"room_id":"${otherRoomId}","user_id":"${otherBorrower.userId}"}: only in the rebuilt read models`);
      expect(result.stdout).toMatch(/^DIFFERENT: .* 2 rows differ$/m);
      // The live tables were only read: the edit is still there.
      const body = await withConnection(tdb, (db) => db.query<{ body: string }>(`SELECT body FROM rm_messages WHERE room_id = $1 AND seq = 2`, [roomId]));
      expect(body.rows[0]?.body).toBe('Five metres.');
    });
  });

  it('answers an unreachable store with one line and exit 2', async () => {
    const result = await runCli(tdb, ['verify'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^audit: configuration error: DATABASE_URL cannot be reached: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

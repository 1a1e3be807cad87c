import { createHash, createHmac, randomUUID } from 'node:crypto';
import { anchorMac } from '../../../src/application/audit/anchors';
import { canonicalJson, eventHash } from '../../../src/application/audit/hashChain';
import { streamEvents } from '../../../src/application/audit/records';
import { sealEvents } from '../../../src/application/audit/sealing';
import type { EventMetadata, RecordedEvent } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';
import { makePostCommands } from '../../../src/application/post/postCommands';
import { makeRoomCommands, type Actor } from '../../../src/application/room/roomCommands';
import { ANCHOR_STREAM, type AuditAnchored } from '../../../src/domain/audit';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import type { SqlDatabase, SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { runCli } from '../../support/auditCli';
import { createTestDatabase, databaseKinds, withConnection, type TestDatabase } from '../../support/databases';
import { ManualClock } from '../../support/server';
import { tamperWithEvents } from '../../support/tamper';

const OLD_KEY = 'the-anchor-key-we-started-with-0123456789';
const NEW_KEY = 'the-anchor-key-that-replaces-it-9876543210';
/** The key id as docs/audit.md tells an auditor to compute it: `printf %s "$KEY" | sha256sum | cut -c1-16`. */
const idOf = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 16);

/**
 * Rotating AUDIT_ANCHOR_KEY as docs/audit.md lays it out: list the new key first, let an
 * anchor be signed with it, then retire the old one. Anchors written before keys had
 * ids, with the one key there was, keep verifying throughout.
 */
describe.each(databaseKinds)('rotating the audit anchor key, on %s', (kind) => {
  let tdb: TestDatabase;
  const clock = new ManualClock(new Date('2026-05-01T09:00:00.000Z'));
  const lena: Actor = { userId: `lena-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
  const bob: Actor = { userId: `bob-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
  const postId = `post-${randomUUID().slice(0, 8)}`;
  let roomId: string;
  let sent = 0;

  const cli = (key: string, ...args: string[]) => runCli(tdb, args, { AUDIT_ANCHOR_KEY: key });
  const anchors = (): Promise<RecordedEvent[]> =>
    withConnection(tdb, async (db) => {
      const events: RecordedEvent[] = [];
      for await (const event of streamEvents(new PostgresEventStore(db), ANCHOR_STREAM)) events.push(event);
      return events;
    });
  const send = (): Promise<unknown> =>
    withConnection(tdb, (db) =>
      makeRoomCommands({ eventStore: new PostgresEventStore(db), clock, ids: randomIds }).sendMessage({ roomId, clientMessageId: `m${++sent}`, body: `message ${sent}` }, bob),
    );

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    await withConnection(tdb, async (db) => {
      await migrateDatabase(db);
      const eventStore = new PostgresEventStore(db);
      await makePostCommands({ eventStore, clock, ids: randomIds }).upsertPost({ postId, ownerId: lena.userId, title: 'Tent' }, randomUUID());
      roomId = (await makeRoomCommands({ eventStore, clock, ids: randomIds }).openRoom(postId, bob)).room.roomId;
      await appendAnchorAsWrittenBeforeKeyIds(db, OLD_KEY, clock.now().toISOString());
    });
    await send();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('keeps verifying an anchor written before keys had ids, and names the signing key in new anchors', async () => {
    const verified = await cli(OLD_KEY, 'verify');
    expect(verified.stdout).toMatch(/^OK: /m);
    expect(verified.code).toBe(0);
    expect((await cli(OLD_KEY, 'anchor')).code).toBe(0);
    const [legacy, signed] = await anchors();
    expect((legacy?.data as AuditAnchored['data']).keyId).toBeUndefined();
    expect(signed?.data).toMatchObject({ keyId: idOf(OLD_KEY), prevAnchorHash: legacy?.metadata.hash });
  });

  it('with the new key listed first, verifies the old anchors with the old key and signs new ones with the new key', async () => {
    expect((await cli(`${NEW_KEY},${OLD_KEY}`, 'verify')).code).toBe(0);
    // Retired too early, before any anchor is signed with the new key: nothing vouches for the old anchors.
    const early = await cli(NEW_KEY, 'verify');
    expect(early.stdout).toContain(`FAIL stream ${ANCHOR_STREAM} at revision 0: anchor_mac: its HMAC verifies with no key AUDIT_ANCHOR_KEY lists`);
    expect(early.code).toBe(1);
    const notOnTop = await cli(NEW_KEY, 'anchor');
    expect(notOnTop.stderr).toContain('the last anchor (revision 1) does not verify with any key AUDIT_ANCHOR_KEY lists');
    expect(notOnTop.code).toBe(2);
    await send();
    expect((await cli(`${NEW_KEY},${OLD_KEY}`, 'anchor')).code).toBe(0);
    const all = await anchors();
    expect(all.map((a) => (a.data as AuditAnchored['data']).keyId)).toEqual([undefined, idOf(OLD_KEY), idOf(NEW_KEY)]);
    const both = await cli(`${NEW_KEY},${OLD_KEY}`, 'verify');
    expect(both.stdout).toMatch(/^OK: /m);
    expect(both.stdout).toContain(`anchor head: revision 2 mac ${(all[2]?.data as AuditAnchored['data']).mac}`);
    expect(both.code).toBe(0);
  });

  it('once an anchor signed with the new key exists, retires the old key: every anchor still verifies and still guards its streams', async () => {
    const retired = await cli(NEW_KEY, 'verify');
    expect(retired.stdout).toMatch(/^OK: /m);
    expect(retired.stdout).toContain('anchor head: revision 2 ');
    expect(retired.code).toBe(0);
    // The post was anchored only by the anchor written before key ids, with the old key:
    // deleting its one event is still caught with the new key alone.
    await withConnection(tdb, (owner) => tamperWithEvents(owner, (db) => db.query(`DELETE FROM events WHERE stream_id = $1`, [`post-${postId}`])));
    const cut = await cli(NEW_KEY, 'verify');
    expect(cut.stdout).toContain(`FAIL stream post-${postId} at revision 0: missing_tail`);
    expect(cut.code).toBe(1);
  });

  it('refuses an anchor signed with the retired key after it was retired, and anchors nothing on top of it', async () => {
    await withConnection(tdb, (db) => appendForgedAnchor(db, OLD_KEY));
    const forged = await cli(NEW_KEY, 'verify');
    expect(forged.stdout).toContain(
      `FAIL stream ${ANCHOR_STREAM} at revision 3: anchor_mac: it was signed with key ${idOf(OLD_KEY)}, which AUDIT_ANCHOR_KEY does not list`,
    );
    expect(forged.stdout).toContain('anchor head: revision 2 ');
    expect(forged.code).toBe(1);
    await send();
    const refused = await cli(NEW_KEY, 'anchor');
    expect(refused.stderr).toContain('the last anchor (revision 3) does not verify with any key AUDIT_ANCHOR_KEY lists: not anchoring on top of it');
    expect(refused.code).toBe(2);
    expect(await anchors()).toHaveLength(4);
  });

  /** What someone holding a retired key could write: a well-formed anchor, chained on, signed with that key. */
  async function appendForgedAnchor(db: SqlDatabase, key: string): Promise<void> {
    const eventStore = new PostgresEventStore(db);
    const last = (await eventStore.readStream(ANCHOR_STREAM)).at(-1) as RecordedEvent;
    const previous = last.data as AuditAnchored['data'];
    const unsigned = {
      anchoredAt: clock.now().toISOString(),
      through: previous.through,
      heads: [{ streamId: `room-${roomId}`, revision: 99, hash: 'f'.repeat(64) }],
      prevMac: previous.mac,
      keyId: idOf(key),
      prevAnchorHash: last.metadata.hash,
    };
    const data = { ...unsigned, mac: anchorMac(key, unsigned) };
    const context = { actorId: 'system:audit-anchor', correlationId: randomUUID(), causationId: randomUUID() };
    const tail = { revision: last.streamRevision, hash: last.metadata.hash };
    await eventStore.appendToStream(ANCHOR_STREAM, sealEvents(tail, [{ type: 'AuditAnchored', data }], context, unsigned.anchoredAt, randomIds), last.streamRevision);
  }
});

/** An anchor as the release before key ids wrote it: every stream's head, no keyId, the HMAC over four fields. */
async function appendAnchorAsWrittenBeforeKeyIds(db: SqlDatabase, key: string, anchoredAt: string): Promise<void> {
  const eventStore = new PostgresEventStore(db);
  const heads = new Map<string, { streamId: string; revision: number; hash: string }>();
  let through = '';
  for (const event of await eventStore.readAll(null, 1000)) {
    heads.set(event.streamId, { streamId: event.streamId, revision: Number(event.streamRevision), hash: event.metadata.hash });
    through = event.checkpoint;
  }
  const unsigned = { anchoredAt: anchoredAt, through, heads: [...heads.values()], prevMac: '0'.repeat(64) };
  const mac = createHmac('sha256', key).update(canonicalJson(unsigned)).digest('hex');
  const context = { actorId: 'system:audit-anchor', correlationId: randomUUID(), causationId: randomUUID() };
  await eventStore.appendToStream(ANCHOR_STREAM, sealEvents(null, [{ type: 'AuditAnchored', data: { ...unsigned, mac } }], context, unsigned.anchoredAt, randomIds), 'no_stream');
}

/**
 * The anchors signed with a retired key are trusted because a later anchor, signed with a
 * listed key, pins the anchor stream before it. Rewriting them (and recomputing the
 * hashes, which needs no key) breaks that pin.
 */
describe.each(databaseKinds)('anchors signed with a retired key, rewritten, on %s', (kind) => {
  let tdb: TestDatabase;
  const postId = `post-${randomUUID().slice(0, 8)}`;

  afterAll(async () => {
    await tdb?.drop();
  });

  it('are caught once the old key is retired, although every hash chain was recomputed', async () => {
    tdb = await createTestDatabase(kind);
    const clock = new ManualClock(new Date('2026-05-02T09:00:00.000Z'));
    await withConnection(tdb, async (db) => {
      await migrateDatabase(db);
      await makePostCommands({ eventStore: new PostgresEventStore(db), clock, ids: randomIds }).upsertPost({ postId, ownerId: 'lena', title: 'Tent' }, randomUUID());
      await appendAnchorAsWrittenBeforeKeyIds(db, OLD_KEY, clock.now().toISOString());
      await makeRoomCommands({ eventStore: new PostgresEventStore(db), clock, ids: randomIds }).openRoom(postId, { userId: 'bob', correlationId: randomUUID() });
    });
    expect((await runCli(tdb, ['anchor'], { AUDIT_ANCHOR_KEY: `${NEW_KEY},${OLD_KEY}` })).code).toBe(0);
    expect((await runCli(tdb, ['verify'], { AUDIT_ANCHOR_KEY: NEW_KEY })).code).toBe(0);

    // The post's title changed and its chain recomputed; the old anchor's head for it
    // rewritten to match, and the anchor stream's chain recomputed too.
    await withConnection(tdb, (owner) =>
      tamperWithEvents(owner, async (db) => {
        await db.query(`UPDATE events SET data = jsonb_set(data, '{title}', '"Tent (free)"') WHERE stream_id = $1`, [`post-${postId}`]);
        const [post] = await rehash(db, `post-${postId}`);
        await rehash(db, ANCHOR_STREAM, (data: AuditAnchored['data']) => ({
          ...data,
          heads: data.heads.map((h) => (h.streamId === `post-${postId}` ? { ...h, hash: post as string } : h)),
        }));
      }),
    );
    expect((await runCli(tdb, ['verify'], { AUDIT_ANCHOR_KEY: `${NEW_KEY},${OLD_KEY}` })).stdout).toContain(`FAIL stream ${ANCHOR_STREAM} at revision 0: anchor_mac`);
    const retired = await runCli(tdb, ['verify'], { AUDIT_ANCHOR_KEY: NEW_KEY });
    expect(retired.stdout).toContain(`FAIL stream ${ANCHOR_STREAM} at revision 0: anchor_mac`);
    expect(retired.stdout).not.toContain(`stream post-${postId}`);
    expect(retired.code).toBe(1);
  });
});

/** Rewrites a stream's data with `edit` (only the first event's when it is an anchor stream) and recomputes every hash: what write access without a key can do. Returns the new hashes. */
async function rehash(db: SqlExecutor, streamId: string, edit?: (data: AuditAnchored['data']) => AuditAnchored['data']): Promise<string[]> {
  const rows = await db.query<{ revision: string; event_id: string; event_type: string; data: AuditAnchored['data']; metadata: EventMetadata }>(
    `SELECT stream_revision::text AS revision, event_id::text, event_type, data, metadata FROM events WHERE stream_id = $1 ORDER BY stream_revision`,
    [streamId],
  );
  let prevHash = '0'.repeat(64);
  const hashes: string[] = [];
  for (const row of rows.rows) {
    const data = edit !== undefined && row.revision === '0' ? edit(row.data) : row.data;
    const { hash: _hash, prevHash: _prev, ...metadata } = row.metadata;
    const hash = eventHash(prevHash, { eventId: row.event_id, type: row.event_type, data, metadata });
    await db.query(`UPDATE events SET data = $3::jsonb, metadata = $4::jsonb WHERE stream_id = $1 AND stream_revision = $2`, [
      streamId,
      row.revision,
      JSON.stringify(data),
      JSON.stringify({ ...metadata, prevHash, hash }),
    ]);
    hashes.push(hash);
    prevHash = hash;
  }
  return hashes;
}

import { silentLogger } from '../../../src/application/ports/logger';
import type { RecordedEvent } from '../../../src/application/ports/eventStore';
import { decodeEvent } from '../../../src/domain/events';
import { applyBatchToReadModels, chatProjection } from '../../../src/infrastructure/readModels/chatProjection';
import { ProjectionRunner, type Projection } from '../../../src/infrastructure/readModels/projectionRunner';
import type { SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { databaseKinds } from '../../support/databases';
import { auditProjection, snapshotReadModels } from '../../support/readModels';
import { openRoomHarness, type RoomHarness, ttl } from '../../support/roomHarness';
import { HOUR } from '../../support/time';

/**
 * Runs of messages are applied set-based, everything else one by one: the read models
 * must come out exactly as if every event had been applied on its own.
 */
describe.each(databaseKinds)('the projection on %s, batch by batch or event by event', (kind) => {
  let l: RoomHarness;
  beforeAll(async () => {
    l = await openRoomHarness(kind);
  });
  afterAll(async () => {
    await l.close();
  });

  it('builds the same read models from a mixed history whether it applies one event at a time or a thousand', async () => {
    // Messages both ways, read marks between them, a block and an unblock, an expiry and a reopen.
    for (let r = 0; r < 4; r += 1) {
      const { roomId, postId, lender, borrower } = await l.anOpenRoom();
      for (let i = 0; i < 12; i += 1) {
        const sent = await l.send(roomId, i % 3 === 0 ? lender : borrower);
        if (i % 4 === 3) await l.commands.markRead(roomId, sent.message.seq - 1, i % 2 === 0 ? lender : borrower);
      }
      if (r === 1) {
        await l.commands.block(roomId, lender);
        await l.commands.unblock(roomId, lender);
      }
      if (r === 2) {
        l.clock.advance(31 * 24 * HOUR);
        await l.commands.expireRoom(roomId, ttl, 'test');
        await l.commands.openRoom(postId, borrower);
        await l.send(roomId, lender);
      }
    }
    await l.settle();
    const live = await snapshotReadModels(l.db);
    const audit = await auditProjection(l.db);
    expect(audit.rows).toEqual(audit.events);
    expect(audit.wrongUnread).toEqual([]);

    const rebuilt = async (applyBatch: Projection['applyBatch'], batchSize: number) => {
      await l.projections.stop();
      const runner = new ProjectionRunner({ projection: { ...chatProjection, applyBatch }, db: l.db, eventStore: l.store, logger: silentLogger, batchSize });
      await runner.rebuild();
      return snapshotReadModels(l.db);
    };
    // The reference: each event on its own, in order; a message through the plain statements below.
    const oneByOne: Projection['applyBatch'] = async (tx, events) => {
      for (const event of events) await (event.type === 'MessageSent' ? applyOneMessage(tx, event) : applyBatchToReadModels(tx, [event]));
    };
    expect(await rebuilt(oneByOne, 1000)).toEqual(live);
    expect(await rebuilt(applyBatchToReadModels, 1000)).toEqual(live);
    expect(await rebuilt(applyBatchToReadModels, 7)).toEqual(live);
  });

  it('rebuilds one projection without touching another projection\'s tables', async () => {
    const { roomId, lender } = await l.anOpenRoom();
    await l.send(roomId, lender);
    // A second projection of its own: how many events of each type the store holds.
    await l.db.query(`CREATE TABLE IF NOT EXISTS test_event_counts (type text PRIMARY KEY, n int NOT NULL)`);
    const counts: Projection = {
      name: 'test_event_counts',
      tables: ['test_event_counts'],
      async applyBatch(tx, events) {
        for (const event of events) {
          await tx.query(`INSERT INTO test_event_counts (type, n) VALUES ($1, 1) ON CONFLICT (type) DO UPDATE SET n = test_event_counts.n + 1`, [event.type]);
        }
      },
    };
    const runner = (projection: Projection) => new ProjectionRunner({ projection, db: l.db, eventStore: l.store, logger: silentLogger });
    const countRows = async () => (await l.db.query(`SELECT type, n FROM test_event_counts ORDER BY type`)).rows;
    // (The harness's own runner was stopped by the test before: this one brings the read models up to date.)
    await runner(chatProjection).catchUp();
    await runner(counts).catchUp();
    const counted = await countRows();
    expect(counted.length).toBeGreaterThan(0);
    const chat = await snapshotReadModels(l.db);
    expect(chat.rm_messages!.length).toBeGreaterThan(0);

    await runner(chatProjection).rebuild();
    expect(await countRows()).toEqual(counted);
    await runner(counts).rebuild();
    expect(await countRows()).toEqual(counted);
    expect(await snapshotReadModels(l.db)).toEqual(chat);
  });
});

/** One MessageSent as three plain statements: the reference the set-based run must agree with. */
async function applyOneMessage(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
  const event = decodeEvent(recorded);
  if (event?.type !== 'MessageSent') throw new Error(`not a message: ${recorded.type}`);
  const d = event.data;
  await tx.query(
    `INSERT INTO rm_messages (room_id, seq, message_id, sender_id, body, client_message_id, sent_at, kind)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (room_id, seq) DO NOTHING`,
    [d.roomId, d.seq, d.messageId, d.senderId, d.body, d.clientMessageId, d.sentAt, d.kind ?? 'text'],
  );
  await tx.query(
    `UPDATE rm_rooms SET last_seq = $2, last_message_at = $3, last_activity_at = GREATEST(last_activity_at, $3)
      WHERE room_id = $1`,
    [d.roomId, d.seq, d.sentAt],
  );
  await tx.query(
    `UPDATE rm_room_members
        SET last_activity_at = GREATEST(last_activity_at, $3),
            unread_count = unread_count + CASE WHEN user_id = $2 THEN 0 ELSE 1 END
      WHERE room_id = $1`,
    [d.roomId, d.senderId, d.sentAt],
  );
}

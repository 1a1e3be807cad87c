import { silentLogger } from '../../../src/application/ports/logger';
import { applyBatchToReadModels, applyToReadModels } from '../../../src/infrastructure/readModels/chatProjection';
import { ProjectionRunner, type ProjectionRunnerOptions } from '../../../src/infrastructure/readModels/projectionRunner';
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

    const rebuilt = async (applyBatch: ProjectionRunnerOptions['applyBatch'], batchSize: number) => {
      await l.projections.stop();
      const runner = new ProjectionRunner({ name: 'chat_read_models', db: l.db, eventStore: l.store, applyBatch, logger: silentLogger, batchSize });
      await runner.rebuild();
      return snapshotReadModels(l.db);
    };
    // The reference: each event through the single-event statements, in order.
    const oneByOne: ProjectionRunnerOptions['applyBatch'] = async (tx, events) => {
      for (const event of events) await applyToReadModels(tx, event);
    };
    expect(await rebuilt(oneByOne, 1000)).toEqual(live);
    expect(await rebuilt(applyBatchToReadModels, 1000)).toEqual(live);
    expect(await rebuilt(applyBatchToReadModels, 7)).toEqual(live);
  });
});

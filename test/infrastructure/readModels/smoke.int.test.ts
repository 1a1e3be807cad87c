import { randomUUID } from 'node:crypto';
import { makeRoomCommands } from '../../../src/application/room/roomCommands';
import { systemClock } from '../../../src/application/ports/clock';
import { randomIds } from '../../../src/application/ports/ids';
import { silentLogger } from '../../../src/application/ports/logger';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { applyToReadModels } from '../../../src/infrastructure/readModels/chatProjection';
import { ProjectionRunner } from '../../../src/infrastructure/readModels/projectionRunner';
import { migrateReadModels } from '../../../src/infrastructure/readModels/schema';
import { SqlChatQueries } from '../../../src/infrastructure/readModels/sqlChatQueries';
import { createTestDatabase, databaseKinds } from '../../support/databases';

describe.each(databaseKinds)('read side smoke on %s', (kind) => {
  it('projects a conversation', async () => {
    const tdb = await createTestDatabase(kind);
    const db = await tdb.connect();
    await PostgresEventStore.migrate(db);
    await migrateReadModels(db);
    const store = new PostgresEventStore(db);
    const runner = new ProjectionRunner({ name: 'p', db, eventStore: store, apply: applyToReadModels, logger: silentLogger });
    await runner.start();
    const commands = makeRoomCommands({ eventStore: store, clock: systemClock, ids: randomIds });
    const queries = new SqlChatQueries(db);
    const t0 = Date.now();
    await commands.upsertPost({ postId: 'p1', ownerId: 'lender', title: 'Drill' }, 'c');
    const opened = await commands.openRoom('p1', { userId: 'borrower', correlationId: 'c' });
    const sent = await commands.sendMessage({ roomId: opened.room.roomId, clientMessageId: randomUUID(), body: 'hi' }, { userId: 'borrower', correlationId: 'c' });
    expect(await runner.waitFor(sent.checkpoint as string)).toBe(true);
    console.log('waited', Date.now() - t0);
    const room = await queries.getRoom(opened.room.roomId, 'lender');
    expect(room?.unreadCount).toBe(1);
    expect(room?.lastMessage?.body).toBe('hi');
    expect((await queries.listRooms('lender', 10, null)).rooms).toHaveLength(1);
    expect((await queries.getMessages(opened.room.roomId, { limit: 50 })).messages).toHaveLength(1);
    await runner.stop();
    await tdb.drop();
  });
});

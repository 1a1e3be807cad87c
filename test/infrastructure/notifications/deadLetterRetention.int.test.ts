import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { randomUUID } from 'node:crypto';
import { enqueueDeliveries, OutboxStore } from '../../../src/infrastructure/notifications/outboxStore';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';

describe.each(databaseKinds)('dead letter retention (%s)', (kind) => {
  let database: TestDatabase;
  let db: SqlDatabase;
  let outbox: OutboxStore;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = await database.connect();
    await migrateDatabase(db);
    outbox = new OutboxStore(db);
  });
  afterAll(async () => {
    await database.drop();
  });

  /** A delivery given up on `daysAgo` days ago (the clock moved back in the row, not in the test). */
  async function deadLetter(daysAgo: number): Promise<string> {
    const deliveryId = randomUUID();
    await enqueueDeliveries(db, [
      { deliveryId, channel: 'webhook', target: 'https://marketplace.example/hooks', orderingKey: randomUUID(), eventId: null, type: 'room.opened', body: '{}', retryForMs: 1000 },
    ]);
    const [claimed] = (await outbox.claim('worker', { channel: 'webhook', max: 1, perKey: 1, leaseMs: 10_000 })).filter((d) => d.deliveryId === deliveryId);
    if (claimed === undefined) throw new Error('the delivery was not claimable');
    await outbox.dead(claimed.id, 'worker', 410, 'gone');
    await db.query(`UPDATE notify_outbox SET dead_at = now() - make_interval(days => $1) WHERE delivery_id = $2`, [daysAgo, deliveryId]);
    return deliveryId;
  }

  it('deletes the dead letters older than the retention and keeps the younger ones and everything pending', async () => {
    const old = await deadLetter(31);
    const young = await deadLetter(29);
    const pending = randomUUID();
    await enqueueDeliveries(db, [
      { deliveryId: pending, channel: 'webhook', target: 'https://marketplace.example/hooks', orderingKey: randomUUID(), eventId: null, type: 'room.opened', body: '{}', retryForMs: 60_000 },
    ]);

    expect(await outbox.purgeDeadLetters(30 * 86_400_000)).toBe(1);

    const left = (await outbox.deadLetters({ limit: 100, after: null, channel: null })).deadLetters.map((d) => d.deliveryId);
    expect(left).toContain(young);
    expect(left).not.toContain(old);
    expect((await outbox.summary()).pending).toBe(1);
    expect(await outbox.purgeDeadLetters(30 * 86_400_000)).toBe(0);
  });
});

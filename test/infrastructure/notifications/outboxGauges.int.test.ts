import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { DeliveryWorker } from '../../../src/infrastructure/notifications/deliveryWorker';
import { enqueueDeliveries, OutboxStore } from '../../../src/infrastructure/notifications/outboxStore';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import { silentLogger } from '../../../src/application/ports/logger';

/** The real outbox, counting how often the whole table is summed up. */
class CountingOutbox extends OutboxStore {
  summaries = 0;
  override async summary() {
    this.summaries += 1;
    return super.summary();
  }
}

describe('the outbox gauges', () => {
  let database: TestDatabase;
  let db: SqlDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    db = await database.connect();
    await migrateDatabase(db);
  });
  afterAll(async () => {
    await database.drop();
  });

  it('count the outbox at most once per few seconds, however often /metrics is scraped', async () => {
    const outbox = new CountingOutbox(db);
    const registry = new Registry();
    const lane = { concurrency: 1, perKey: 1, timeoutMs: 1000 };
    new DeliveryWorker({ db, outbox, senders: {}, logger: silentLogger, lanes: { webhook: lane, push: lane }, metrics: registry, deadLetterRetentionMs: 86_400_000 });
    await enqueueDeliveries(db, [
      { deliveryId: randomUUID(), channel: 'webhook', target: 'https://m.example/h', orderingKey: randomUUID(), eventId: null, type: 'room.opened', body: '{}', retryForMs: 60_000 },
    ]);
    const scrapes = await Promise.all(Array.from({ length: 25 }, () => registry.metrics()));
    for (let i = 0; i < 25; i += 1) scrapes.push(await registry.metrics());
    expect(outbox.summaries).toBe(1);
    // What they show is the count all the same.
    expect(scrapes.at(-1)).toMatch(/^chat_webhook_dead_letters 0$/m);
    expect(Number(/^chat_webhook_oldest_undelivered_seconds (\S+)$/m.exec(scrapes.at(-1) as string)?.[1])).toBeGreaterThanOrEqual(0);
  });
});

/**
 * The measuring wrappers on real parts: the PostgreSQL event store (PGlite here) and
 * the per-user budgets. A wrapper must change nothing but the numbers it records.
 */
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { WrongExpectedRevisionError } from '../../../src/application/ports/eventStore';
import { UserBudgets } from '../../../src/application/limits/userBudgets';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { createChatMetrics } from '../../../src/infrastructure/metrics/chatMetrics';
import { measureAppends, measureReads, measureRefusals } from '../../../src/infrastructure/metrics/instrument';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import { aStreamName, anEvent } from '../eventStore/eventStoreContract';

async function value(metrics: ReturnType<typeof createChatMetrics>, name: string, labels: Record<string, string>): Promise<number | undefined> {
  // A histogram's series carry their own names (`…_sum`, `…_count`).
  const series = (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
    m.values.map((v) => ({ ...v, name: (v as { metricName?: string }).metricName ?? m.name })),
  );
  return series.find((v) => v.name === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('the measuring wrappers on the PostgreSQL event store', () => {
  let database: TestDatabase;
  let db: SqlDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    db = await database.connect();
    await migrateDatabase(db);
  });
  afterAll(async () => {
    await database.drop();
  });

  it('passes the append options on: an append behind a refused one in its pipeline is refused too', async () => {
    const metrics = createChatMetrics({ defaultMetrics: false });
    const store = measureAppends(new PostgresEventStore(db), metrics, 'postgres');
    expect(typeof store.pipeline).toBe('function');
    const stream = aStreamName('pipelined');
    await store.appendToStream(stream, [anEvent()], 'no_stream');

    // Pipelined without waiting: the first is refused (wrong revision), the second was decided on it.
    const pipeline = store.pipeline(stream);
    const refused = store.appendToStream(stream, [anEvent()], 5n, { pipeline });
    const dependent = store.appendToStream(stream, [anEvent()], 0n, { pipeline });
    await expect(refused).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    await expect(dependent).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    expect((await store.readStream(stream)).length).toBe(1);

    expect(await value(metrics, 'chat_event_appends_total', { store: 'postgres', outcome: 'ok' })).toBe(1);
    expect(await value(metrics, 'chat_event_appends_total', { store: 'postgres', outcome: 'conflict' })).toBe(2);
  });

  it('counts events per append and keeps what the store answers', async () => {
    const metrics = createChatMetrics({ defaultMetrics: false });
    const store = measureAppends(new PostgresEventStore(db), metrics, 'postgres');
    const stream = aStreamName('batch');
    const result = await store.appendToStream(stream, [anEvent(), anEvent(), anEvent()], 'no_stream');
    expect(result.nextExpectedRevision).toBe(2n);
    expect(await value(metrics, 'chat_event_append_batch_size_sum', { store: 'postgres' })).toBe(3);
    expect(await value(metrics, 'chat_event_append_batch_size_count', { store: 'postgres' })).toBe(1);
  });

  it("counts every event the log hands out, the store's own subscription's reads included", async () => {
    const metrics = createChatMetrics({ defaultMetrics: false });
    const store = measureReads(new PostgresEventStore(db), metrics, 'postgres');
    const written = [anEvent(), anEvent(), anEvent()];
    await store.appendToStream(aStreamName('read'), written, 'no_stream');

    const read = await store.readAll(null, 2);
    expect(read).toHaveLength(2);
    expect(await value(metrics, 'chat_events_read_total', { store: 'postgres' })).toBe(2);

    // A subscription from the start reads every event, these three included, through the counted readAll.
    const seen: string[] = [];
    const subscription = store.subscribeToAll({ from: 'start' }, { onEvent: async (event) => void seen.push(event.eventId) });
    const mine = (): number => written.filter((event) => seen.includes(event.eventId)).length;
    const deadline = Date.now() + 10_000;
    while (mine() < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await subscription.stop();
    expect(mine()).toBe(3);
    expect(await value(metrics, 'chat_events_read_total', { store: 'postgres' })).toBeGreaterThanOrEqual(2 + seen.length);
  });
});

describe('measureRefusals on the per-user budgets', () => {
  it('counts each refusal under its budget and lets everything else through unchanged', async () => {
    const metrics = createChatMetrics({ defaultMetrics: false });
    const budgets = measureRefusals(
      new UserBudgets({ perSecond: { send: 1, command: 1, read: 1, resume: 1, typing: 1 }, typingIntervalMs: 0 }, { now: () => 0 }),
      metrics,
    );
    // Bursts of 2, and the clock stands still: the third of each is refused.
    expect([await budgets.take('send', 'u'), await budgets.take('send', 'u'), await budgets.take('send', 'u')]).toEqual([true, true, false]);
    expect([budgets.mayType('u', 'r1'), budgets.mayType('u', 'r2'), budgets.mayType('u', 'r3')]).toEqual([true, true, false]);
    expect(await budgets.take('resume', 'other')).toBe(true);
    expect(await value(metrics, 'chat_rate_limited_total', { budget: 'send' })).toBe(1);
    expect(await value(metrics, 'chat_rate_limited_total', { budget: 'typing' })).toBe(1);
    expect(await value(metrics, 'chat_rate_limited_total', { budget: 'resume' })).toBeUndefined();
  });
});

/**
 * The event store port alone: appends a second at several concurrencies.
 *
 *   npm run bench:store -- [--store postgres|pglite] [--seconds 5] [--concurrency 1,8,32,64] [--in-flight N]
 *
 * Each of N workers appends one event at a time to a stream of its own, at the
 * stream's exact expected revision (as a command does), for a fixed time. Reports
 * appends a second and append latency percentiles per concurrency, then one JSON line.
 * `--in-flight` sets how many group commits may be in flight at once (the store's
 * `maxBatchesInFlight`; default: the store's own).
 * Runs on a fresh database of the local PostgreSQL (dropped after), or on PGlite.
 */
import { migrateDatabase } from '../src/infrastructure/migrations';
import { randomUUID } from 'node:crypto';
import { createHistogram, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NO_PREVIOUS_HASH, type EventStore } from '../src/application/ports/eventStore';
import { PostgresEventStore } from '../src/infrastructure/eventStore/postgresEventStore';
import { PgDatabase } from '../src/infrastructure/sql/pgDatabase';
import { PgliteDatabase } from '../src/infrastructure/sql/pgliteDatabase';
import type { SqlDatabase } from '../src/infrastructure/sql/sqlDatabase';
import { chooseStore, postgresCpuSeconds } from './support';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'postgres' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,8,32,64' },
    'in-flight': { type: 'string' },
  },
});

async function main(): Promise<void> {
  const store = await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres');
  const db: SqlDatabase =
    store.kind === 'postgres' ? new PgDatabase({ connectionString: store.url as string, maxConnections: 20 }) : await PgliteDatabase.open(store.env.DATA_DIR);
  try {
    await migrateDatabase(db);
    const inFlight = args['in-flight'] === undefined ? undefined : Number(args['in-flight']);
    const eventStore = new PostgresEventStore(db, { maxBatchesInFlight: inFlight });
    const results = [];
    process.stdout.write(
      `rental-chat event store: ${store.description}; ${args.seconds} s per concurrency; group commits in flight: ${inFlight ?? 'default'}; node ${process.version}\n`,
    );
    for (const concurrency of (args.concurrency ?? '').split(',').map(Number)) {
      const result = await measure(eventStore, concurrency, Number(args.seconds) * 1000, store.kind === 'postgres');
      results.push(result);
      process.stdout.write(
        `concurrency ${String(concurrency).padStart(3)}: ${Math.round(result.appendsPerSecond)} appends/s; latency p50 ${result.p50Ms.toFixed(2)} p99 ${result.p99Ms.toFixed(2)} ms; ` +
          `CPU cores: this process ${result.cpu.self.toFixed(2)}, PostgreSQL ${result.cpu.postgres.toFixed(2)}\n`,
      );
    }
    process.stdout.write(`${JSON.stringify({ bench: 'store', store: store.kind, batchesInFlight: inFlight ?? null, results })}\n`);
  } finally {
    await db.close();
    await store.dispose();
  }
}

async function measure(eventStore: EventStore, concurrency: number, durationMs: number, onServer: boolean) {
  const latency = createHistogram();
  let appends = 0;
  const cpuBefore = { self: process.cpuUsage(), postgres: onServer ? postgresCpuSeconds() : 0 };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const stream = `bench-${randomUUID()}`;
      let revision: bigint | 'no_stream' = 'no_stream';
      while (performance.now() - started < durationMs) {
        const eventId = randomUUID();
        const t0 = performance.now();
        const result = await eventStore.appendToStream(
          stream,
          [
            {
              eventId,
              type: 'MessageSent',
              data: { roomId: stream, messageId: eventId, seq: appends, senderId: 'bench', body: 'x'.repeat(50), clientMessageId: eventId, sentAt: new Date().toISOString() },
              metadata: { actorId: 'bench', correlationId: eventId, causationId: eventId, recordedAt: new Date().toISOString(), prevHash: NO_PREVIOUS_HASH, hash: NO_PREVIOUS_HASH },
            },
          ],
          revision,
        );
        latency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        revision = result.nextExpectedRevision;
        appends += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(cpuBefore.self);
  return {
    concurrency,
    appendsPerSecond: appends / seconds,
    p50Ms: latency.percentile(50) / 1000,
    p99Ms: latency.percentile(99) / 1000,
    cpu: { self: (self.user + self.system) / 1e6 / seconds, postgres: onServer ? (postgresCpuSeconds() - cpuBefore.postgres) / seconds : 0 },
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * Finds the real databases the integration tests run against, once per run:
 *   PostgreSQL: TEST_DATABASE_URL if set; else a Testcontainers PostgreSQL where a
 *     container engine exists; else the local server on 127.0.0.1:5432; else none
 *     (the PostgreSQL cases then run on embedded PGlite, and say so).
 *   EventStoreDB: EVENTSTORE_CONNECTION_STRING if set; else a Testcontainers
 *     EventStoreDB where an engine exists (ready once it is the leader); else, or when
 *     that container cannot start, the suite is skipped with one line why.
 * Plain JavaScript: Jest loads it before any transform is set up.
 */
const { Client } = require('pg');

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url) {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function containerEngine() {
  try {
    const { getContainerRuntimeClient } = require('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch (error) {
    return String(error && error.message ? error.message : error).split('\n')[0];
  }
}

/**
 * An in-memory EventStoreDB 24.10, ready once it is the leader: /health/live answers as
 * soon as the HTTP server is up, while appends still get "Server Is Not Ready" until the
 * node has elected itself; /info names its state (`"state": "leader"`).
 */
async function startEventStoreDb() {
  const { GenericContainer, Wait } = require('testcontainers');
  return new GenericContainer('eventstore/eventstore:24.10')
    .withEnvironment({ EVENTSTORE_INSECURE: 'true', EVENTSTORE_RUN_PROJECTIONS: 'None', EVENTSTORE_MEM_DB: 'true' })
    .withExposedPorts(2113)
    .withWaitStrategy(
      Wait.forHttp('/info', 2113)
        .forStatusCode(200)
        .forResponsePredicate((body) => /"state"\s*:\s*"leader"/.test(body)),
    )
    .withStartupTimeout(120_000)
    .start();
}

module.exports = async function globalSetup() {
  const say = (line) => process.stdout.write(`\n[test setup] ${line}`);
  const engine = await containerEngine();
  globalThis.__chatContainers = [];

  if (process.env.TEST_DATABASE_URL) {
    say(`PostgreSQL: TEST_DATABASE_URL (${process.env.TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//')})`);
  } else if (engine === true) {
    const { PostgreSqlContainer } = require('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    globalThis.__chatContainers.push(container);
    process.env.TEST_DATABASE_URL = container.getConnectionUri();
    say('PostgreSQL: a Testcontainers postgres:16-alpine');
  } else if (await reachable(LOCAL_POSTGRES)) {
    process.env.TEST_DATABASE_URL = LOCAL_POSTGRES;
    say('PostgreSQL: no container engine, using the local server at 127.0.0.1:5432');
  } else {
    process.env.TEST_POSTGRES_FALLBACK = 'no container engine and no server at 127.0.0.1:5432';
    say('PostgreSQL: no container engine and no local server: the PostgreSQL cases run on embedded PGlite');
  }

  if (process.env.EVENTSTORE_CONNECTION_STRING) {
    process.env.TEST_EVENTSTORE_CONNECTION_STRING = process.env.EVENTSTORE_CONNECTION_STRING;
    say('EventStoreDB: EVENTSTORE_CONNECTION_STRING');
  } else if (engine === true) {
    const container = await startEventStoreDb().catch((error) => {
      process.env.TEST_EVENTSTORE_SKIP_REASON = `the eventstore/eventstore:24.10 container did not start: ${String(error && error.message ? error.message : error).split('\n')[0]}`;
      return null;
    });
    if (container !== null) {
      globalThis.__chatContainers.push(container);
      process.env.TEST_EVENTSTORE_CONNECTION_STRING = `esdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`;
      say('EventStoreDB: a Testcontainers eventstore/eventstore:24.10, leader elected');
    } else {
      say(`EventStoreDB suite skipped: ${process.env.TEST_EVENTSTORE_SKIP_REASON}`);
    }
  } else {
    process.env.TEST_EVENTSTORE_SKIP_REASON = `EVENTSTORE_CONNECTION_STRING is not set and Testcontainers cannot start EventStoreDB (${engine})`;
    say(`EventStoreDB suite skipped: ${process.env.TEST_EVENTSTORE_SKIP_REASON}`);
  }
  process.stdout.write('\n');
};

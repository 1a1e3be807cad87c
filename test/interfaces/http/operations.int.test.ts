/**
 * What an operator relies on, through a real server: the OpenAPI document it serves
 * (valid by the official OpenAPI 3.1 schema), the metrics worth paging on, METRICS_PORT
 * keeping /metrics off the public port, and /readyz turning not-ready when the read
 * models fall behind their bound.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { NO_PREVIOUS_HASH } from '../../../src/application/ports/eventStore';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import { openApiDocument } from '../../../src/interfaces/http/openapi';
import { as, call } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

function validateOpenApi(document: unknown): { valid: boolean; version: string; errors: unknown } {
  const script = path.join(__dirname, '../../support/validateOpenApi.mjs');
  return JSON.parse(execFileSync(process.execPath, [script], { input: JSON.stringify(document), encoding: 'utf8' }));
}

/** The value of one series in Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('operations on one server (embedded store)', () => {
  let server: TestServer;
  const lena = `lena-${randomUUID().slice(0, 8)}`;
  const bob = `bob-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    server = await startTestServer('pglite');
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  it('serves its OpenAPI document at /openapi.json, valid by the official OpenAPI 3.1 schema', async () => {
    const res = await call(server.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual(openApiDocument());
    expect(validateOpenApi(res.body)).toEqual({ valid: true, version: '3.1', errors: null });
    // The check is real: a document with a response lacking its description is refused.
    const broken = { ...res.body, paths: { '/x': { get: { responses: { 200: { content: {} } } } } } };
    expect(validateOpenApi(broken).valid).toBe(false);
  });

  it('counts requests by route pattern and status, commands by outcome, appends by store, and measures lag and delivery', async () => {
    const postId = `post-${randomUUID().slice(0, 8)}`;
    expect((await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lena, title: 'Drill' })).status).toBe(200);
    const opened = await as(server.url, tokenFor(bob)).post('/api/rooms', { postId });
    expect(opened.status).toBe(201);
    const roomId: string = opened.body.room.roomId;
    expect((await as(server.url, tokenFor(bob)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'hi' })).status).toBe(201);
    expect((await as(server.url, tokenFor(lena)).post('/api/rooms', { postId })).status).toBe(409);
    expect((await call(server.url, 'GET', `/api/rooms/${roomId}`)).status).toBe(401);
    expect((await call(server.url, 'GET', '/nothing/here')).status).toBe(404);

    const res = await call(server.url, 'GET', '/metrics');
    expect(res.status).toBe(200);
    const text = res.text;
    expect(sample(text, 'chat_http_requests_total', { method: 'POST', route: '/api/rooms/:roomId/messages', status: '201' })).toBe(1);
    // Refused by the auth middleware before a route matched: still counted under its route, not its raw path.
    expect(sample(text, 'chat_http_requests_total', { method: 'GET', route: '/api/rooms/:roomId', status: '401' })).toBe(1);
    expect(sample(text, 'chat_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(text).not.toContain(roomId);
    expect(sample(text, 'chat_http_request_duration_seconds_count', { route: '/api/rooms', status: '201' })).toBe(1);
    expect(sample(text, 'chat_commands_total', { command: 'openRoom', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'chat_commands_total', { command: 'openRoom', outcome: 'own_post' })).toBe(1);
    expect(sample(text, 'chat_commands_total', { command: 'sendMessage', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'chat_event_appends_total', { store: 'postgres', outcome: 'ok' })).toBe(3);
    expect(sample(text, 'chat_event_append_batch_size_count', { store: 'postgres' })).toBe(3);
    expect(sample(text, 'chat_event_append_queue', { store: 'postgres' })).toBe(0);
    expect(sample(text, 'chat_projection_lag_events', { projection: 'chat_read_models' })).toBe(0);
    expect(sample(text, 'chat_projection_lag_seconds', { projection: 'chat_read_models' })).toBe(0);
    expect(sample(text, 'chat_live_delivery_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'chat_ws_connections')).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('answers /readyz with the lag it measured', async () => {
    const res = await call(server.url, 'GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ready',
      checks: { database: true, eventStore: true, projectionsCaughtUp: true },
      details: { projectionLagSeconds: 0, projectionLagEvents: 0 },
    });
  });
});

describe('refusals in the metrics', () => {
  it('counts a request refused by a per-user budget under that budget, and the 429 under its route', async () => {
    const server = await startTestServer('pglite', { env: { COMMAND_RATE_LIMIT: '1' } });
    try {
      const [lena, bob] = [`lena-${randomUUID().slice(0, 8)}`, `bob-${randomUUID().slice(0, 8)}`];
      const postId = `post-${randomUUID().slice(0, 8)}`;
      expect((await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lena, title: 'Drill' })).status).toBe(200);
      // A budget of 1 a second bursts to 2: open and block pass, unblock is refused.
      const roomId: string = (await as(server.url, tokenFor(bob)).post('/api/rooms', { postId })).body.room.roomId;
      expect((await as(server.url, tokenFor(bob)).post(`/api/rooms/${roomId}/block`)).status).toBe(204);
      expect((await as(server.url, tokenFor(bob)).delete(`/api/rooms/${roomId}/block`)).status).toBe(429);

      const text = (await call(server.url, 'GET', '/metrics')).text;
      expect(sample(text, 'chat_rate_limited_total', { budget: 'command' })).toBe(1);
      expect(sample(text, 'chat_rate_limited_total', { budget: 'send' })).toBeUndefined();
      expect(sample(text, 'chat_http_requests_total', { method: 'DELETE', route: '/api/rooms/:roomId/block', status: '429' })).toBe(1);
    } finally {
      await server.close();
      await server.database.drop();
    }
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on that port only: the public port answers 404', async () => {
    const server = await startTestServer('pglite', { env: { METRICS_PORT: '0' } });
    try {
      expect(server.metricsUrl).not.toBeNull();
      expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
      const publicMetrics = await call(server.url, 'GET', '/metrics');
      expect(publicMetrics.status).toBe(404);
      expect(publicMetrics.body.error.code).toBe('not_found');
      const metrics = await fetch(server.metricsUrl as string);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(sample(text, 'chat_http_requests_total', { route: '/healthz', status: '200' })).toBe(1);
      expect(sample(text, 'chat_http_requests_total', { route: '/metrics', status: '404' })).toBe(1);
      // Only /metrics lives there.
      expect((await fetch(new URL('/healthz', server.metricsUrl as string))).status).toBe(404);
    } finally {
      await server.close();
      await server.database.drop();
    }
  });
});

const onServer = process.env.TEST_DATABASE_URL !== undefined ? describe : describe.skip;
if (process.env.TEST_DATABASE_URL === undefined) {
  process.stdout.write('[operations.int] /readyz lag case skipped: it holds the projection\'s advisory lock from a second connection, which needs a PostgreSQL server\n');
}

onServer('/readyz when the read models fall behind (PostgreSQL server)', () => {
  it('turns not-ready once the oldest unapplied event is older than READY_MAX_PROJECTION_LAG, and ready again once applied', async () => {
    const server = await startTestServer('postgres', { env: { READY_MAX_PROJECTION_LAG: '10s' } });
    const holder = new Client({ connectionString: server.database.url as string });
    const db = new PgDatabase({ connectionString: server.database.url as string });
    try {
      expect((await call(server.url, 'GET', '/readyz')).status).toBe(200);
      // Another process holds the projection (its advisory lock) while an event waits:
      // an event recorded a minute ago that the read models do not have.
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, ['chat:projection:chat_read_models']);
      const recordedAt = new Date(Date.now() - 60_000).toISOString();
      await new PostgresEventStore(db).appendToStream(`ops-${randomUUID()}`, [
        {
          eventId: randomUUID(),
          type: 'OperationsProbe',
          data: {},
          metadata: { actorId: 'test', correlationId: randomUUID(), causationId: randomUUID(), recordedAt, prevHash: NO_PREVIOUS_HASH, hash: NO_PREVIOUS_HASH },
        },
      ], 'no_stream');
      // A measurement is reused for a second (a scrape and a probe read the store once).
      await new Promise((resolve) => setTimeout(resolve, 1100));

      const behind = await call(server.url, 'GET', '/readyz');
      expect(behind.status).toBe(503);
      expect(behind.body.status).toBe('not_ready');
      expect(behind.body.checks).toEqual({ database: true, eventStore: true, projectionsCaughtUp: false });
      expect(behind.body.details.projectionLagEvents).toBe(1);
      expect(behind.body.details.projectionLagSeconds).toBeGreaterThanOrEqual(60);
      const metrics = (await call(server.url, 'GET', '/metrics')).text;
      expect(sample(metrics, 'chat_projection_lag_seconds', { projection: 'chat_read_models' })).toBeGreaterThanOrEqual(60);

      await holder.query('COMMIT');
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline && (status = (await call(server.url, 'GET', '/readyz')).status) !== 200) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(200);
    } finally {
      await holder.end().catch(() => undefined);
      await db.close();
      await server.close();
      await server.database.drop();
    }
  });
});

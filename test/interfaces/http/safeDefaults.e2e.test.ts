import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { loadConfig } from '../../../src/config';
import { start, type RunningServer } from '../../../src/main';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import { call } from '../../support/http';
import { startTestServer, testEnv, type TestServer } from '../../support/server';

/** An address of this machine other than the loopback, if it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((info) => info !== undefined && !info.internal && info.family === 'IPv4')?.address;
const withOutsideAddress = outsideAddress !== undefined ? describe : describe.skip;
if (outsideAddress === undefined) process.stdout.write('[safe defaults e2e] listening cases skipped: this machine has no address beside the loopback\n');

/** Whether a TCP connection to the address is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

withOutsideAddress('where development mode listens', () => {
  let database: TestDatabase;
  const running: RunningServer[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    for (const server of running) await server.close();
    await database?.drop();
  });
  /** Development mode: no JWT secret or key (it mints tokens for anyone). */
  async function developmentServer(env: Record<string, string> = {}): Promise<RunningServer> {
    const { JWT_SECRET: _secret, ...rest } = testEnv(database, env);
    const config = loadConfig(rest);
    expect(config.development).toBe(true);
    const server = await start(config);
    running.push(server);
    return server;
  }

  it('listens on the loopback only, so nobody else on the network can mint a token', async () => {
    const server = await developmentServer();
    expect(await accepts('127.0.0.1', server.port)).toBe(true);
    expect(await accepts(outsideAddress as string, server.port)).toBe(false);
  });

  it('listens where HOST says', async () => {
    const server = await developmentServer({ HOST: '0.0.0.0' });
    expect(await accepts(outsideAddress as string, server.port)).toBe(true);
  });
});

describe('/metrics in production', () => {
  let server: TestServer;
  afterEach(async () => {
    await server?.close();
    await server?.database.drop();
  });
  const production = { NODE_ENV: 'production' };

  it('is not served on the public port without METRICS_PORT', async () => {
    server = await startTestServer('postgres', { env: production });
    const res = await call(server.url, 'GET', '/metrics');
    expect(res.status).toBe(404);
    expect(res.text).not.toMatch(/chat_/);
    expect(server.metricsUrl).toBeNull();
  });

  it('is served on METRICS_PORT only', async () => {
    server = await startTestServer('postgres', { env: { ...production, METRICS_PORT: '0' } });
    expect((await call(server.url, 'GET', '/metrics')).status).toBe(404);
    const res = await fetch(server.metricsUrl as string);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^chat_/m);
  });
});

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import { testEnv } from '../../support/server';
import { runMainUntilExit, spawnServer, stopServer, type ServerProcess } from '../../support/serverProcess';

/** A pid no process has: past the kernel's largest (pid_max is at most 2^22). */
const DEAD_PID = 4_194_304 + 12_345;

describe('one process per embedded data directory', () => {
  let database: TestDatabase;
  let first: ServerProcess;
  const lockFile = () => path.join(database.dataDir as string, 'chat-service.lock');

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    first = await spawnServer(database);
  });
  afterAll(async () => {
    await stopServer(first);
    await database.drop();
  });

  it('stops a second process on the same DATA_DIR with one line naming the owner, instead of Aborted()', async () => {
    const { code, stderr, stdout } = await runMainUntilExit(testEnv(database, { LOG_LEVEL: 'info' }));
    expect(code).not.toBe(0);
    const lines = stderr.split('\n').filter((line) => line !== '');
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^configuration error: DATA_DIR .* is in use by another process \\(pid ${first.child.pid}\\)`))]);
    expect(stderr + stdout).not.toMatch(/Aborted/);
    // The first one is untouched and still answers.
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(first.child.pid));
  });

  it('removes its lock on a clean stop, and a lock left by a killed process does not keep the next one out', async () => {
    await stopServer(first);
    expect(existsSync(lockFile())).toBe(false);
    writeFileSync(lockFile(), `${DEAD_PID}\n`);
    first = await spawnServer(database);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(first.child.pid));
  });
});

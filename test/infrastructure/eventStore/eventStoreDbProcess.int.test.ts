/**
 * Fault 1 of `@eventstore/db-client` 6.2.1, in a process of its own, because it ends
 * the process: the batch append keeps one process-wide map of waiting appends; a failed
 * connection rejects (and forgets) every entry, other connections' included, and a reply
 * that comes afterwards meets a missing entry inside a stream handler — an uncaught
 * TypeError, which Node 20 exits on. The adapter appends with the unary call instead.
 * The server is the scripted one of test/support/fakeEventStoreDb.ts.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

function run(mode: 'client' | 'adapter'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'test/infrastructure/eventStore/fixtures/lateAppendReply.ts', mode], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('a reply that comes after another connection failed', () => {
  it("ends the process with the client's own appendToStream (the batch path): the fault the adapter avoids", async () => {
    const { code, stdout, stderr } = await run('client');
    expect(code).not.toBe(0);
    expect(stderr).toContain('TypeError: undefined is not iterable');
    expect(stderr).toContain('batchAppend');
    expect(stdout).toBe('');
  }, 60_000);

  it('through the adapter: the failed connection fails its own append (503), the other lands, in-flight appends of a vanished server fail as 503, and the process lives', async () => {
    const { code, stdout, stderr } = await run('adapter');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      a: 'unavailable',
      b: 'appended',
      next: 'appended',
      inFlight: Array.from({ length: 20 }, () => 'unavailable'),
    });
  }, 60_000);
});

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A bad expiry setting as an operator meets it: the real entry point in a child process
 * (`node -r @swc-node/register src/main.ts`) exits non-zero with one line on stderr.
 */
const root = path.resolve(__dirname, '../../..');
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'chat-expiry-startup-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: path.join(scratch, 'data'), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the process did not stop by itself; stderr: ${stderr}`));
    }, 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('start-up with a bad expiry setting', () => {
  it.each([
    ['EXPIRY_SWEEP_CRON', 'every minute'],
    ['EXPIRY_SWEEP_CRON', '* * * *'],
    ['EXPIRY_SWEEP_CRON', 'Dec 17 2099 10:00:00 GMT'],
    ['ROOM_EMPTY_TTL', '0s'],
    ['ROOM_IDLE_TTL', '36501d'],
  ])('%s=%j: exits non-zero with one line naming it, before anything starts', async (variable, value) => {
    const { code, stdout, stderr } = await run({ [variable]: value });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const lines = stderr.split('\n').filter((line) => line !== '');
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^configuration error: ${variable} .*${JSON.stringify(value).replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))]);
    expect(stdout).toBe('');
  });
});

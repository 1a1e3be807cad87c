import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMainUntilExit } from '../../support/serverProcess';

/**
 * A bad expiry setting as an operator meets it: the real entry point in a child process
 * (`node -r @swc-node/register src/main.ts`) exits non-zero with one line on stderr.
 */
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'chat-expiry-startup-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(env: Record<string, string>): ReturnType<typeof runMainUntilExit> {
  return runMainUntilExit({ DATA_DIR: path.join(scratch, 'data'), LOG_LEVEL: 'info', ...env });
}

describe('start-up refuses an expiry schedule or TTL the sweeper cannot run, quoting the value', () => {
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

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMainUntilExit } from './support/serverProcess';

/**
 * A setting start-up cannot use, as an operator meets it: the real entry point in a child process
 * (`node -r @swc-node/register src/main.ts`, the TypeScript as it is, no build step).
 */
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'chat-main-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function startProcess(env: Record<string, string>): ReturnType<typeof runMainUntilExit> {
  return runMainUntilExit({ DATA_DIR: path.join(scratch, 'data'), ...env });
}

describe('start-up refuses a setting it cannot use (malformed, unreachable, unreadable, or unsafe in production)', () => {
  const cases: Array<[string, () => Record<string, string>]> = [
    ['PORT', () => ({ PORT: 'http' })],
    // A capital P once started development mode (token minting, published secrets) silently.
    ['NODE_ENV', () => ({ NODE_ENV: 'Production', JWT_SECRET: 'k3J9xq2L8vB4nM7pR1tY6wZ0aS5dF3gH', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' })],
    ['ROOM_IDLE_TTL', () => ({ ROOM_IDLE_TTL: 'forever' })],
    ['EVENT_STORE', () => ({ EVENT_STORE: 'mongodb' })],
    ['DATABASE_URL', () => ({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable' })],
    ['DATA_DIR', () => ({ DATA_DIR: '/etc/hostname/data' })],
    ['JWT_PUBLIC_KEY', () => ({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' })],
    ['JWT_SECRET', () => ({ NODE_ENV: 'production', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' })],
    [
      'AUDIT_ANCHOR_KEY',
      () => ({ NODE_ENV: 'production', JWT_SECRET: 'k3J9xq2L8vB4nM7pR1tY6wZ0aS5dF3gH', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' }),
    ],
    [
      'DATA_KEY_ENCRYPTION_KEY',
      () => ({
        NODE_ENV: 'production',
        JWT_SECRET: 'k3J9xq2L8vB4nM7pR1tY6wZ0aS5dF3gH',
        INTERNAL_API_TOKEN: 'a-long-enough-internal-token',
        AUDIT_ANCHOR_KEY: 'q8Vn2Lr5Tx9Kb3Wm7Yc1Hd4Jf6Gs0Pa2',
      }),
    ],
    [
      'TLS_CERT_FILE',
      () => {
        const file = path.join(scratch, 'not-a-cert.pem');
        writeFileSync(file, 'this is not a certificate\n');
        return { TLS_CERT_FILE: file, TLS_KEY_FILE: file };
      },
    ],
  ];
  it.each(cases)('stops with a non-zero exit and one line naming %s', async (variable, env) => {
    const { code, stdout, stderr } = await startProcess({ LOG_LEVEL: 'info', ...env() });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const lines = stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^configuration error: ${variable} `));
    // Nothing started: not even the start-up log.
    expect(stdout).not.toMatch(/listening/);
  });
});

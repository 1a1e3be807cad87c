import { Writable } from 'node:stream';
import { runAuditCli } from '../../src/interfaces/cli/audit';
import type { TestDatabase } from './databases';
import { testEnv } from './server';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: Writable; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/**
 * `npm run audit -- <args>` in this process, against a test database, with the
 * environment a test server would have. With PGlite, only while no server has it open.
 */
export async function runCli(database: TestDatabase, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const stdout = collector();
  const stderr = collector();
  const code = await runAuditCli(args, { env: testEnv(database, env), stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

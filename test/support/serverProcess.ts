import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestDatabase } from './databases';
import { testEnv } from './server';

/** A server in a process of its own, started from src/main.ts as an operator would. */
export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (null) and signal when the process has gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it wrote to stderr (and stdout lines at error level), for failure messages. */
  output(): string;
}

const root = path.resolve(__dirname, '../..');

/**
 * Spawns `node -r @swc-node/register src/main.ts` on the database, with the test
 * secrets, and waits for its "listening" log line to learn the port.
 */
export function spawnServer(database: TestDatabase, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...testEnv(database, { LOG_LEVEL: 'info', SEND_RATE_LIMIT: '0', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let pending = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server process did not start in time:\n${log}`));
    }, 60_000);
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        let entry: { level?: number; msg?: string; port?: number };
        try {
          entry = JSON.parse(line);
        } catch {
          log += `${line}\n`;
          continue;
        }
        if ((entry.level ?? 0) >= 50) log += `${line}\n`;
        if (typeof entry.msg === 'string' && entry.msg.startsWith('chat service listening') && typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve({ url: `http://127.0.0.1:${entry.port}`, child, exited, output: () => log });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server process exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
}

/** SIGTERM and wait: the clean shutdown path. */
export async function stopServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

/**
 * Runs the real entry point with exactly `env` (plus PATH) and waits for it to exit by
 * itself: for start-up failures, which must stop the process with one line on stderr.
 */
export function runMainUntilExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
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

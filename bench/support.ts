/**
 * What the benchmarks share: a fresh store to run on, the built server started in
 * processes of their own, tokens and HTTP calls. Only loopback traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const JWT_SECRET = process.env.BENCH_JWT_SECRET ?? randomBytes(32).toString('hex');
export const INTERNAL_TOKEN = process.env.BENCH_INTERNAL_TOKEN ?? randomBytes(16).toString('hex');

export interface BenchStore {
  kind: 'postgres' | 'pglite';
  description: string;
  env: Record<string, string>;
  /** For PostgreSQL: the database's URL, to read statistics from. */
  url: string | null;
  dispose(): Promise<void>;
}

export async function admin<T>(work: (client: Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the PostgreSQL server (dropped by dispose), or PGlite when asked for or when none answers. */
export async function chooseStore(prefer: 'postgres' | 'pglite' = 'postgres'): Promise<BenchStore> {
  if (prefer === 'postgres') {
    try {
      const name = `chat_bench_${randomUUID().replaceAll('-', '')}`;
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
      const url = new URL(ADMIN_URL);
      url.pathname = `/${name}`;
      return {
        kind: 'postgres',
        description: `PostgreSQL (${url.host})`,
        env: { DATABASE_URL: url.toString() },
        url: url.toString(),
        dispose: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
      };
    } catch {
      process.stderr.write('no PostgreSQL server answered: running on embedded PGlite\n');
    }
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-bench-'));
  return {
    kind: 'pglite',
    description: 'PGlite (embedded)',
    env: { DATA_DIR: dataDir },
    url: null,
    dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

export interface BenchServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts dist/src/main.js and resolves once it logs that it listens. The send budget is
 * off unless `env` sets SEND_RATE_LIMIT (undefined: the server's default, as deployed).
 */
export function startServer(env: Record<string, string | undefined>): Promise<BenchServer> {
  const main = path.resolve(__dirname, '../src/main.js');
  // e.g. BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server under load.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET,
      INTERNAL_API_TOKEN: INTERNAL_TOKEN,
      SEND_RATE_LIMIT: '0',
      EXPIRY_SWEEP_CRON: '0 0 1 1 *',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  return new Promise((resolve, reject) => {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number; level?: number };
          if (entry.msg?.startsWith('chat service listening') === true && typeof entry.port === 'number') {
            resolve({ url: `http://127.0.0.1:${entry.port}`, child, stop });
          } else if ((entry.level ?? 0) >= 50) process.stderr.write(`${line}\n`);
        } catch {
          // not a log line
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
}

export const tokenFor = (userId: string): string => jwt.sign({ sub: userId }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 3600 });

export async function request(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text) };
}

/** CPU seconds (user + system) a process has used so far, from /proc; 0 where there is no /proc. */
export function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat; here counted from the state field (3).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL server process on this machine (read from /proc). */
export function postgresCpuSeconds(): number {
  let total = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'postgres' || comm.startsWith('postgres')) total += cpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

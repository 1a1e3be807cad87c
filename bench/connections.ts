/**
 * Server memory per idle authenticated WebSocket connection, and at rest.
 *
 *   npm run bench:connections -- [--connections 10000] [--store postgres|pglite]
 *
 * Starts the server on a fresh database, reads its resident memory at rest, opens
 * --connections authenticated connections (one user each, `chat.v1` + token) that then
 * stay idle, reads the memory again, and reports the difference per connection. The
 * clients live in this process; the figure is the server's alone (from /proc).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { chooseStore, startServer, tokenFor } from './support';

const { values: args } = parseArgs({
  options: { connections: { type: 'string', default: '10000' }, store: { type: 'string', default: 'postgres' } },
});

function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const store = await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres');
  const server = await startServer({ ...store.env, WS_MAX_CONNECTIONS_PER_USER: '10' });
  const sockets: WebSocket[] = [];
  try {
    const pid = server.child.pid as number;
    await settle(3000);
    const atRest = residentBytes(pid);
    const wanted = Number(args.connections);
    const url = `${server.url.replace(/^http/, 'ws')}/chat`;
    for (let opened = 0; opened < wanted; ) {
      const wave = Math.min(200, wanted - opened);
      await Promise.all(
        Array.from({ length: wave }, (_, i) => {
          const socket = new WebSocket(url, ['chat.v1', tokenFor(`idle-${opened + i}`)]);
          sockets.push(socket);
          return new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
        }),
      );
      opened += wave;
    }
    await settle(5000);
    const withConnections = residentBytes(pid);
    const perConnection = (withConnections - atRest) / wanted;
    process.stdout.write(
      `server at rest: ${(atRest / 2 ** 20).toFixed(0)} MB; with ${wanted} idle connections: ${(withConnections / 2 ** 20).toFixed(0)} MB; ` +
        `${(perConnection / 1024).toFixed(1)} KB per connection (${store.description})\n`,
    );
    process.stdout.write(`${JSON.stringify({ bench: 'connections', store: store.kind, connections: wanted, atRestBytes: atRest, withConnectionsBytes: withConnections, perConnectionBytes: perConnection })}\n`);
  } finally {
    for (const socket of sockets) socket.terminate();
    await server.stop();
    await store.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * Chat latency while photos are uploaded.
 *
 *   npm run bench:attachments      (builds, then runs dist/bench/attachments.js)
 *
 * Starts the built server in a process of its own (PostgreSQL at 127.0.0.1:5432 when one
 * answers, else PGlite), and measures send→ack over a WebSocket, one message at a time
 * 10 ms apart: first on a quiet server, then while 20 users upload 5 MB phone photos at
 * once, again and again until the timed sends are done (each upload is decoded, stripped,
 * re-encoded and thumbnailed). Prints both and the ratio of the medians and of the 99th
 * percentiles; docs/performance.md keeps the figures. Only loopback traffic.
 *
 * Settings: --sends (300), --uploaders (20), --store (postgres | pglite).
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import WebSocket from 'ws';
import { openRoom, type BenchRoom } from './seedRooms';
import { chooseStore, startServer, tokenFor } from './support';
import { summarize, timedSends } from './timedSends';

const { values: args } = parseArgs({
  options: {
    sends: { type: 'string', default: '300' },
    uploaders: { type: 'string', default: '20' },
    store: { type: 'string', default: 'postgres' },
  },
});

async function connect(base: string, userId: string): Promise<WebSocket> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/chat`, ['chat.v1', tokenFor(userId)]);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return socket;
}

/** A phone-sized JPEG of about 5 MB: noise compresses badly, as a detailed photo does. */
async function aFiveMegabytePhoto(): Promise<Buffer> {
  const width = 3000;
  const height = 2000;
  const noise = randomBytes(width * height * 3);
  return sharp(noise, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .withExif({ IFD0: { Make: 'BenchPhone' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '52/1 31/1 12/1' } })
    .toBuffer();
}

/**
 * Uploads the photo to the room again and again until stopped, as a client would: a
 * refusal (503 when the server's upload slots are full) waits its Retry-After. Counts
 * uploads, refusals and each upload's time.
 */
function uploadForever(base: string, room: BenchRoom, photo: Buffer) {
  const tally = { uploads: 0, refused: 0, ms: [] as number[] };
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      const status = await fetch(`${base}/api/rooms/${room.roomId}/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokenFor(room.borrower)}`, 'content-type': 'image/jpeg' },
        body: new Uint8Array(photo),
      }).then(
        async (response) => {
          await response.arrayBuffer();
          return { code: response.status, retryAfter: Number(response.headers.get('retry-after') ?? 1) };
        },
        // The server answered early and closed the connection mid-body: a refusal too.
        () => ({ code: 0, retryAfter: 1 }),
      );
      if (status.code === 201) {
        tally.uploads += 1;
        tally.ms.push(performance.now() - t0);
      } else {
        tally.refused += 1;
        await new Promise((resolve) => setTimeout(resolve, status.retryAfter * 1000));
      }
    }
  })();
  return {
    tally,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/**
 * The server's own event-loop delay since the last call (prom-client resets its
 * histogram at each scrape of /metrics): a figure of the server alone, where send→ack
 * also carries the client and the machine.
 */
async function serverLoopDelay(base: string): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? Number.NaN : Number(line.slice(name.length + 1)) * 1000;
  };
  return { p99Ms: read('nodejs_eventloop_lag_p99_seconds'), maxMs: read('nodejs_eventloop_lag_max_seconds') };
}

async function main(): Promise<void> {
  const sends = Number(args.sends);
  const uploaders = Number(args.uploaders);
  const store = await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres');
  // No upload budget: the benchmark uploads far more than a person would.
  const server = await startServer({ ...store.env, ATTACHMENT_UPLOADS_PER_MINUTE: '0', ATTACHMENT_UPLOAD_BYTES_PER_MINUTE: '0' });
  try {
    const loadBefore = loadavg()[0] ?? 0;
    const photo = await aFiveMegabytePhoto();
    const chat = await openRoom(server.url, 'chat');
    const rooms = await Promise.all(Array.from({ length: uploaders }, (_, i) => openRoom(server.url, `photos-${i}`)));
    const socket = await connect(server.url, chat.borrower);
    await timedSends(socket, chat.roomId, 50, 10); // warm-up, not counted

    await serverLoopDelay(server.url);
    const quiet = summarize(await timedSends(socket, chat.roomId, sends, 10));
    const quietLoop = await serverLoopDelay(server.url);

    const loops = rooms.map((room) => uploadForever(server.url, room, photo));
    // Let every uploader get going before the timed sends start.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await serverLoopDelay(server.url);
    const busy = summarize(await timedSends(socket, chat.roomId, sends, 10));
    const busyLoop = await serverLoopDelay(server.url);
    await Promise.all(loops.map((loop) => loop.stop()));
    socket.close();

    const uploaded = loops.reduce((sum, loop) => sum + loop.tally.uploads, 0);
    const refused = loops.reduce((sum, loop) => sum + loop.tally.refused, 0);
    const uploadMs = summarize(loops.flatMap((loop) => loop.tally.ms));
    const f = (ms: number) => `${ms.toFixed(1)} ms`.padStart(10);
    process.stdout.write(`load average (1 min): ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after\n`);
    process.stdout.write(`store: ${store.description}; photo: ${(photo.length / 1_048_576).toFixed(1)} MiB JPEG, 3000×2000\n`);
    process.stdout.write(`${''.padEnd(40)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'worst'.padStart(10)}\n`);
    process.stdout.write(`send→ack, quiet (${sends} sends)`.padEnd(40) + `${f(quiet.p50Ms)}${f(quiet.p99Ms)}${f(quiet.worstMs)}\n`);
    process.stdout.write(`send→ack, ${uploaders} uploading (${sends} sends)`.padEnd(40) + `${f(busy.p50Ms)}${f(busy.p99Ms)}${f(busy.worstMs)}\n`);
    process.stdout.write(`server event-loop delay, quiet`.padEnd(40) + `${''.padStart(10)}${f(quietLoop.p99Ms)}${f(quietLoop.maxMs)}\n`);
    process.stdout.write(`server event-loop delay, ${uploaders} uploading`.padEnd(40) + `${''.padStart(10)}${f(busyLoop.p99Ms)}${f(busyLoop.maxMs)}\n`);
    process.stdout.write(`upload (each 201)`.padEnd(40) + `${f(uploadMs.p50Ms)}${f(uploadMs.p99Ms)}${f(uploadMs.worstMs)}\n`);
    process.stdout.write(`uploads done: ${uploaded}, refused: ${refused} (503s wait their Retry-After)\n`);
    process.stdout.write(`ratio busy/quiet: p50 ×${(busy.p50Ms / quiet.p50Ms).toFixed(2)}, p99 ×${(busy.p99Ms / quiet.p99Ms).toFixed(2)}\n`);
  } finally {
    await server.stop();
    await store.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

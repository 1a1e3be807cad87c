import { createHash } from 'node:crypto';
import { request } from 'node:http';
import exifr from 'exifr';
import sharp from 'sharp';
import { randomUUID } from 'node:crypto';
import { as, call, eventually, metric, openRoom, unique } from '../support/http';
import { withConnection } from '../support/databases';
import { closedAfterEach, connect } from '../support/ws';
import { aPhoneJpeg, aPng, aPngBomb, aWebp } from '../support/images';
import { ManualClock, startTestServer, type TestServer } from '../support/server';
import { tokenFor } from '../support/tokens';
import { RecordingLogger } from '../support/logger';
import { runCli } from '../support/auditCli';

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are what the tests assert on */

const MAX_BYTES = 1024 * 1024;

/** Uploads `data` as the body, as a browser's fetch would. */
async function upload(baseUrl: string, roomId: string, userId: string, data: Buffer, contentType = 'image/jpeg') {
  const response = await fetch(`${baseUrl}/api/rooms/${roomId}/attachments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenFor(userId)}`, 'content-type': contentType },
    body: new Uint8Array(data),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** What a browser's <img src> does: a plain GET, no token. */
async function download(baseUrl: string, url: string) {
  const response = await fetch(`${baseUrl}${url}`);
  return { status: response.status, headers: response.headers, data: Buffer.from(await response.arrayBuffer()) };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('photo attachments over HTTP', () => {
  let server: TestServer;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    server = await startTestServer('postgres', { clock, env: { ATTACHMENT_MAX_BYTES: String(MAX_BYTES), ATTACHMENT_UPLOADS_PER_MINUTE: '5' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('takes a phone JPEG and gives back one with no location, no EXIF at all, turned upright', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const original = await aPhoneJpeg(400, 200);
    // The test photo does carry a position, or the test would prove nothing.
    expect(await exifr.gps(original)).toMatchObject({ latitude: expect.closeTo(52.52, 1) });

    const uploaded = await upload(server.url, room.roomId, room.borrowerId, original);
    expect(uploaded.status).toBe(201);
    const attachment = uploaded.body.attachment;
    // Orientation 6 applied: the 400×200 pixels are shown 200 wide and 400 high.
    expect(attachment).toMatchObject({ contentType: 'image/jpeg', width: 200, height: 400 });

    const image = await download(server.url, attachment.url);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(image.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    expect(image.data.length).toBe(attachment.bytes);
    expect(sha256(image.data)).toBe(attachment.sha256);
    // Parsed, not trusted: no GPS, no EXIF block, no XMP, no orientation left to apply.
    expect(await exifr.gps(image.data)).toBeUndefined();
    expect(await exifr.parse(image.data, true)).toBeUndefined();
    const meta = await sharp(image.data).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 200, height: 400 });
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.iptc).toBeUndefined();
    expect(meta.orientation).toBeUndefined();

    const thumbnail = await download(server.url, attachment.thumbnailUrl);
    expect(thumbnail.status).toBe(200);
    expect(await exifr.gps(thumbnail.data)).toBeUndefined();
    const thumbMeta = await sharp(thumbnail.data).metadata();
    expect(Math.max(thumbMeta.width ?? 0, thumbMeta.height ?? 0)).toBeLessThanOrEqual(320);
    expect(thumbMeta.exif).toBeUndefined();
  });

  it('judges the type from the bytes: a PNG sent as image/jpeg is a PNG, WebP is taken', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const png = await upload(server.url, room.roomId, room.borrowerId, await aPng(64, 48), 'image/jpeg');
    expect(png.status).toBe(201);
    expect(png.body.attachment).toMatchObject({ contentType: 'image/png', width: 64, height: 48 });
    const image = await download(server.url, png.body.attachment.url);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect((await sharp(image.data).metadata()).format).toBe('png');

    const webp = await upload(server.url, room.roomId, room.lenderId, await aWebp(), 'application/octet-stream');
    expect(webp.status).toBe(201);
    expect(webp.body.attachment.contentType).toBe('image/webp');
  });

  it('refuses a text file posing as an image with 415, and a GIF the same way', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const text = await upload(server.url, room.roomId, room.borrowerId, Buffer.from('not a photo at all\n'.repeat(500)), 'image/jpeg');
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('unsupported_media_type');
    expect(text.body.error.message).toMatch(/JPEG, PNG or WebP/);
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).gif().toBuffer();
    expect((await upload(server.url, room.roomId, room.borrowerId, gif, 'image/jpeg')).status).toBe(415);
  });

  it('refuses a 50-megapixel bomb without decoding it', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const bomb = aPngBomb(10_000, 5_000);
    expect(bomb.length).toBeLessThan(10_000);
    const refused = await upload(server.url, room.roomId, room.borrowerId, bomb, 'image/png');
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/50 megapixels/) });
  });

  it('refuses a body over ATTACHMENT_MAX_BYTES while it is still streaming in', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const url = new URL(`${server.url}/api/rooms/${room.roomId}/attachments`);
    const jpegStart = Buffer.alloc(64 * 1024, 0x20);
    (await aPhoneJpeg(16, 16)).copy(jpegStart);
    const answer = await new Promise<{ status: number; body: any; sentWhenAnswered: number; ended: boolean }>((resolve, reject) => {
      let sent = 0;
      let answered = false;
      // Chunked, no Content-Length: the server learns the size only by reading.
      const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${tokenFor(room.borrowerId)}`, 'content-type': 'image/jpeg' } });
      req.on('response', (res) => {
        answered = true;
        const sentWhenAnswered = sent;
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), sentWhenAnswered, ended: req.writableEnded }));
      });
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      // Keeps sending (up to 64 MiB) until the server answers; never ends the body on its own.
      const pump = () => {
        while (!answered && sent < 64 * MAX_BYTES) {
          sent += jpegStart.length;
          if (!req.write(jpegStart)) return void req.once('drain', pump);
        }
      };
      pump();
    });
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('payload_too_large');
    expect(answer.ended).toBe(false);
    // Answered long before the 64 MiB were sent: the server stopped at the limit.
    expect(answer.sentWhenAnswered).toBeLessThan(16 * MAX_BYTES);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const refused = await upload(server.url, room.roomId, room.borrowerId, Buffer.alloc(MAX_BYTES + 1, 0xff));
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('payload_too_large');
  });

  it("answers a stranger's upload with 404, as for any room they are not part of", async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const refused = await upload(server.url, room.roomId, unique('stranger'), await aPng());
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('not_found');
    expect((await call(server.url, 'POST', `/api/rooms/${room.roomId}/attachments`, { raw: 'x' })).status).toBe(401);
  });

  it("keeps to each user's upload budget", async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const png = await aPng(8, 8);
    for (let i = 0; i < 5; i += 1) expect((await upload(server.url, room.roomId, room.borrowerId, png, 'image/png')).status).toBe(201);
    const refused = await upload(server.url, room.roomId, room.borrowerId, png, 'image/png');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    // The other participant's budget is their own.
    expect((await upload(server.url, room.roomId, room.lenderId, png, 'image/png')).status).toBe(201);
  });

  /** Sends over HTTP as `userId`. */
  const send = (roomId: string, userId: string, body: string, attachments: string[], clientMessageId: string = randomUUID()) =>
    as(server.url, tokenFor(userId)).post(`/api/rooms/${roomId}/messages`, { clientMessageId, body, attachments });
  const track = closedAfterEach();

  it('sends a photo with no words; the other participant sees it live and in the history, and both load it', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const lender = track(await connect(server.url, room.lenderId));
    const uploaded = (await upload(server.url, room.roomId, room.borrowerId, await aPhoneJpeg(300, 200))).body.attachment;

    const sent = await send(room.roomId, room.borrowerId, '', [uploaded.attachmentId]);
    expect(sent.status).toBe(201);
    const expected = {
      attachmentId: uploaded.attachmentId,
      contentType: 'image/jpeg',
      bytes: uploaded.bytes,
      width: 200,
      height: 300,
      sha256: uploaded.sha256,
      url: expect.stringMatching(/^\/attachments\//),
      thumbnailUrl: expect.stringMatching(/^\/attachments\//),
    };
    expect(sent.body.message).toMatchObject({ body: '', attachments: [expected] });

    const live = await lender.next((f) => f.type === 'message' && f.message.roomId === room.roomId);
    expect(live.message.attachments).toEqual([expected]);
    const history = await as(server.url, tokenFor(room.lenderId)).get(`/api/rooms/${room.roomId}/messages`);
    const [message] = history.body.messages;
    expect(message.attachments).toEqual([expected]);
    const image = await download(server.url, message.attachments[0].url);
    expect(image.status).toBe(200);
    expect(sha256(image.data)).toBe(uploaded.sha256);
    expect(await exifr.gps(image.data)).toBeUndefined();
    expect((await download(server.url, live.message.attachments[0].thumbnailUrl)).status).toBe(200);

    // The record: MessageSent carries each rendition's digest.
    const audit = await as(server.url, tokenFor(unique('auditor'), { roles: ['auditor'] })).get(`/api/audit/rooms/${room.roomId}/events`);
    const recorded = audit.body.events.find((e: any) => e.type === 'MessageSent');
    expect(recorded.data.attachments).toEqual([
      expect.objectContaining({ attachmentId: uploaded.attachmentId, sha256: uploaded.sha256, thumbnail: expect.objectContaining({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }) }),
    ]);
  });

  it('sends a photo over the WebSocket too, with words', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const borrower = track(await connect(server.url, room.borrowerId));
    const uploaded = (await upload(server.url, room.roomId, room.borrowerId, await aPng())).body.attachment;
    const clientMessageId = randomUUID();
    borrower.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'the scratch', attachments: [uploaded.attachmentId] });
    const ack = await borrower.next((f) => f.type === 'ack' || f.type === 'error');
    expect(ack.type).toBe('ack');
    expect(ack.message).toMatchObject({ body: 'the scratch', attachments: [expect.objectContaining({ attachmentId: uploaded.attachmentId, contentType: 'image/png' })] });
  });

  it('needs words or a photo: an empty body with no attachment is refused', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const refused = await send(room.roomId, room.borrowerId, '', []);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/^body:/);
  });

  it('sends an attachment once: a retry gives the same message, another message is refused and records nothing', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const uploaded = (await upload(server.url, room.roomId, room.borrowerId, await aPng())).body.attachment;
    const clientMessageId = randomUUID();
    const first = await send(room.roomId, room.borrowerId, 'look', [uploaded.attachmentId], clientMessageId);
    expect(first.status).toBe(201);
    const retry = await send(room.roomId, room.borrowerId, 'look', [uploaded.attachmentId], clientMessageId);
    expect(retry.status).toBe(200);
    expect(retry.body.message.messageId).toBe(first.body.message.messageId);

    const again = await send(room.roomId, room.borrowerId, 'look again', [uploaded.attachmentId]);
    expect(again.status).toBe(400);
    expect(again.body.error).toEqual({ code: 'bad_request', message: expect.stringMatching(/^attachments\[0\]: .*already sent/) });
    const history = await as(server.url, tokenFor(room.borrowerId)).get(`/api/rooms/${room.roomId}/messages`);
    expect(history.body.messages).toHaveLength(1);
  });

  it("refuses an attachment in another room, or sent by the other participant, and leaves it free to send where it belongs", async () => {
    const lenderId = unique('lender');
    const borrowerId = unique('borrower');
    const here = await openRoom(server.url, lenderId, borrowerId);
    const elsewhere = await openRoom(server.url, lenderId, borrowerId);
    const uploaded = (await upload(server.url, here.roomId, borrowerId, await aPng())).body.attachment;

    const wrongRoom = await send(elsewhere.roomId, borrowerId, 'x', [uploaded.attachmentId]);
    expect(wrongRoom.status).toBe(400);
    expect(wrongRoom.body.error.message).toMatch(/^attachments\[0\]: no attachment .* uploaded by you to this room/);
    const notTheirs = await send(here.roomId, lenderId, 'x', [uploaded.attachmentId]);
    expect(notTheirs.status).toBe(400);
    const unknown = await send(here.roomId, borrowerId, 'x', [randomUUID()]);
    expect(unknown.status).toBe(400);
    // A refused send (blocked here) does not use the photo up either.
    expect((await as(server.url, tokenFor(lenderId)).post(`/api/rooms/${here.roomId}/block`)).status).toBe(204);
    expect((await send(here.roomId, borrowerId, 'x', [uploaded.attachmentId])).status).toBe(403);
    expect((await as(server.url, tokenFor(lenderId)).delete(`/api/rooms/${here.roomId}/block`)).status).toBe(204);
    expect((await send(here.roomId, borrowerId, 'x', [uploaded.attachmentId])).status).toBe(201);
  });

  it('lets an auditor fetch a photo (recorded as an audit read), and audit verify catches a swapped image', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const auditorId = unique('auditor');
    const auditor = as(server.url, tokenFor(auditorId, { roles: ['auditor'] }));
    const uploaded = (await upload(server.url, room.roomId, room.borrowerId, await aPhoneJpeg(120, 90))).body.attachment;
    expect((await send(room.roomId, room.borrowerId, 'before', [uploaded.attachmentId])).status).toBe(201);

    const fetched = await fetch(`${server.url}/api/audit/attachments/${uploaded.attachmentId}/image`, { headers: { authorization: `Bearer ${tokenFor(auditorId, { roles: ['auditor'] })}` } });
    expect(fetched.status).toBe(200);
    expect(sha256(Buffer.from(await fetched.arrayBuffer()))).toBe(uploaded.sha256);
    // A participant is no auditor.
    expect((await as(server.url, tokenFor(room.borrowerId)).get(`/api/audit/attachments/${uploaded.attachmentId}/image`)).status).toBe(403);
    const reads = await recordedReads(auditorId);
    expect(reads).toContainEqual(expect.objectContaining({ action: 'attachment', attachmentId: uploaded.attachmentId, variant: 'image', roomId: room.roomId }));

    expect((await auditor.get(`/api/audit/verify?room=${room.roomId}`)).body).toMatchObject({ verified: true });
    // Someone with the database swaps the stored image for another picture (stored whole, as before parts).
    const other = await sharp({ create: { width: 120, height: 90, channels: 3, background: 'blue' } }).jpeg().toBuffer();
    await withConnection(server.database, (db) =>
      db.query(`UPDATE attachment_blobs SET data = $2, generation = NULL, bytes = NULL WHERE key = $1`, [`${uploaded.attachmentId}/image`, other]),
    );
    const verdict = await auditor.get(`/api/audit/verify?room=${room.roomId}`);
    expect(verdict.body.verified).toBe(false);
    expect(verdict.body.failures[0].problem).toMatchObject({ kind: 'attachment_mismatch', detail: expect.stringContaining(uploaded.attachmentId) });
  });

  it("stores a photo sealed under the uploader's data key: the table holds no image, and once the key is destroyed nobody can load it while audit verify still passes", async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const auditorToken = tokenFor(unique('auditor'), { roles: ['auditor'] });
    const uploaded = (await upload(server.url, room.roomId, room.borrowerId, await aPhoneJpeg(160, 120))).body.attachment;
    expect((await send(room.roomId, room.borrowerId, '', [uploaded.attachmentId])).status).toBe(201);
    const image = await download(server.url, uploaded.url);
    expect(image.status).toBe(200);
    expect(sha256(image.data)).toBe(uploaded.sha256);

    const stored = await withConnection(server.database, async (db) => {
      // Each rendition's bytes, put together from their parts.
      const { rows } = await db.query<{ key: string; data: Buffer }>(
        `SELECT b.key, (SELECT string_agg(p.data, ''::bytea ORDER BY p.part) FROM attachment_blob_parts p WHERE p.key = b.key AND p.generation = b.generation) AS data
           FROM attachment_blobs b WHERE b.key LIKE $1`,
        [`${uploaded.attachmentId}/%`],
      );
      return rows;
    });
    expect(stored.map((r) => r.key).sort()).toEqual([`${uploaded.attachmentId}/image`, `${uploaded.attachmentId}/thumbnail`]);
    // The audit CLI opens them with the data keys to check their digests.
    const before = await runCli(server.database, ['verify', '--room', room.roomId]);
    expect({ code: before.code, out: before.stdout }).toMatchObject({ code: 0 });
    for (const row of stored) {
      // Not a JPEG (FF D8), and no run of the served image's bytes in it.
      expect(row.data.subarray(0, 2).equals(Buffer.from([0xff, 0xd8]))).toBe(false);
      expect(row.data.includes(image.data.subarray(100, 164))).toBe(false);
    }

    // Destroying the borrower's keys (what erasure and retention do) leaves bytes nobody can open.
    await withConnection(server.database, (db) =>
      db.query(`UPDATE data_keys SET wrapped_key = NULL, kek_id = NULL, destroyed_at = now() WHERE room_id = $1 AND sender_id = $2`, [room.roomId, room.borrowerId]),
    );
    // A process started afterwards (none of the key in its memory) serves the same database.
    const fresh = await startTestServer('postgres', { database: server.database, clock, env: { ATTACHMENT_MAX_BYTES: String(MAX_BYTES) } });
    try {
      expect((await download(fresh.url, uploaded.url)).status).toBe(404);
      expect((await download(fresh.url, uploaded.thumbnailUrl)).status).toBe(404);
      expect((await as(fresh.url, auditorToken).get(`/api/audit/verify?room=${room.roomId}`)).body).toMatchObject({ verified: true });
      expect((await runCli(server.database, ['verify', '--room', room.roomId])).code).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  /** The AuditAccessed events of one auditor, from today's access stream, as another auditor reads them. */
  async function recordedReads(auditorId: string): Promise<any[]> {
    const { rows } = await withConnection(server.database, (db) =>
      db.query<{ data: any }>(`SELECT data FROM events WHERE event_type = 'AuditAccessed' AND data->>'actorId' = $1`, [auditorId]),
    );
    return rows.map((r) => (typeof r.data === 'string' ? JSON.parse(r.data) : r.data));
  }

  it("erases a user's photos through the erasure seam: their bytes are gone, the other side's stay", async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const theirs = (await upload(server.url, room.roomId, room.borrowerId, await aPng())).body.attachment;
    const kept = (await upload(server.url, room.roomId, room.lenderId, await aPng())).body.attachment;
    expect((await send(room.roomId, room.borrowerId, '', [theirs.attachmentId])).status).toBe(201);
    expect(await eraseThroughDatabase(room.borrowerId)).toBe(1);
    expect((await download(server.url, theirs.url)).status).toBe(404);
    expect((await download(server.url, kept.url)).status).toBe(200);
  });

  /** The use case over this server's own database, as the erasure process will call it (only the parts it uses). */
  async function eraseThroughDatabase(userId: string): Promise<number> {
    const { makeAttachments } = await import('../../src/application/attachments/attachments');
    const { SqlAttachmentCatalog } = await import('../../src/infrastructure/attachments/sqlAttachmentCatalog');
    const { PostgresAttachmentStore } = await import('../../src/infrastructure/attachments/postgresAttachmentStore');
    return withConnection(server.database, (db) =>
      makeAttachments({
        store: new PostgresAttachmentStore(db),
        catalog: new SqlAttachmentCatalog(db),
        pipeline: null as never,
        rooms: null as never,
        budget: null as never,
        slots: null as never,
        clock: clock,
        ids: null as never,
        logger: null as never,
        unsentTtlMs: 86_400_000,
        keys: null as never,
      }).eraseUploadsOf(userId),
    );
  }

  it('refuses a forged, altered or expired link', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const first = (await upload(server.url, room.roomId, room.borrowerId, await aPng())).body.attachment;
    const second = (await upload(server.url, room.roomId, room.borrowerId, await aPng(20, 20))).body.attachment;
    expect((await download(server.url, first.url)).status).toBe(200);
    // Another attachment's signature, a made-up one, none, a later expiry: all 403.
    const secondSig = new URL(second.url, server.url).searchParams.get('sig') as string;
    const firstUrl = new URL(first.url, server.url);
    const withParams = (params: Record<string, string>) => {
      const url = new URL(firstUrl);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return `${url.pathname}${url.search}`;
    };
    expect((await download(server.url, withParams({ sig: secondSig }))).status).toBe(403);
    expect((await download(server.url, withParams({ sig: 'A'.repeat(43) }))).status).toBe(403);
    expect((await download(server.url, withParams({ expires: String(Number(firstUrl.searchParams.get('expires')) + 3600) }))).status).toBe(403);
    expect((await download(server.url, firstUrl.pathname)).status).toBe(400);
    // Past its expiry the link stops working.
    clock.advance(2 * 3_600_000);
    const expired = await download(server.url, first.url);
    expect(expired.status).toBe(403);
    expect(JSON.parse(expired.data.toString()).error.message).toMatch(/expired/);
  });
});

describe('uploads handled at once (ATTACHMENT_UPLOADS_AT_ONCE)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { ATTACHMENT_UPLOADS_AT_ONCE: '1', ATTACHMENT_UPLOADS_PER_MINUTE: '2' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('refuses an upload past the bound with 503 and Retry-After, stores nothing of it, and takes the next once one is answered', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const photo = await aPhoneJpeg(64, 48);
    // One upload in progress: its body sent but for its last bytes, held open.
    const held = request(new URL(`${server.url}/api/rooms/${room.roomId}/attachments`), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenFor(room.borrowerId)}`, 'content-type': 'image/jpeg', 'content-length': String(photo.length) },
    });
    const heldAnswer = new Promise<{ status: number; body: any }>((resolve, reject) => {
      held.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      held.on('error', reject);
    });
    held.write(photo.subarray(0, photo.length - 16));
    await eventually(async () => (await metric(server.url, 'chat_uploads_in_progress')) === 1, 15_000, 'the held upload to be admitted');

    // The other participant's upload finds no slot: refused before its body is read, nothing stored.
    const refused = await upload(server.url, room.roomId, room.lenderId, photo);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/uploads .* at once/) });
    const again = await fetch(`${server.url}/api/rooms/${room.roomId}/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenFor(room.lenderId)}`, 'content-type': 'image/jpeg' },
      body: new Uint8Array(photo),
    });
    expect(again.status).toBe(503);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    await again.arrayBuffer();

    held.end(photo.subarray(photo.length - 16));
    expect((await heldAnswer).status).toBe(201);
    const stored = await withConnection(server.database, async (db) => (await db.query(`SELECT uploader_id FROM attachments`)).rows);
    expect(stored).toEqual([{ uploader_id: room.borrowerId }]);

    // The slot is free again; the refusals cost the lender none of their 2 uploads a minute.
    expect((await upload(server.url, room.roomId, room.lenderId, photo)).status).toBe(201);
    expect((await upload(server.url, room.roomId, room.lenderId, photo)).status).toBe(201);
    expect((await upload(server.url, room.roomId, room.lenderId, photo)).status).toBe(429);
  });
});

describe('unsent attachments', () => {
  const clock = new ManualClock(new Date());
  const logger = new RecordingLogger();
  let server: TestServer;
  const sweepsDone = () => logger.lines.filter((l) => l.message.startsWith('expiry sweep finished')).length;

  beforeAll(async () => {
    // A sweep every second, on the test's clock.
    server = await startTestServer('postgres', { clock, logger, env: { EXPIRY_SWEEP_CRON: '* * * * * *' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('deletes a photo never sent a day after its upload, and keeps one that was sent', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const unsent = (await upload(server.url, room.roomId, room.borrowerId, await aPng())).body.attachment;
    const sent = (await upload(server.url, room.roomId, room.borrowerId, await aPng(30, 30))).body.attachment;
    const token = tokenFor(room.borrowerId);
    expect((await as(server.url, token).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: '', attachments: [sent.attachmentId] })).status).toBe(201);
    const stored = () =>
      withConnection(server.database, async (db) => {
        const { rows } = await db.query<{ key: string }>(`SELECT key FROM attachment_blobs`);
        return rows.map((r) => r.key.split('/')[0]);
      });
    expect(new Set(await stored())).toEqual(new Set([unsent.attachmentId, sent.attachmentId]));

    clock.advance(23 * 3_600_000);
    // Not a day yet: a whole sweep that began after the clock moved leaves it there.
    const before = sweepsDone();
    await eventually(async () => sweepsDone() >= before + 2, 15_000, 'a sweep after the clock moved');
    expect(await stored()).toContain(unsent.attachmentId);

    clock.advance(2 * 3_600_000);
    await eventually(async () => !(await stored()).includes(unsent.attachmentId), 15_000, 'the unsent attachment to be deleted');
    expect(await stored()).toContain(sent.attachmentId);
    const late = await as(server.url, token).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: '', attachments: [unsent.attachmentId] });
    expect(late.status).toBe(400);
  });
});

import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { withConnection } from '../../support/databases';
import { aPng } from '../../support/images';
import { as, call, eventually, openRoom, unique } from '../../support/http';
import { ManualClock, startTestServer, type TestServer } from '../../support/server';
import { HOUR, MINUTE } from '../../support/time';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { HttpReceiver, newWebhookSecret } from '../../support/webhookReceiver';
import { closedAfterEach, connect } from '../../support/ws';

/**
 * Trust and safety end to end, on two server processes sharing one PostgreSQL database:
 * a borrower reports the lender's message, a moderator reads the queue and the report (the
 * read is recorded), hides the message (both participants see it hidden, live and after a
 * reload; the auditor still reads it), and suspends the lender (writes refused on both
 * processes at once, reads allowed, over until the test clock passes `until`). The
 * marketplace hears of it by signed webhooks.
 */
describe('reports, moderation and suspension', () => {
  const clock = new ManualClock(new Date());
  const secret = newWebhookSecret();
  const track = closedAfterEach();
  let receiver: HttpReceiver;
  let one: TestServer;
  let two: TestServer;

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    const env = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret };
    one = await startTestServer('postgres', { clock, env });
    two = await startTestServer('postgres', { clock, env, database: one.database });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
    await one?.database.drop();
    await receiver?.close();
  });

  const moderator = (server: TestServer) => as(server.url, tokenFor(unique('mod'), { roles: ['moderator'] }));
  const user = (server: TestServer, id: string) => as(server.url, tokenFor(id));
  const webhook = (type: string, match: (data: Record<string, unknown>) => boolean) =>
    receiver.received.find((r) => r.json?.type === type && match(r.json.data));

  it('shows a reported photo in the report’s context, as the room shows it: its attachments, at URLs that load, also once hidden', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(one.url, lena, bob);
    const upload = await call(one.url, 'POST', `/api/rooms/${room.roomId}/attachments`, { token: tokenFor(lena), raw: await aPng(), headers: { 'content-type': 'image/png' } });
    expect(upload.status).toBe(201);
    const { attachmentId } = upload.body.attachment;
    const sent = await user(one, lena).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'see the photo', attachments: [attachmentId] });
    expect(sent.status).toBe(201);
    const reported = await user(one, bob).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'abuse' });
    expect(reported.status).toBe(201);
    const mod = moderator(two);
    const shown = async () => {
      const read = await mod.get(`/api/moderation/reports/${reported.body.report.reportId}`);
      expect(read.status).toBe(200);
      return read.body.context.find((m: { seq: number }) => m.seq === 1);
    };
    const inContext = await shown();
    const inRoom = (await user(one, bob).get(`/api/rooms/${room.roomId}/messages`)).body.messages.find((m: { seq: number }) => m.seq === 1);
    expect(inContext.attachments).toHaveLength(1);
    expect(inContext.attachments[0]).toMatchObject({ attachmentId, contentType: 'image/png', width: 64, height: 48, sha256: inRoom.attachments[0].sha256 });
    for (const link of [inContext.attachments[0].url, inContext.attachments[0].thumbnailUrl]) {
      expect(link).toMatch(/^\/attachments\//);
      const image = await fetch(`${two.url}${link}`);
      expect([image.status, image.headers.get('content-type')?.startsWith('image/')]).toEqual([200, true]);
    }
    // Hidden by the moderator: the participants no longer see the photo; the moderator still does.
    const hidden = await mod.post(`/api/moderation/reports/${reported.body.report.reportId}/resolution`, { action: 'hide_message', note: 'not for a rental chat' });
    expect(hidden.status).toBe(200);
    await eventually(async () => (await shown()).hidden === true, 10_000, 'hidden in the context');
    expect((await shown()).attachments).toHaveLength(1);
  });

  it('takes a report from the recipient, queues it, and hides the message for both participants, live and after reload', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(one.url, lena, bob);
    const scam = await user(one, lena).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: '계좌로 먼저 입금해 주세요' });
    await user(one, bob).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'Why?' });
    expect(scam.body.message.safety).toEqual(['contact_info']);

    // Only the recipient may report; the sender of the message may not report it.
    const own = await user(one, lena).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'scam' });
    expect(own.status).toBe(403);
    expect(own.body.error.code).toBe('forbidden');
    const stranger = await user(one, unique('eve')).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'scam' });
    expect(stranger.status).toBe(404);

    const reported = await user(one, bob).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'scam', note: 'asks for a transfer' });
    expect(reported.status).toBe(201);
    const report = reported.body.report;
    expect(report).toMatchObject({ roomId: room.roomId, seq: 1, reporterId: bob, reportedUserId: lena, reason: 'scam', note: 'asks for a transfer', status: 'open', resolution: null });
    const again = await user(two, bob).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'spam' });
    expect(again.status).toBe(200);
    expect(again.body.report).toEqual(report);

    // The marketplace hears of it, signed as every webhook is.
    await eventually(async () => webhook('message.reported', (d) => d.reportId === report.reportId) !== undefined, 10_000, 'message.reported');
    const delivery = webhook('message.reported', (d) => d.reportId === report.reportId)!;
    expect(new Webhook(secret).verify(delivery.body, delivery.headers)).toMatchObject({
      type: 'message.reported',
      data: { reportId: report.reportId, roomId: room.roomId, seq: 1, reporterId: bob, reportedUserId: lena, reason: 'scam' },
    });

    // The queue is for moderators only.
    expect((await user(one, bob).get('/api/moderation/reports')).status).toBe(403);
    const mod = moderator(two);
    const queue = await mod.get('/api/moderation/reports?status=open&limit=100');
    expect(queue.status).toBe(200);
    expect(queue.body.reports.map((r: { reportId: string }) => r.reportId)).toContain(report.reportId);

    const read = await mod.get(`/api/moderation/reports/${report.reportId}`);
    expect(read.status).toBe(200);
    expect(read.body.context.map((m: { seq: number; body: string }) => [m.seq, m.body])).toEqual([
      [1, '계좌로 먼저 입금해 주세요'],
      [2, 'Why?'],
    ]);
    // The moderator's read is in the record, like an auditor's.
    const accesses = await withConnection(one.database, (db) =>
      db.query<{ data: { action: string; reportId: string; roomId: string } }>(
        `SELECT data FROM events WHERE stream_id LIKE 'audit-access-%' AND event_type = 'AuditAccessed' AND data->>'reportId' = $1`,
        [report.reportId],
      ),
    );
    expect(accesses.rows.map((r) => r.data)).toEqual([expect.objectContaining({ action: 'moderation-report', roomId: room.roomId })]);

    const lenaSocket = track(await connect(two.url, lena));
    const bobSocket = track(await connect(one.url, bob));
    const resolved = await mod.post(`/api/moderation/reports/${report.reportId}/resolution`, { action: 'hide_message', note: 'deposit scam' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.report).toMatchObject({ status: 'resolved', resolution: { action: 'hide_message', note: 'deposit scam' } });
    for (const socket of [lenaSocket, bobSocket]) {
      expect(await socket.nextOf('message_hidden')).toEqual({ type: 'message_hidden', roomId: room.roomId, seq: 1 });
    }
    for (const [server, who] of [[one, bob], [two, lena]] as const) {
      const history = await user(server, who).get(`/api/rooms/${room.roomId}/messages`);
      expect(history.body.messages[0]).toMatchObject({ seq: 1, hidden: true, body: '', safety: [], senderId: lena });
      expect(history.body.messages[1]).toMatchObject({ seq: 2, hidden: false, body: 'Why?' });
    }
    // The auditor still reads what it said.
    const audit = await as(one.url, tokenFor(unique('auditor'), { roles: ['auditor'] })).get(`/api/audit/rooms/${room.roomId}/events`);
    const types = audit.body.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['MessageReported', 'ReportResolved', 'MessageHidden']));
    // The text is stored sealed (docs/privacy.md); the auditor reads it opened, as `content`.
    expect(audit.body.events.find((e: { type: string; data: { seq: number } }) => e.type === 'MessageSent' && e.data.seq === 1).content.body).toBe('계좌로 먼저 입금해 주세요');

    // Resolved once: a second resolution changes nothing.
    const twice = await mod.post(`/api/moderation/reports/${report.reportId}/resolution`, { action: 'dismiss', note: '' });
    expect(twice.body.report.resolution.action).toBe('hide_message');
    expect((await mod.get('/api/moderation/reports?status=resolved&limit=100')).body.reports.map((r: { reportId: string }) => r.reportId)).toContain(report.reportId);
  });

  it('suspends the sender: writes refused on every process at once, reads allowed, over at until', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(one.url, lena, bob);
    await user(one, lena).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'add me on telegram' });
    const report = (await user(one, bob).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'scam' })).body.report;
    const lenaOnTwo = track(await connect(two.url, lena));

    const resolved = await moderator(one).post(`/api/moderation/reports/${report.reportId}/resolution`, {
      action: 'suspend_sender',
      note: 'moves deals off the platform',
      suspendFor: '1h',
    });
    expect(resolved.status).toBe(200);
    const until = new Date(clock.now().getTime() + HOUR).toISOString();

    // At once, on both processes, over HTTP and WebSocket: writes refused with `suspended`.
    for (const server of [one, two]) {
      const send = await user(server, lena).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'hello?' });
      expect(send.status).toBe(403);
      expect(send.body.error.code).toBe('suspended');
      const reopen = await user(server, lena).post(`/api/rooms/${room.roomId}/reopen`);
      expect(reopen.body.error.code).toBe('suspended');
    }
    expect(await lenaOnTwo.nextOf('suspended')).toEqual({ type: 'suspended', until });
    const clientMessageId = randomUUID();
    lenaOnTwo.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'hello?' });
    expect(await lenaOnTwo.nextOf('error', (f) => f.ref === clientMessageId)).toMatchObject({ code: 'suspended' });
    // Reads are allowed.
    expect((await user(two, lena).get(`/api/rooms/${room.roomId}/messages`)).status).toBe(200);
    expect((await user(two, lena).post(`/api/rooms/${room.roomId}/read`, { upToSeq: 1 })).status).toBe(204);

    await eventually(async () => webhook('user.suspended', (d) => d.userId === lena) !== undefined, 10_000, 'user.suspended');
    const delivery = webhook('user.suspended', (d) => d.userId === lena)!;
    expect(new Webhook(secret).verify(delivery.body, delivery.headers)).toMatchObject({
      type: 'user.suspended',
      data: { userId: lena, until, reportId: report.reportId, reason: 'moves deals off the platform' },
    });

    // It ends by itself at `until`.
    clock.advance(HOUR - MINUTE);
    expect((await user(two, lena).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'still?' })).status).toBe(403);
    clock.advance(MINUTE);
    const back = await user(two, lena).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'back again' });
    expect(back.status).toBe(201);
  });

  it('suspends and reinstates through the internal route, and tells the marketplace', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(one.url, lena, bob);
    const marketplace = as(one.url, TEST_INTERNAL_TOKEN);
    const put = await marketplace.put(`/api/internal/users/${bob}/suspension`, { reason: 'chargebacks' });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ suspension: { userId: bob, until: null, reason: 'chargebacks' } });
    const refused = await user(two, bob).post(`/api/rooms/${room.roomId}/messages/1/report`, { reason: 'spam' });
    expect(refused.body.error.code).toBe('suspended');
    const send = await user(two, bob).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'hi' });
    expect(send.body.error.code).toBe('suspended');

    expect((await marketplace.delete(`/api/internal/users/${bob}/suspension`)).status).toBe(204);
    expect((await user(two, bob).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'hi' })).status).toBe(201);
    await eventually(async () => webhook('user.reinstated', (d) => d.userId === bob) !== undefined, 10_000, 'user.reinstated');
    const delivery = webhook('user.reinstated', (d) => d.userId === bob)!;
    expect(new Webhook(secret).verify(delivery.body, delivery.headers)).toMatchObject({ type: 'user.reinstated', data: { userId: bob } });
    expect((await as(one.url, tokenFor('x')).put(`/api/internal/users/${bob}/suspension`, { reason: 'x' })).status).toBe(401);
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked against the document's own schemas */
import { randomUUID } from 'node:crypto';
import { contractRoutes, errorCodesOf, type RouteSpec } from '../../../src/interfaces/http/openapi';
import { errorResponse } from '../../../src/interfaces/http/contractSchemas';
import { statusOfCode } from '../../../src/interfaces/errors';
import { Client } from 'pg';
import { AttachmentLinks } from '../../../src/application/attachments/attachmentLinks';
import { call, eventually, type ApiResponse, type CallOptions } from '../../support/http';
import { aPng } from '../../support/images';
import { startTestServer, type TestServer, type TestServerOptions } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { HttpReceiver, newWebhookSecret } from '../../support/webhookReceiver';

/**
 * The OpenAPI document against what the routes really answer. Every call here goes
 * through `observe`, which fails on an answer the document does not list for that route
 * and on a body that does not match the document's schema for it (2xx: the answer's
 * schema; errors: the Error schema with one of the codes the document names for that
 * status). The last test checks that every documented answer of every route was seen,
 * but for those listed in `notDrivenHere` (only the 500s: no request can cause a bug).
 * Answers that need another configuration are driven on servers of their own: development
 * mode, production without VAPID keys, a JWKS that fails; overload by holding the event
 * store's append lock.
 */
const pattern = (route: RouteSpec) => new RegExp(`^${route.path.replace(/:[A-Za-z]+/g, '[^/]+')}$`);
const routeOf = (method: string, path: string): RouteSpec | undefined =>
  contractRoutes.find((r) => r.method === method.toLowerCase() && pattern(r).test(path.split('?')[0] as string));
const key = (route: RouteSpec, status: number) => `${route.method.toUpperCase()} ${route.path} ${status}`;

function documented(route: RouteSpec): Map<number, { body?: { safeParse(v: unknown): { success: boolean; error?: unknown } }; codes?: string[] }> {
  const answers = new Map<number, { body?: any; codes?: string[] }>();
  for (const [status, answer] of Object.entries(route.answers)) answers.set(Number(status), { body: answer.body });
  for (const code of errorCodesOf(route)) {
    const status = statusOfCode[code];
    const known = answers.get(status);
    if (known !== undefined && known.codes === undefined && known.body !== undefined) continue; // a 2xx never collides
    answers.set(status, { body: errorResponse, codes: [...(known?.codes ?? []), code] });
  }
  return answers;
}

/** What the routes answered, by route and status. */
const seen = new Set<string>();

/**
 * Answers documented but not driven by this test, and why: only those no request from
 * outside can bring about.
 */
const notDrivenHere: Record<string, string> = {};
for (const route of contractRoutes) {
  if (documented(route).has(500)) notDrivenHere[key(route, 500)] = 'internal: a bug; no request can be made to cause one';
}

describe('the OpenAPI document against the routes’ real answers', () => {
  let server: TestServer;
  /** The marketplace's webhook receiver (it refuses every delivery: each becomes a dead letter), and a JWKS that fails. */
  let receiver: HttpReceiver;
  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    receiver.answer = () => ({ status: 422 });
    server = await startTestServer('postgres', {
      env: {
        WEBHOOK_URL: `${receiver.url}/hooks`,
        WEBHOOK_SECRET: newWebhookSecret(),
        // A push endpoint on this machine's name, accepted outside production (never delivered to here: nobody messages its owner).
        PUSH_ALLOWED_HOSTS: 'localhost',
        ATTACHMENT_MAX_BYTES: '1024',
        ATTACHMENT_UPLOADS_PER_MINUTE: '3',
        // Every delivery is refused, and the suites below cut a database off: warnings expected.
        LOG_LEVEL: 'error',
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
    await receiver?.close();
  });

  /** Another server, for the answers that need another configuration; closed and dropped after `work`. */
  async function withServer(options: TestServerOptions, work: (other: TestServer) => Promise<void>): Promise<void> {
    const other = await startTestServer('postgres', { ...options, env: { LOG_LEVEL: 'error', ...options.env } });
    try {
      await work(other);
    } finally {
      await other.close();
      await other.database.drop();
    }
  }

  async function observe(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
    return observeAt(server.url, method, path, options);
  }

  async function observeAt(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
    const response = await call(baseUrl, method, path, options);
    const route = routeOf(method, path);
    if (route === undefined) throw new Error(`${method} ${path}: no route of the document matches`);
    const answer = documented(route).get(response.status);
    if (answer === undefined) throw new Error(`${key(route, response.status)}: an answer the document does not list (${response.text.slice(0, 200)})`);
    if (answer.body !== undefined && response.status !== 204) {
      const parsed = answer.body.safeParse(response.body);
      if (!parsed.success) throw new Error(`${key(route, response.status)}: the body does not match the document: ${JSON.stringify(parsed.error)} in ${response.text.slice(0, 300)}`);
    }
    if (answer.codes !== undefined && !answer.codes.includes(response.body?.error?.code)) {
      throw new Error(`${key(route, response.status)}: error code ${response.body?.error?.code} is not one the document names (${answer.codes.join(', ')})`);
    }
    seen.add(key(route, response.status));
    return response;
  }

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const internal = { token: TEST_INTERNAL_TOKEN };
  const as = (userId: string, roles?: string[]) => ({ token: tokenFor(userId, roles ? { roles } : {}) });
  const noRoom = '00000000-0000-4000-8000-000000000000';

  async function roomBetween(lender: string, borrower: string): Promise<{ postId: string; roomId: string }> {
    const postId = fresh('post');
    await observe('PUT', `/api/internal/posts/${postId}`, { ...internal, json: { ownerId: lender, title: 'Ladder' } });
    const opened = await observe('POST', '/api/rooms', { ...as(borrower), json: { postId } });
    return { postId, roomId: opened.body.room.roomId };
  }

  it('posts, the development sign-in and the operations routes', async () => {
    const lena = fresh('lena');
    const postId = fresh('post');
    await observe('PUT', `/api/internal/posts/${postId}`, { ...internal, json: { ownerId: lena, title: 'Drill' } });
    await observe('PUT', `/api/internal/posts/${postId}`, { ...internal, json: { ownerId: lena } });
    await observe('PUT', `/api/internal/posts/${postId}`, { json: { ownerId: lena, title: 'Drill' } });
    await observe('PUT', `/api/internal/posts/${postId}`, { ...internal, raw: `{"ownerId":"${'x'.repeat(70_000)}"}` });
    await observe('GET', '/api/posts', as('bob'));
    await observe('GET', '/api/posts?limit=abc', as('bob'));
    await observe('GET', '/api/posts');
    await observe('GET', `/api/posts/${postId}`, as('bob'));
    await observe('GET', `/api/posts/${fresh('nope')}`, as('bob'));
    await observe('GET', '/api/posts/bad%20id', as('bob'));
    await observe('GET', `/api/posts/${postId}`);
    await observe('POST', '/api/dev/session', { json: { userId: 'bob' } }); // not development mode: 404
    await observe('GET', '/openapi.json');
    await observe('GET', '/healthz');
    await observe('GET', '/readyz');
    await observe('GET', '/metrics');
  });

  it('rooms and messages, into each of their answers', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { postId, roomId } = await roomBetween(lena, bob);
    await observe('POST', '/api/rooms', { ...as(bob), json: { postId } }); // 200: existing
    await observe('POST', '/api/rooms', { ...as(lena), json: { postId } }); // 409 own_post
    await observe('POST', '/api/rooms', { ...as(bob), json: { postId: fresh('nope') } }); // 404
    await observe('POST', '/api/rooms', { ...as(bob), json: {} }); // 400
    await observe('POST', '/api/rooms', { json: { postId } }); // 401
    await observe('GET', '/api/rooms', as(bob));
    await observe('GET', '/api/rooms?cursor=not-a-cursor', as(bob));
    await observe('GET', '/api/rooms');
    await observe('GET', `/api/rooms/${roomId}`, as(bob));
    await observe('GET', `/api/rooms/${noRoom}`, as(bob));
    await observe('GET', '/api/rooms/not-a-uuid', as(bob));
    await observe('GET', `/api/rooms/${roomId}`);
    const clientMessageId = randomUUID();
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId, body: 'hello' } });
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId, body: 'hello' } });
    await observe('POST', `/api/rooms/${noRoom}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'x' } });
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: '' } });
    await observe('POST', `/api/rooms/${roomId}/messages`, { json: { clientMessageId: randomUUID(), body: 'x' } });
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), raw: `{"body":"${'x'.repeat(70_000)}"}` });
    await observe('GET', `/api/rooms/${roomId}/messages`, as(lena));
    await observe('GET', `/api/rooms/${noRoom}/messages`, as(lena));
    await observe('GET', `/api/rooms/${roomId}/messages?limit=0`, as(lena));
    await observe('GET', `/api/rooms/${roomId}/messages`);
    await observe('POST', `/api/rooms/${roomId}/read`, { ...as(lena), json: { upToSeq: 1 } });
    await observe('POST', `/api/rooms/${noRoom}/read`, { ...as(lena), json: { upToSeq: 1 } });
    await observe('POST', `/api/rooms/${roomId}/read`, { ...as(lena), json: { upToSeq: -1 } });
    await observe('POST', `/api/rooms/${roomId}/read`, { json: { upToSeq: 1 } });
    await observe('POST', `/api/rooms/${roomId}/block`, as(lena));
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'blocked?' } }); // 403 blocked
    await observe('DELETE', `/api/rooms/${roomId}/block`, as(lena));
    // Fresh users for the 404s: lena's command budget (4 at once) is spent by now, and
    // on a fast machine her next block would be refused with 429 before it is looked up.
    for (const method of ['POST', 'DELETE']) {
      await observe(method, `/api/rooms/${noRoom}/block`, as(fresh('ivy')));
      await observe(method, '/api/rooms/nope/block', as(fresh('jo')));
      await observe(method, `/api/rooms/${roomId}/block`);
    }
    await observe('POST', `/api/rooms/${roomId}/reopen`, as(lena));
    await observe('POST', `/api/rooms/${noRoom}/reopen`, as(fresh('ivy')));
    await observe('POST', '/api/rooms/nope/reopen', as(lena));
    await observe('POST', `/api/rooms/${roomId}/reopen`);
  });

  it('answers 429 where the document says a budget applies: open, send, read, reopen, block, unblock', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { postId, roomId } = await roomBetween(lena, bob);
    // Calls in bursts of 25 at once, faster than any budget refills, until one is refused.
    const until429 = async (make: () => Promise<ApiResponse>) => {
      for (let round = 0; round < 6; round += 1) {
        const answers = await Promise.all(Array.from({ length: 25 }, () => make()));
        if (answers.some((a) => a.status === 429)) return;
      }
      throw new Error('no 429 after 150 calls');
    };
    await until429(() => observe('POST', '/api/rooms', { ...as(bob), json: { postId } }));
    await until429(() => observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'again' } }));
    await until429(() => observe('POST', `/api/rooms/${roomId}/read`, { ...as(lena), json: { upToSeq: 1 } }));
    const carol = fresh('carol');
    const other = await roomBetween(carol, fresh('dan'));
    await until429(() => observe('POST', `/api/rooms/${other.roomId}/reopen`, as(carol)));
    const erin = fresh('erin');
    const third = await roomBetween(erin, fresh('finn'));
    await until429(() => observe('POST', `/api/rooms/${third.roomId}/block`, as(erin)));
    const gail = fresh('gail');
    const fourth = await roomBetween(gail, fresh('hugo'));
    await until429(() => observe('DELETE', `/api/rooms/${fourth.roomId}/block`, as(gail)));
  });

  it('the marketplace’s notices and delivery routes, Web Push and audit', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const notice = { clientNoticeId: randomUUID(), text: 'Pick-up is confirmed.' };
    await observe('POST', `/api/internal/rooms/${roomId}/notices`, { ...internal, json: notice });
    await observe('POST', `/api/internal/rooms/${roomId}/notices`, { ...internal, json: notice });
    await observe('POST', `/api/internal/rooms/${noRoom}/notices`, { ...internal, json: { clientNoticeId: randomUUID(), text: 'x' } });
    await observe('POST', `/api/internal/rooms/${roomId}/notices`, { ...internal, json: {} });
    await observe('POST', `/api/internal/rooms/${roomId}/notices`, { json: notice });
    await observe('GET', '/api/internal/webhooks/status', internal);
    await observe('GET', '/api/internal/webhooks/status');
    await observe('GET', '/api/internal/webhooks/dead-letters', internal);
    await observe('GET', '/api/internal/webhooks/dead-letters?limit=abc', internal);
    await observe('GET', '/api/internal/webhooks/dead-letters');
    await observe('POST', '/api/internal/webhooks/dead-letters/replay', internal);
    await observe('POST', '/api/internal/webhooks/dead-letters/replay');
    await observe('POST', `/api/internal/webhooks/dead-letters/${randomUUID()}/replay`, internal);
    await observe('POST', '/api/internal/webhooks/dead-letters/nope/replay', internal);
    await observe('POST', `/api/internal/webhooks/dead-letters/${randomUUID()}/replay`);
    await observe('GET', '/api/push/vapid-public-key', as(bob));
    await observe('GET', '/api/push/vapid-public-key');
    await observe('POST', '/api/push/subscriptions', { ...as(bob), json: { endpoint: 'http://example.com/not-https', keys: { p256dh: 'x', auth: 'y' } } });
    await observe('POST', '/api/push/subscriptions', { json: {} });
    await observe('DELETE', '/api/push/subscriptions', { ...as(bob), json: { endpoint: 'https://fcm.googleapis.com/fcm/send/none' } });
    await observe('DELETE', '/api/push/subscriptions', { ...as(bob), json: {} });
    await observe('DELETE', '/api/push/subscriptions', { json: {} });
    const auditor = as(fresh('auditor'), ['auditor']);
    await observe('GET', `/api/audit/rooms/${roomId}/events`, auditor);
    await observe('GET', `/api/audit/rooms/${noRoom}/events`, auditor);
    await observe('GET', '/api/audit/rooms/nope/events', auditor);
    await observe('GET', `/api/audit/rooms/${roomId}/events`, as(bob));
    await observe('GET', `/api/audit/rooms/${roomId}/events`);
    await observe('GET', `/api/audit/rooms/${roomId}/state?at=${new Date().toISOString()}`, auditor);
    await observe('GET', `/api/audit/rooms/${noRoom}/state?at=${new Date().toISOString()}`, auditor);
    await observe('GET', `/api/audit/rooms/${roomId}/state?at=yesterday`, auditor);
    await observe('GET', `/api/audit/rooms/${roomId}/state`, as(bob));
    await observe('GET', `/api/audit/rooms/${roomId}/state`);
    await observe('GET', '/api/audit/verify', auditor);
    await observe('GET', `/api/audit/verify?room=${noRoom}`, auditor);
    await observe('GET', '/api/audit/verify?format=xml', auditor);
    await observe('GET', '/api/audit/verify', as(bob));
    await observe('GET', '/api/audit/verify');
  });

  it('moderation, suspension and attachments, where no setup is needed', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const moderator = as(fresh('mod'), ['moderator']);
    await observe('GET', '/api/moderation/reports', moderator);
    await observe('GET', '/api/moderation/reports?status=maybe', moderator);
    await observe('GET', '/api/moderation/reports', as(bob));
    await observe('GET', '/api/moderation/reports');
    await observe('GET', `/api/moderation/reports/${randomUUID()}`, moderator);
    await observe('GET', '/api/moderation/reports/nope', moderator);
    await observe('GET', `/api/moderation/reports/${randomUUID()}`, as(bob));
    await observe('GET', `/api/moderation/reports/${randomUUID()}`);
    const resolution = { action: 'dismiss', note: 'fine' };
    await observe('POST', `/api/moderation/reports/${randomUUID()}/resolution`, { ...moderator, json: resolution });
    await observe('POST', `/api/moderation/reports/${randomUUID()}/resolution`, { ...moderator, json: { action: 'shrug' } });
    await observe('POST', `/api/moderation/reports/${randomUUID()}/resolution`, { ...as(bob), json: resolution });
    await observe('POST', `/api/moderation/reports/${randomUUID()}/resolution`, { json: resolution });
    await observe('POST', `/api/rooms/${roomId}/messages/1/report`, { ...as(bob), json: { reason: 'spam' } }); // no message 1 yet
    await observe('POST', `/api/rooms/${roomId}/messages/1/report`, { ...as(bob), json: { reason: 'bored' } });
    await observe('POST', `/api/rooms/${roomId}/messages/1/report`, { json: { reason: 'spam' } });
    const carl = fresh('carl');
    await observe('PUT', `/api/internal/users/${carl}/suspension`, { ...internal, json: { reason: 'spam' } });
    await observe('PUT', `/api/internal/users/${carl}/suspension`, { ...internal, json: { until: 'soon', reason: 'x' } });
    await observe('PUT', `/api/internal/users/${carl}/suspension`, { json: { reason: 'spam' } });
    await observe('DELETE', `/api/internal/users/${carl}/suspension`, internal);
    await observe('DELETE', `/api/internal/users/${'u'.repeat(300)}/suspension`, internal);
    await observe('DELETE', `/api/internal/users/${carl}/suspension`);
    const erasing = fresh('eve');
    const erasure = await observe('POST', `/api/internal/users/${erasing}/erasure`, internal);
    await observe('POST', '/api/internal/users/system/erasure', internal);
    await observe('POST', `/api/internal/users/${erasing}/erasure`);
    await observe('GET', `/api/internal/erasures/${erasure.body.erasure.erasureId}`, internal);
    await observe('GET', '/api/internal/erasures/nope', internal);
    await observe('GET', `/api/internal/erasures/${randomUUID()}`, internal);
    await observe('GET', `/api/internal/erasures/${randomUUID()}`);
    await observe('POST', `/api/rooms/${noRoom}/attachments`, { ...as(bob), raw: 'not an image', headers: { 'content-type': 'image/png' } });
    await observe('POST', `/api/rooms/${roomId}/attachments`, { ...as(bob), raw: 'not an image', headers: { 'content-type': 'image/png' } });
    await observe('POST', '/api/rooms/nope/attachments', { ...as(bob), raw: 'x', headers: { 'content-type': 'image/png' } });
    await observe('POST', `/api/rooms/${roomId}/attachments`, { raw: 'x', headers: { 'content-type': 'image/png' } });
    await observe('GET', `/attachments/${randomUUID()}/image?expires=9999999999&sig=abc`);
    await observe('GET', `/attachments/${randomUUID()}/poster?expires=1&sig=abc`);
    const auditor = as(fresh('auditor'), ['auditor']);
    await observe('GET', `/api/audit/attachments/${randomUUID()}/image`, auditor);
    await observe('GET', `/api/audit/attachments/${randomUUID()}/poster`, auditor);
    await observe('GET', `/api/audit/attachments/${randomUUID()}/image`, as(bob));
    await observe('GET', `/api/audit/attachments/${randomUUID()}/image`);
  });

  /** A route's path with its parameters filled in. */
  const fill = (path: string, values: Record<string, string>) => path.replace(/:([A-Za-z]+)/g, (_, name: string) => values[name] ?? 'x');
  const credentialsFor = (route: RouteSpec, user: string): CallOptions =>
    route.auth === 'internal' ? internal : route.auth === 'none' ? {} : as(user, route.auth === 'user' ? undefined : [route.auth]);

  it('refuses a JSON body past the limit with 413 on every route that reads one', async () => {
    const { roomId } = await roomBetween(fresh('lena'), fresh('bob'));
    const values = { roomId, seq: '1', reportId: randomUUID(), userId: fresh('carl'), postId: fresh('post'), deliveryId: randomUUID() };
    const big = `{"x":"${'x'.repeat(70_000)}"}`;
    for (const route of contractRoutes) {
      if (route.body === undefined || route.path === '/api/dev/session') continue; // the latter: development mode, below
      await observe(route.method, fill(route.path, values), { ...credentialsFor(route, fresh('ann')), raw: big });
    }
  });

  it('photos: uploaded, loaded at their signed URL and by an auditor, too large, too many, and a signed URL of none', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const png = await aPng();
    const upload = (bytes: Uint8Array, user = bob) => observe('POST', `/api/rooms/${roomId}/attachments`, { ...as(user), raw: bytes, headers: { 'content-type': 'image/png' } });
    const uploaded = await upload(png);
    expect(uploaded.status).toBe(201);
    const { attachmentId, url, thumbnailUrl } = uploaded.body.attachment;
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'the ladder', attachments: [attachmentId] } });
    expect((await observe('GET', url)).status).toBe(200);
    expect((await observe('GET', thumbnailUrl)).status).toBe(200);
    expect((await observe('GET', `/api/audit/attachments/${attachmentId}/image`, as(fresh('auditor'), ['auditor']))).status).toBe(200);
    // ATTACHMENT_MAX_BYTES is 1024 in this suite.
    expect((await upload(Buffer.concat([png, Buffer.alloc(2048)]), lena)).status).toBe(413);
    // A URL signed with the server's own key, for an attachment it does not hold.
    const links = new AttachmentLinks(server.config.attachments.urlKey, 3_600_000, { now: () => new Date() });
    expect((await observe('GET', links.url(randomUUID(), 'image'))).status).toBe(404);
    // ATTACHMENT_UPLOADS_PER_MINUTE is 3: the fourth upload of a minute is refused.
    const ivy = fresh('ivy');
    const other = await roomBetween(fresh('kim'), ivy);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await observe('POST', `/api/rooms/${other.roomId}/attachments`, { ...as(ivy), raw: png, headers: { 'content-type': 'image/png' } })).status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('reports and their resolution, and a suspended user refused wherever they would write', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { postId, roomId } = await roomBetween(lena, bob);
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'buy my watches' } });
    const reported = await observe('POST', `/api/rooms/${roomId}/messages/1/report`, { ...as(lena), json: { reason: 'spam' } });
    expect(reported.status).toBe(201);
    expect((await observe('POST', `/api/rooms/${roomId}/messages/1/report`, { ...as(lena), json: { reason: 'spam' } })).status).toBe(200);
    const moderator = as(fresh('mod'), ['moderator']);
    const { reportId } = reported.body.report;
    expect((await observe('GET', `/api/moderation/reports/${reportId}`, moderator)).status).toBe(200);
    expect((await observe('POST', `/api/moderation/reports/${reportId}/resolution`, { ...moderator, json: { action: 'dismiss', note: 'a joke' } })).status).toBe(200);

    // The borrower suspended: opening, sending, reopening and reporting are refused; reading is not.
    await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(lena), json: { clientMessageId: randomUUID(), body: 'no thanks' } });
    await observe('PUT', `/api/internal/users/${bob}/suspension`, { ...internal, json: { reason: 'spam' } });
    const refused = [
      await observe('POST', '/api/rooms', { ...as(bob), json: { postId } }),
      await observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'still here' } }),
      await observe('POST', `/api/rooms/${roomId}/reopen`, as(bob)),
      await observe('POST', `/api/rooms/${roomId}/messages/2/report`, { ...as(bob), json: { reason: 'spam' } }),
    ];
    expect(refused.map((r) => [r.status, r.body.error.code])).toEqual(Array.from({ length: 4 }, () => [403, 'suspended']));
    expect((await observe('GET', `/api/rooms/${roomId}/messages`, as(bob))).status).toBe(200);

    // Reporting draws from the reporter's command budget.
    const noa = fresh('noa');
    const otto = fresh('otto');
    const third = await roomBetween(noa, otto);
    await observe('POST', `/api/rooms/${third.roomId}/messages`, { ...as(otto), json: { clientMessageId: randomUUID(), body: 'cheap watches' } });
    let answers: ApiResponse[] = [];
    for (let round = 0; round < 6 && !answers.some((a) => a.status === 429); round += 1) {
      answers = await Promise.all(Array.from({ length: 25 }, () => observe('POST', `/api/rooms/${third.roomId}/messages/1/report`, { ...as(noa), json: { reason: 'other' } })));
    }
    expect(answers.some((a) => a.status === 429)).toBe(true);
  });

  it('Web Push: a subscription taken, a budget spent, and a server without VAPID keys; a room expired', async () => {
    const sub = () => ({ endpoint: `https://localhost/push/${randomUUID()}`, keys: { p256dh: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U', auth: 'tBHItJI5svbpez7KI4CCXg' } });
    const pia = fresh('pia');
    expect((await observe('POST', '/api/push/subscriptions', { ...as(pia), json: sub() })).status).toBe(201);
    let answers: ApiResponse[] = [];
    for (let round = 0; round < 6 && !answers.some((a) => a.status === 429); round += 1) {
      answers = await Promise.all(Array.from({ length: 25 }, () => observe('POST', '/api/push/subscriptions', { ...as(pia), json: sub() })));
    }
    expect(answers.some((a) => a.status === 429)).toBe(true);

    // Production without VAPID keys: Web Push is off. Rooms nobody writes in expire after a second.
    await withServer({ env: { NODE_ENV: 'production', ROOM_EMPTY_TTL: '1s', EXPIRY_SWEEP_CRON: '* * * * * *' } }, async (off) => {
      const ron = as(fresh('ron'));
      expect((await observeAt(off.url, 'GET', '/api/push/vapid-public-key', ron)).status).toBe(404);
      expect((await observeAt(off.url, 'POST', '/api/push/subscriptions', { ...ron, json: sub() })).status).toBe(404);
      expect((await observeAt(off.url, 'DELETE', '/api/push/subscriptions', { ...ron, json: { endpoint: sub().endpoint } })).status).toBe(404);

      const lena = fresh('lena');
      const bob = fresh('bob');
      const postId = fresh('post');
      await observeAt(off.url, 'PUT', `/api/internal/posts/${postId}`, { ...internal, json: { ownerId: lena, title: 'Tent' } });
      const roomId = (await observeAt(off.url, 'POST', '/api/rooms', { ...as(bob), json: { postId } })).body.room.roomId as string;
      await eventually(async () => (await call(off.url, 'GET', `/api/rooms/${roomId}`, as(bob))).body?.room?.status === 'expired', 15_000, 'the room expired');
      const expired = [
        await observeAt(off.url, 'POST', `/api/internal/rooms/${roomId}/notices`, { ...internal, json: { clientNoticeId: randomUUID(), text: 'Still there?' } }),
        await observeAt(off.url, 'POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'hello?' } }),
        await observeAt(off.url, 'POST', `/api/rooms/${roomId}/attachments`, { ...as(bob), raw: await aPng(), headers: { 'content-type': 'image/png' } }),
      ];
      expect(expired.map((r) => [r.status, r.body.error.code])).toEqual(Array.from({ length: 3 }, () => [409, 'room_expired']));
    });
  });

  it('replays a dead letter', async () => {
    const { roomId } = await roomBetween(fresh('lena'), fresh('bob'));
    let deliveryId: string | undefined;
    await eventually(async () => {
      const page = await observe('GET', '/api/internal/webhooks/dead-letters?limit=500', internal);
      deliveryId = page.body.deadLetters.find((d: { roomId: string }) => d.roomId === roomId)?.deliveryId;
      return deliveryId !== undefined;
    }, 15_000, 'a dead letter (the receiver refuses every delivery)');
    expect((await observe('POST', `/api/internal/webhooks/dead-letters/${deliveryId}/replay`, internal)).status).toBe(202);
  });

  it('the development sign-in, in development mode', async () => {
    await withServer({ env: { JWT_SECRET: '' } }, async (dev) => {
      expect((await observeAt(dev.url, 'POST', '/api/dev/session', { json: { userId: 'bob' } })).status).toBe(200);
      expect((await observeAt(dev.url, 'POST', '/api/dev/session', { json: {} })).status).toBe(400);
      expect((await observeAt(dev.url, 'POST', '/api/dev/session', { raw: `{"userId":"${'x'.repeat(70_000)}"}` })).status).toBe(413);
    });
  });

  it('answers 503 on every route that checks a user’s token when the identity provider’s keys are out of reach, and /readyz when the database is', async () => {
    // An RS256 token naming a key the server must fetch from JWT_JWKS_URL, which answers 422.
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = `${part({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${part({ sub: 'bob', exp: Math.floor(Date.now() / 1000) + 600 })}.c2lnbmF0dXJl`;
    await withServer({ env: { JWT_SECRET: '', JWT_JWKS_URL: `${receiver.url}/jwks.json` } }, async (other) => {
      const values = { roomId: noRoom, seq: '1', reportId: randomUUID(), attachmentId: randomUUID(), variant: 'image' };
      for (const route of contractRoutes) {
        if (route.auth !== 'user' && route.auth !== 'auditor' && route.auth !== 'moderator') continue;
        const answer = await observeAt(other.url, route.method, fill(route.path, values), { token, ...(route.method === 'get' ? {} : { json: {} }) });
        expect([key(route, answer.status), answer.body.error.code]).toEqual([key(route, 503), 'unavailable']);
      }
      // The database refuses connections: the server is not ready.
      const admin = new Client({ connectionString: process.env.TEST_DATABASE_URL });
      const name = new URL(other.database.url as string).pathname.slice(1);
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
        const ready = await observeAt(other.url, 'GET', '/readyz');
        expect([ready.status, ready.body.checks.database]).toEqual([503, false]);
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      } finally {
        await admin.end();
      }
    });
  });

  it('answers 503 when the event store is overloaded: writes that waited too long for their commit', async () => {
    // Set up before the event store is held.
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const suspended = fresh('sid');
    await observe('PUT', `/api/internal/users/${suspended}/suspension`, { ...internal, json: { reason: 'spam' } });
    // Every append takes the append lock: held here, the first commit waits for it and the
    // appends behind it wait longer than the 500 ms an append may wait; they are shed.
    const holder = new Client({ connectionString: server.database.url as string });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended('chat:append', 0))");
      const first = observe('PUT', `/api/internal/posts/${fresh('post')}`, { ...internal, json: { ownerId: lena, title: 'First' } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const behind = [
        observe('PUT', `/api/internal/posts/${fresh('post')}`, { ...internal, json: { ownerId: lena, title: 'Behind' } }),
        observe('POST', `/api/internal/rooms/${roomId}/notices`, { ...internal, json: { clientNoticeId: randomUUID(), text: 'Waiting.' } }),
        observe('PUT', `/api/internal/users/${fresh('sue')}/suspension`, { ...internal, json: { reason: 'spam' } }),
        observe('DELETE', `/api/internal/users/${suspended}/suspension`, internal),
        observe('POST', `/api/rooms/${roomId}/messages`, { ...as(bob), json: { clientMessageId: randomUUID(), body: 'anyone?' } }),
        observe('POST', `/api/internal/users/${fresh('erin')}/erasure`, internal),
      ];
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await holder.query("SELECT pg_advisory_unlock(hashtextextended('chat:append', 0))");
      expect((await first).status).toBe(200);
      expect((await Promise.all(behind)).map((r) => [r.status, r.body?.error?.code])).toEqual(Array.from({ length: 6 }, () => [503, 'unavailable']));
    } finally {
      await holder.end();
    }
  });

  it('has seen every documented answer of every route, but those listed as not driven here', () => {
    const missing: string[] = [];
    for (const route of contractRoutes) {
      for (const status of documented(route).keys()) {
        const k = key(route, status);
        if (!seen.has(k) && notDrivenHere[k] === undefined) missing.push(k);
      }
    }
    expect(missing).toEqual([]);
    // And the list holds nothing this suite did see (it would hide a later regression).
    expect(Object.keys(notDrivenHere).filter((k) => seen.has(k))).toEqual([]);
  });
});

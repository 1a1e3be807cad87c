/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked against the document's own schemas */
import { randomUUID } from 'node:crypto';
import { contractRoutes, errorCodesOf, type RouteSpec } from '../../../src/interfaces/http/openapi';
import { errorResponse } from '../../../src/interfaces/http/contractSchemas';
import { statusOfCode } from '../../../src/interfaces/errors';
import { call, type ApiResponse, type CallOptions } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/**
 * The OpenAPI document against what the routes really answer. Every call here goes
 * through `observe`, which fails on an answer the document does not list for that route
 * and on a body that does not match the document's schema for it (2xx: the answer's
 * schema; errors: the Error schema with one of the codes the document names for that
 * status). The last test checks that every documented answer of every route was seen,
 * but for the few listed in `notDrivenHere`, each with its reason.
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

/** Answers documented but not driven by this test, and why. */
const notDrivenHere: Record<string, string> = {};
const every = (status: number, why: string) => {
  for (const route of contractRoutes) if (documented(route).has(status)) notDrivenHere[key(route, status)] = why;
};
every(500, 'internal: a bug; no request can be made to cause one');
every(503, 'unavailable: the store out of reach or overloaded, or the JWKS out of reach (tested in their own suites)');
every(413, 'payload_too_large: driven below on two routes only; every JSON route shares one body parser');
/** Answers that need a state this suite does not build (an expired room, a dead letter, an image, a dev-mode server…). */
const needsMore = (why: string, ...keys: string[]) => {
  for (const k of keys) notDrivenHere[k] = why;
};
needsMore('development mode only (test/interfaces/http/clientRoutes.int.test.ts)', 'POST /api/dev/session 200', 'POST /api/dev/session 400');
needsMore('an expired room (test/interfaces/expiryReopeningBlockingOverTheWire.e2e.test.ts)', 'POST /api/internal/rooms/:roomId/notices 409', 'POST /api/rooms/:roomId/messages 409', 'POST /api/rooms/:roomId/attachments 409', 'POST /api/rooms/:roomId/reopen 200');
needsMore('a blocked or suspended user (their own suites)', 'POST /api/rooms 403', 'POST /api/rooms/:roomId/reopen 403', 'POST /api/rooms/:roomId/messages/:seq/report 403');
needsMore('a received message and a report (docs/moderation.md suites)', 'POST /api/rooms/:roomId/messages/:seq/report 200', 'POST /api/rooms/:roomId/messages/:seq/report 201', 'GET /api/moderation/reports/:reportId 200', 'POST /api/moderation/reports/:reportId/resolution 200');
needsMore('a real image (test/interfaces/attachments.e2e.test.ts)', 'POST /api/rooms/:roomId/attachments 201', 'POST /api/rooms/:roomId/attachments 415', 'POST /api/rooms/:roomId/attachments 429', 'GET /attachments/:attachmentId/:variant 200', 'GET /attachments/:attachmentId/:variant 403', 'GET /api/audit/attachments/:attachmentId/:variant 200');
needsMore('a push endpoint the policy accepts, or a server without VAPID keys (test/interfaces/http/pushEndpointSafety.e2e.test.ts, webPush.e2e.test.ts)', 'POST /api/push/subscriptions 201', 'POST /api/push/subscriptions 404', 'POST /api/push/subscriptions 429', 'GET /api/push/vapid-public-key 404');
needsMore('a signed URL of an attachment that is gone, or a report budget spent (their own suites)', 'GET /attachments/:attachmentId/:variant 404', 'POST /api/rooms/:roomId/messages/:seq/report 429');
needsMore('a dead letter (test/interfaces/http/webhooks.e2e.test.ts)', 'POST /api/internal/webhooks/dead-letters/:deliveryId/replay 202');

describe('the OpenAPI document against the routes’ real answers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres');
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  async function observe(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
    const response = await call(server.url, method, path, options);
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

  it('has seen every documented answer of every route, but those listed as not driven here', () => {
    const missing: string[] = [];
    for (const route of contractRoutes) {
      for (const status of documented(route).keys()) {
        const k = key(route, status);
        if (!seen.has(k) && notDrivenHere[k] === undefined) missing.push(k);
      }
    }
    expect(missing).toEqual([]);
  });
});

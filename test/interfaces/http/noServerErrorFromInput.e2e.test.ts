import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { contractRoutes, type RouteSpec } from '../../../src/interfaces/http/openapi';
import { as, call } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/**
 * No input a client can send makes the server answer 500: every route of the HTTP
 * API, driven with path ids, query values (cursors, limits, seqs, instants) and bodies
 * drawn from hostile text — numbers past 64 bits, negative and fractional ones,
 * unicode, NUL, percent signs, repeated keys — beside real ids, so the checks past the
 * first validation are reached too. The answer is a 2xx or a contract error, never 5xx.
 */
describe('no 500 from any input a client can send', () => {
  let server: TestServer;
  const user = `prop-${randomUUID().slice(0, 8)}`;
  const userToken = tokenFor(user, { roles: ['auditor', 'moderator'] });
  let real: { roomId: string; postId: string };

  beforeAll(async () => {
    // Budgets off, so the property reaches the routes' own checks rather than 429.
    server = await startTestServer('postgres', { env: { SEND_RATE_LIMIT: '0', COMMAND_RATE_LIMIT: '0', READ_RATE_LIMIT: '0' } });
    const postId = `prop-post-${randomUUID().slice(0, 8)}`;
    await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: `owner-${user}`, title: 'Drill' });
    const room = (await as(server.url, userToken).post('/api/rooms', { postId })).body.room;
    await as(server.url, userToken).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'hello' });
    real = { roomId: room.roomId, postId };
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  const hostileText = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
    fc.uuid(),
    { weight: 4, arbitrary: fc.constantFrom(
      '9999999999999999999', '9223372036854775807', '9223372036854775808', '-1', '0', '1e309', '1.5', '0x10', 'NaN', 'Infinity',
      '', ' ', '%', '%00', '\u0000', '\uD800', '..', '../..', 'null', '[]', '{}', 'true', '2026-13-45T99:99:99Z', '+275760-09-13T00:00:00.001Z',
      '00000000-0000-0000-0000-000000000000', 'a'.repeat(5000),
    ) },
  );
  /** Percent-encoded as a client would send it; text no UTF-8 can carry goes as its replacement bytes. */
  const encode = (text: string) => (text.isWellFormed() ? encodeURIComponent(text) : [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
  /** Sent as is in the path: malformed percent-encoding. */
  const rawSegment = fc.constantFrom('%', '%ZZ', '%ED%A0%80', '%FF', '%00', '%2e%2e', '%E0%A4%A');
  const value = () => fc.oneof({ weight: 4, arbitrary: hostileText }, { weight: 1, arbitrary: fc.constantFrom(() => real.roomId, () => real.postId, () => '1', () => '2').map((f) => f()) });

  function tokenOf(route: RouteSpec): string | null {
    if (route.auth === 'internal') return TEST_INTERNAL_TOKEN;
    if (route.auth === 'none') return null;
    return userToken;
  }

  for (const route of contractRoutes) {
    const pathParams = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] as string);
    const queryKeys = route.query ? Object.keys(route.query.shape) : [];
    const bodyKeys = route.body && 'shape' in route.body ? Object.keys((route.body as unknown as { shape: Record<string, unknown> }).shape) : [];

    it(`${route.method.toUpperCase()} ${route.path}`, async () => {
      const input = fc.record({
        params: fc.tuple(...pathParams.map(() => fc.oneof({ weight: 5, arbitrary: value().map(encode) }, { weight: 1, arbitrary: rawSegment }))),
        query: fc.array(fc.tuple(fc.constantFrom(...(queryKeys.length > 0 ? queryKeys : ['x'])), value()), { maxLength: 4 }),
        body: fc.oneof(
          fc.dictionary(fc.constantFrom(...(bodyKeys.length > 0 ? bodyKeys : ['x'])), fc.oneof(value(), fc.jsonValue({ maxDepth: 2 }), fc.integer(), fc.double())),
          fc.jsonValue({ maxDepth: 2 }),
        ),
      });
      await fc.assert(
        fc.asyncProperty(input, async ({ params, query, body }) => {
          let path = route.path;
          pathParams.forEach((name, i) => {
            path = path.replace(`:${name}`, params[i] as string);
          });
          const search = query.map(([key, text]) => `${key}=${encode(text)}`).join('&');
          const res = await call(server.url, route.method.toUpperCase(), `${path}${search === '' ? '' : `?${search}`}`, {
            token: tokenOf(route),
            ...(route.method === 'get' || route.method === 'delete' ? {} : { json: body }),
          });
          if (res.status >= 500 && res.status !== 503) throw new Error(`${route.method.toUpperCase()} ${path}?${search} → ${res.status} ${res.text.slice(0, 300)}`);
          if (res.status >= 400) expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
        }),
        { numRuns: 40 },
      );
    });
  }

  it('GET /api/internal/webhooks/dead-letters with a cursor past 64 bits is a 400 naming the cursor', async () => {
    const res = await as(server.url, TEST_INTERNAL_TOKEN).get('/api/internal/webhooks/dead-letters?cursor=9999999999999999999');
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'bad_request', message: expect.stringMatching(/^cursor: /) });
  });
});

/**
 * The OpenAPI document: every route the routers serve in it, every route of the
 * contract, and its request schemas the very ones the routers validate with. Its
 * validity against the official OpenAPI 3.1 schema is checked on the served document,
 * in operations.int.test.ts.
 */
import type { Router } from 'express';
import { auditRoutes } from '../../../src/interfaces/http/auditRoutes';
import { devRoutes } from '../../../src/interfaces/http/devRoutes';
import { healthRoutes } from '../../../src/interfaces/http/healthRoutes';
import { contractRouteOf, contractRoutes, openApiDocument, openApiRoutes } from '../../../src/interfaces/http/openapi';
import { postRoutes } from '../../../src/interfaces/http/postRoutes';
import { noticeRoutes } from '../../../src/interfaces/http/noticeRoutes';
import { moderationRoutes } from '../../../src/interfaces/http/moderationRoutes';
import { roomRoutes } from '../../../src/interfaces/http/roomRoutes';
import { pushRoutes } from '../../../src/interfaces/http/pushRoutes';
import { attachmentRoutes } from '../../../src/interfaces/http/attachmentRoutes';
import { webhookRoutes } from '../../../src/interfaces/http/webhookRoutes';
import { createChatMetrics } from '../../../src/infrastructure/metrics/chatMetrics';
import { silentLogger } from '../../../src/application/ports/logger';

/** Method and path of every route a router defines (express 5 keeps them on its stack). */
function routesOf(router: Router): string[] {
  const found: string[] = [];
  for (const layer of router.stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>) {
    if (layer.route === undefined) continue;
    for (const method of Object.keys(layer.route.methods)) found.push(`${method.toUpperCase()} ${layer.route.path}`);
  }
  return found;
}

// The routers are only read for their route table here: nothing calls these dependencies.
const unused = {} as never;

describe('GET /openapi.json', () => {
  const document = openApiDocument();

  it('documents every route the routers serve, with its method', () => {
    const routers = [
      postRoutes({ commands: unused, queries: unused, progress: unused, verifier: unused, internalApiToken: 'x'.repeat(16), logger: silentLogger }),
      roomRoutes({ commands: unused, queries: unused, progress: unused, verifier: unused, logger: silentLogger, budgets: unused }),
      noticeRoutes({ commands: unused, progress: unused, internalApiToken: 'x'.repeat(16), logger: silentLogger }),
      moderationRoutes({
        commands: unused,
        users: unused,
        queries: unused,
        progress: unused,
        verifier: unused,
        accessLog: unused,
        budgets: unused,
        clock: unused,
        internalApiToken: 'x'.repeat(16),
        logger: silentLogger,
      }),
      auditRoutes({ eventStore: unused, verifier: unused, logger: silentLogger, ledger: unused, accessLog: unused }),
      devRoutes({ issuer: unused }),
      healthRoutes({ ready: unused, metrics: createChatMetrics({ defaultMetrics: false }).registry }),
      openApiRoutes(),
      pushRoutes({ push: null, verifier: unused, logger: silentLogger, budgets: unused, allowLoopbackHttp: false }),
      webhookRoutes({ internalApiToken: 'x'.repeat(16), outbox: unused, retryForMs: 1000 }),
      attachmentRoutes({ attachments: unused, links: unused, verifier: unused, logger: silentLogger, maxBytes: 1024 }),
    ];
    const served = routers.flatMap(routesOf);
    expect(served.length).toBeGreaterThan(10);
    const documented = new Set(contractRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`));
    expect(served.filter((route) => !documented.has(route))).toEqual([]);
  });

  it('documents every HTTP route of contract v1.1', () => {
    const contract = [
      'PUT /api/internal/posts/{postId}', 'GET /api/posts/{postId}', 'GET /api/posts', 'POST /api/dev/session',
      'POST /api/rooms', 'GET /api/rooms', 'GET /api/rooms/{roomId}', 'GET /api/rooms/{roomId}/messages',
      'POST /api/rooms/{roomId}/messages', 'POST /api/rooms/{roomId}/read', 'POST /api/rooms/{roomId}/reopen',
      'POST /api/push/subscriptions', 'DELETE /api/push/subscriptions', 'POST /api/rooms/{roomId}/block',
      'DELETE /api/rooms/{roomId}/block', 'GET /api/audit/rooms/{roomId}/events', 'GET /api/audit/rooms/{roomId}/state',
      'GET /api/audit/verify', 'GET /openapi.json', 'GET /healthz', 'GET /readyz', 'GET /metrics',
      // v1.2
      'POST /api/rooms/{roomId}/attachments',
    ];
    const paths = document.paths as Record<string, Record<string, unknown>>;
    const documented = Object.entries(paths).flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m.toUpperCase()} ${path}`));
    // This project's additions beyond the contract: the push key and the delivery routes (docs/webhooks.md).
    const additions = [
      'GET /api/push/vapid-public-key', 'GET /api/internal/webhooks/status', 'GET /api/internal/webhooks/dead-letters',
      'POST /api/internal/webhooks/dead-letters/replay', 'POST /api/internal/webhooks/dead-letters/{deliveryId}/replay',
      // Where an attachment's signed URL points (docs/attachments.md).
      'GET /attachments/{attachmentId}/{variant}', 'GET /api/audit/attachments/{attachmentId}/{variant}',
    ];
    // Contract v1.2, as far as built.
    const v12 = [
      'POST /api/internal/rooms/{roomId}/notices',
      'POST /api/rooms/{roomId}/messages/{seq}/report',
      'GET /api/moderation/reports',
      'GET /api/moderation/reports/{reportId}',
      'POST /api/moderation/reports/{reportId}/resolution',
      'PUT /api/internal/users/{userId}/suspension',
      'DELETE /api/internal/users/{userId}/suspension',
      'POST /api/internal/users/{userId}/erasure',
      'GET /api/internal/erasures/{erasureId}',
    ];
    expect(new Set(documented)).toEqual(new Set([...contract, ...v12, ...additions]));
  });

  it('describes requests with the schemas the routers validate with: fields, limits and auth', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document read by the assertions
    const paths = document.paths as Record<string, Record<string, any>>;
    const send = paths['/api/rooms/{roomId}/messages']!.post;
    expect(send.requestBody.content['application/json'].schema).toMatchObject({ type: 'object', required: ['clientMessageId', 'body'] });
    expect(send.parameters).toEqual([expect.objectContaining({ name: 'roomId', in: 'path', required: true, schema: expect.objectContaining({ pattern: expect.any(String) }) })]);
    expect(Object.keys(send.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '404', '409', '429', '500']));
    const page = paths['/api/rooms/{roomId}/messages']!.get;
    expect(page.parameters.map((p: { name: string; required: boolean }) => [p.name, p.required])).toEqual([['roomId', true], ['before', false], ['after', false], ['limit', false]]);
    expect(page.parameters.find((p: { name: string }) => p.name === 'limit').description).toBe('an integer from 1 to 200');
    expect(paths['/api/internal/posts/{postId}']!.put.security).toEqual([{ internalToken: [] }]);
    expect(paths['/healthz']!.get.security).toEqual([]);
    expect(Object.keys(paths['/api/audit/verify']!.get.responses)).toEqual(expect.arrayContaining(['401', '403']));
  });
});

describe('contractRouteOf (the bounded route label of the HTTP metrics)', () => {
  it('names the route pattern of a concrete path, and nothing for a path outside the contract', () => {
    expect(contractRouteOf('GET', '/api/rooms/0b7c1d1e-0000-4000-8000-000000000000/messages')).toBe('/api/rooms/:roomId/messages');
    expect(contractRouteOf('DELETE', '/api/rooms/abc/block')).toBe('/api/rooms/:roomId/block');
    expect(contractRouteOf('GET', '/api/rooms')).toBe('/api/rooms');
    expect(contractRouteOf('PATCH', '/api/rooms')).toBeNull();
    expect(contractRouteOf('GET', '/wp-admin/install.php')).toBeNull();
    expect(contractRouteOf('GET', '/api/rooms/a/b/c/messages')).toBeNull();
  });
});

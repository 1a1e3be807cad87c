import { Router } from 'express';
import { z } from 'zod';
import { eventsQuery, roomParams as auditParams, stateQuery, verifyQuery } from './auditRoutes';
import * as contract from './contractSchemas';
import { statusOfCode, type ErrorCode } from '../errors';
import { sessionBody } from './devRoutes';
import { listPostsQuery, postParams, upsertPostBody } from './postRoutes';
import { listRoomsQuery, markReadBody, messagesQuery, openRoomBody, roomParams, sendMessageBody } from './roomRoutes';
import { deadLettersQuery, deliveryParams } from './webhookRoutes';
import { postNoticeBody } from './noticeRoutes';
import {
  listReportsQuery,
  reportBody,
  reportIdParams,
  reportParams,
  resolutionBody,
  suspensionBody,
  userParams,
} from './moderationRoutes';
import { downloadParams, downloadQuery, uploadParams } from './attachmentRoutes';
import { erasureIdParams, erasureUserParams } from './erasureRoutes';

type Method = 'get' | 'post' | 'put' | 'delete';
type Auth = 'none' | 'user' | 'auditor' | 'moderator' | 'internal';

interface Answer {
  description: string;
  /** Absent: no body. */
  body?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  /** The same answer in another media type (chosen by a query parameter), e.g. JSON Lines. */
  alternative?: { contentType: string; body: z.ZodType; description: string };
}

/** One HTTP route of the contract, described with the schemas its router validates with. */
export interface RouteSpec {
  method: Method;
  /** Express style: `/api/rooms/:roomId`. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A body that is not JSON (an uploaded image): its media types. */
  rawBody?: { contentTypes: string[]; description: string };
  answers: Record<number, Answer>;
  /** Contract error codes this route may answer with, besides those its auth and inputs imply. */
  errors?: ErrorCode[];
  /** Contract v1.1 or v1.2 addition. */
  since?: '1.1' | '1.2';
}

const roomAnswer = z.object({ room: contract.roomResponse });
const messageAnswer = z.object({ message: contract.messageResponse });
const noContent: Answer = { description: 'done' };

/**
 * Every HTTP route of contract v1.1, in one table: the OpenAPI document is generated
 * from it, and the HTTP metrics take their `route` label from it.
 */
export const contractRoutes: readonly RouteSpec[] = [
  {
    method: 'put', path: '/api/internal/posts/:postId', tag: 'posts', auth: 'internal',
    summary: 'Upsert a post the service may open rooms for (marketplace backend)',
    params: postParams, body: upsertPostBody, errors: ['unavailable'],
    answers: { 200: { description: 'the post as stored', body: z.object({ post: contract.postResponse }) } },
  },
  {
    method: 'post', path: '/api/internal/rooms/:roomId/notices', tag: 'messages', auth: 'internal', since: '1.2',
    summary: 'Post a notice of the marketplace into a room (a message of kind notice from "system")',
    params: roomParams, body: postNoticeBody, errors: ['not_found', 'room_expired', 'unavailable'],
    answers: {
      200: { description: 'a retry: the notice already posted with this clientNoticeId', body: messageAnswer },
      201: { description: 'posted', body: messageAnswer },
    },
  },
  {
    method: 'post', path: '/api/rooms/:roomId/messages/:seq/report', tag: 'moderation', auth: 'user', since: '1.2',
    summary: 'Report a message you received (once per message: the same report again is 200)',
    params: reportParams, body: reportBody, errors: ['not_found', 'forbidden', 'suspended', 'rate_limited'],
    answers: {
      200: { description: 'already reported: the same report', body: z.object({ report: contract.reportResponse }) },
      201: { description: 'reported', body: z.object({ report: contract.reportResponse }) },
    },
  },
  {
    method: 'get', path: '/api/moderation/reports', tag: 'moderation', auth: 'moderator', since: '1.2',
    summary: 'The reports of one status (default open), newest first', query: listReportsQuery,
    answers: { 200: { description: 'one page', body: contract.reportPageResponse } },
  },
  {
    method: 'get', path: '/api/moderation/reports/:reportId', tag: 'moderation', auth: 'moderator', since: '1.2',
    summary: 'One report with the reported message and those around it (the read is recorded)',
    params: reportIdParams, errors: ['not_found'],
    answers: { 200: { description: 'the report and its context', body: contract.reportWithContextResponse } },
  },
  {
    method: 'post', path: '/api/moderation/reports/:reportId/resolution', tag: 'moderation', auth: 'moderator', since: '1.2',
    summary: 'Resolve a report: dismiss, hide the message, or suspend its sender (a resolved report stays as it was)',
    params: reportIdParams, body: resolutionBody, errors: ['not_found'],
    answers: { 200: { description: 'the report, resolved', body: z.object({ report: contract.reportResponse }) } },
  },
  {
    method: 'put', path: '/api/internal/users/:userId/suspension', tag: 'moderation', auth: 'internal', since: '1.2',
    summary: 'Suspend a user (until a time, or until reinstated): they may read but not write',
    params: userParams, body: suspensionBody, errors: ['unavailable'],
    answers: { 200: { description: 'suspended', body: contract.suspensionResponse } },
  },
  {
    method: 'delete', path: '/api/internal/users/:userId/suspension', tag: 'moderation', auth: 'internal', since: '1.2',
    summary: 'Reinstate a suspended user', params: userParams, errors: ['unavailable'],
    answers: { 204: noContent },
  },
  {
    method: 'post', path: '/api/internal/users/:userId/erasure', tag: 'privacy', auth: 'internal', since: '1.2',
    summary: "Erase a user: their messages read as erased for everyone, their keys, photos, push subscriptions and profile gone, the record kept (asked again: the same erasure)",
    params: erasureUserParams, errors: ['unavailable'],
    answers: { 202: { description: 'the erasure, pending (carried out by a durable process) or done', body: contract.erasureResponse } },
  },
  {
    method: 'get', path: '/api/internal/erasures/:erasureId', tag: 'privacy', auth: 'internal', since: '1.2',
    summary: 'One erasure: pending or done, with its counts once done',
    params: erasureIdParams, errors: ['not_found'],
    answers: { 200: { description: 'the erasure', body: contract.erasureResponse } },
  },
  {
    method: 'get', path: '/api/posts', tag: 'posts', auth: 'user', since: '1.1',
    summary: 'The posts the service knows, newest first',
    query: listPostsQuery,
    answers: { 200: { description: 'one page', body: contract.postPageResponse } },
  },
  {
    method: 'get', path: '/api/posts/:postId', tag: 'posts', auth: 'user',
    summary: 'One post', params: postParams, errors: ['not_found'],
    answers: { 200: { description: 'the post', body: contract.postResponse } },
  },
  {
    method: 'post', path: '/api/dev/session', tag: 'development', auth: 'none', since: '1.1',
    summary: 'Development mode only: a token for any user id (the route does not exist in any other mode: 404)',
    body: sessionBody, errors: ['not_found'],
    answers: { 200: { description: 'a token the server accepts', body: contract.devSessionResponse } },
  },
  {
    method: 'post', path: '/api/rooms', tag: 'rooms', auth: 'user',
    summary: "Get or open the caller's room on a post, as borrower",
    body: openRoomBody, errors: ['not_found', 'own_post', 'blocked', 'suspended', 'rate_limited', 'unavailable'],
    answers: {
      200: { description: 'the room existed and was open', body: contract.openRoomResponse },
      201: { description: 'the room was opened or reopened', body: contract.openRoomResponse },
    },
  },
  {
    method: 'get', path: '/api/rooms', tag: 'rooms', auth: 'user',
    summary: "The caller's open rooms, newest activity first",
    query: listRoomsQuery,
    answers: { 200: { description: 'one page', body: contract.roomPageResponse } },
  },
  {
    method: 'get', path: '/api/rooms/:roomId', tag: 'rooms', auth: 'user',
    summary: "One of the caller's rooms", params: roomParams, errors: ['not_found'],
    answers: { 200: { description: "the caller's view of the room", body: roomAnswer } },
  },
  {
    method: 'get', path: '/api/rooms/:roomId/messages', tag: 'messages', auth: 'user',
    summary: 'One page of messages, ascending by seq (default: the latest)',
    params: roomParams, query: messagesQuery, errors: ['not_found'],
    answers: { 200: { description: 'one page', body: contract.messagePageResponse } },
  },
  {
    method: 'post', path: '/api/rooms/:roomId/messages', tag: 'messages', auth: 'user',
    summary: 'Send a message (the same clientMessageId twice yields one message)',
    params: roomParams, body: sendMessageBody, errors: ['not_found', 'room_expired', 'blocked', 'suspended', 'rate_limited', 'unavailable'],
    answers: {
      200: { description: 'a retry: the message already sent', body: messageAnswer },
      201: { description: 'sent', body: messageAnswer },
    },
  },
  {
    method: 'post', path: '/api/rooms/:roomId/attachments', tag: 'messages', auth: 'user', since: '1.2',
    summary: 'Upload a photo to send in this room: JPEG, PNG or WebP (judged from the bytes), stored without its metadata',
    params: uploadParams,
    rawBody: { contentTypes: ['image/jpeg', 'image/png', 'image/webp'], description: 'the image file itself, at most ATTACHMENT_MAX_BYTES' },
    errors: ['not_found', 'room_expired', 'payload_too_large', 'unsupported_media_type', 'rate_limited'],
    answers: { 201: { description: 'stored; send it with `attachments: [attachmentId]`', body: z.object({ attachment: contract.attachmentResponse }) } },
  },
  {
    method: 'get', path: '/attachments/:attachmentId/:variant', tag: 'messages', auth: 'none', since: '1.2',
    summary: "An attachment's image or thumbnail at the signed, expiring URL a message gives (an <img src> sends no token)",
    params: downloadParams, query: downloadQuery, errors: ['forbidden', 'not_found'],
    answers: { 200: { description: 'the image (Cache-Control: private, until the link expires)', body: z.string(), contentType: 'image/*' } },
  },
  {
    method: 'post', path: '/api/rooms/:roomId/read', tag: 'messages', auth: 'user',
    summary: 'Mark messages read up to a seq', params: roomParams, body: markReadBody, errors: ['not_found', 'rate_limited'],
    answers: { 204: noContent },
  },
  {
    method: 'post', path: '/api/rooms/:roomId/reopen', tag: 'rooms', auth: 'user', since: '1.1',
    summary: 'Either participant reopens an expired room', params: roomParams, errors: ['not_found', 'blocked', 'suspended', 'rate_limited', 'unavailable'],
    answers: { 200: { description: 'the room, open', body: roomAnswer } },
  },
  {
    method: 'post', path: '/api/rooms/:roomId/block', tag: 'rooms', auth: 'user',
    summary: 'Block the other participant in this room', params: roomParams, errors: ['not_found', 'rate_limited'],
    answers: { 204: noContent },
  },
  {
    method: 'delete', path: '/api/rooms/:roomId/block', tag: 'rooms', auth: 'user',
    summary: 'Unblock the other participant in this room', params: roomParams, errors: ['not_found', 'rate_limited'],
    answers: { 204: noContent },
  },
  {
    method: 'post', path: '/api/push/subscriptions', tag: 'push', auth: 'user', since: '1.1',
    summary: "Register the caller's Web Push subscription (at most 10 a user: a new one past that replaces the oldest). 400 names an endpoint push may not reach (docs/webhooks.md); 404 when Web Push is off",
    body: contract.pushSubscriptionBody, errors: ['not_found', 'rate_limited'],
    answers: { 201: { description: 'registered', body: contract.pushSubscribedResponse } },
  },
  {
    method: 'delete', path: '/api/push/subscriptions', tag: 'push', auth: 'user', since: '1.1',
    summary: "Remove the caller's Web Push subscription; 404 when Web Push is off", body: contract.pushUnsubscribeBody, errors: ['not_found'],
    answers: { 204: noContent },
  },
  {
    method: 'get', path: '/api/push/vapid-public-key', tag: 'push', auth: 'user',
    summary: 'The VAPID public key browsers subscribe with (docs/webhooks.md); 404 when Web Push is off', errors: ['not_found'],
    answers: { 200: { description: 'the key', body: contract.vapidPublicKeyResponse } },
  },
  {
    method: 'get', path: '/api/internal/webhooks/status', tag: 'push', auth: 'internal',
    summary: 'Deliveries waiting, dead letters, and the age of the oldest waiting delivery',
    answers: { 200: { description: 'the outbox in numbers', body: contract.deliveryStatusResponse } },
  },
  {
    method: 'get', path: '/api/internal/webhooks/dead-letters', tag: 'push', auth: 'internal',
    summary: 'Dead letters, oldest first', query: deadLettersQuery,
    answers: { 200: { description: 'one page', body: contract.deadLetterPageResponse } },
  },
  {
    method: 'post', path: '/api/internal/webhooks/dead-letters/replay', tag: 'push', auth: 'internal',
    summary: 'Every dead letter back in the queue',
    answers: { 202: { description: 'how many went back in the queue', body: contract.replayedResponse } },
  },
  {
    method: 'post', path: '/api/internal/webhooks/dead-letters/:deliveryId/replay', tag: 'push', auth: 'internal',
    summary: 'One dead letter back in the queue, with its delivery id', params: deliveryParams, errors: ['not_found'],
    answers: { 202: { description: 'back in the queue', body: contract.replayedResponse } },
  },
  {
    method: 'get', path: '/api/audit/rooms/:roomId/events', tag: 'audit', auth: 'auditor',
    summary: "A room's full event history as recorded, with the hash chain verified",
    params: auditParams, query: eventsQuery, errors: ['not_found'],
    answers: {
      200: {
        description: 'the history',
        body: contract.auditEventsResponse,
        alternative: {
          contentType: 'application/x-ndjson',
          body: contract.recordedEventResponse,
          description: 'with `?format=jsonl`: one recorded event per line, streamed',
        },
      },
    },
  },
  {
    method: 'get', path: '/api/audit/rooms/:roomId/state', tag: 'audit', auth: 'auditor', since: '1.1',
    summary: 'The room as it stood at an instant, folded from its events',
    params: auditParams, query: stateQuery, errors: ['not_found'],
    answers: { 200: { description: 'the folded state', body: contract.auditStateResponse } },
  },
  {
    method: 'get', path: '/api/audit/attachments/:attachmentId/:variant', tag: 'audit', auth: 'auditor', since: '1.2',
    summary: "A photo's stored image or thumbnail, for an auditor (recorded as an audit read)",
    params: downloadParams, errors: ['not_found'],
    answers: { 200: { description: 'the stored bytes; X-Attachment-SHA256 is their digest', body: z.string(), contentType: 'image/*' } },
  },
  {
    method: 'get', path: '/api/audit/verify', tag: 'audit', auth: 'auditor', since: '1.1',
    summary: "Every room's chain checked, failures named by room and revision",
    query: verifyQuery, errors: ['not_found'],
    answers: { 200: { description: 'the verdict', body: contract.auditVerifyResponse } },
  },
  {
    method: 'get', path: '/openapi.json', tag: 'operations', auth: 'none', since: '1.1',
    summary: 'This document', answers: { 200: { description: 'OpenAPI 3.1', body: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/healthz', tag: 'operations', auth: 'none', summary: 'Liveness',
    answers: { 200: { description: 'the process answers', body: contract.healthResponse } },
  },
  {
    method: 'get', path: '/readyz', tag: 'operations', auth: 'none',
    summary: 'Readiness: the stores answer and the projections are within their lag bound',
    answers: {
      200: { description: 'ready', body: contract.readinessResponse },
      503: { description: 'not ready; `checks` names what failed', body: contract.readinessResponse },
    },
  },
  {
    method: 'get', path: '/metrics', tag: 'operations', auth: 'none',
    summary: 'Prometheus metrics (on METRICS_PORT instead when that is set)',
    answers: { 200: { description: 'Prometheus text format', body: z.string(), contentType: 'text/plain; version=0.0.4' } },
  },
];

const securityOf: Record<Exclude<Auth, 'none'>, Array<Record<string, string[]>>> = {
  user: [{ userToken: [] }],
  auditor: [{ userToken: [] }],
  moderator: [{ userToken: [] }],
  internal: [{ internalToken: [] }],
};

/**
 * A zod schema as an OpenAPI 3.1 Schema Object (JSON Schema 2020-12). The input side:
 * what a request must look like before the router's transforms; for answers (plain
 * objects, no transforms) it also leaves room for fields added later.
 */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const openApiPath = (path: string): string => path.replace(/:([A-Za-z]+)/g, '{$1}');

function parameters(route: RouteSpec): unknown[] {
  const out: unknown[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (schema === undefined) continue;
    const object = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...propertySchema } = property;
      out.push({
        name,
        in: where,
        required: where === 'path' || (object.required ?? []).includes(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: propertySchema,
      });
    }
  }
  return out;
}

/** Every error code a route may answer with: those it names, and those its auth and inputs imply. */
export function errorCodesOf(route: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>(route.errors ?? []);
  if (route.params !== undefined || route.query !== undefined || route.body !== undefined) codes.add('bad_request');
  if (route.body !== undefined || route.rawBody !== undefined) codes.add('payload_too_large');
  if (route.rawBody !== undefined) codes.add('bad_request');
  if (route.auth !== 'none') codes.add('unauthorized');
  if (route.auth === 'auditor' || route.auth === 'moderator') codes.add('forbidden');
  // A user's token: the keys to check it with (JWT_JWKS_URL) may be out of reach. A route that
  // appends events also names `unavailable` itself (the event store overloaded). Nothing was
  // done; retry after Retry-After.
  if (route.auth === 'user' || route.auth === 'auditor' || route.auth === 'moderator') codes.add('unavailable');
  codes.add('internal');
  return [...codes];
}

function operation(route: RouteSpec): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    const content: Record<string, unknown> = {};
    if (answer.body !== undefined) content[answer.contentType ?? 'application/json'] = { schema: jsonSchema(answer.body) };
    if (answer.alternative !== undefined) {
      content[answer.alternative.contentType] = { schema: jsonSchema(answer.alternative.body) };
    }
    responses[status] = {
      description: answer.alternative === undefined ? answer.description : `${answer.description}; ${answer.alternative.description}`,
      ...(Object.keys(content).length > 0 ? { content } : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(route)) {
    const status: number = statusOfCode[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (responses[String(status)] !== undefined) continue;
    responses[String(status)] = {
      description: `error: ${codes.join(', ')}`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  const params = parameters(route);
  return {
    operationId: `${route.method}${route.path.replace(/[:{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: route.summary,
    tags: [route.tag],
    ...(route.since !== undefined ? { description: `Contract v${route.since}.` } : {}),
    ...(route.auth === 'none' ? { security: [] } : { security: securityOf[route.auth] }),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body !== undefined ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } } : {}),
    ...(route.rawBody !== undefined
      ? {
          requestBody: {
            required: true,
            description: route.rawBody.description,
            content: Object.fromEntries(route.rawBody.contentTypes.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])),
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every route in `contractRoutes`. */
export function openApiDocument(options: { version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of contractRoutes) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rental-chat',
      version: options.version ?? '1.1',
      description:
        'Real-time 1:1 chat for a peer-to-peer rental marketplace: the HTTP API of contract v1.1. ' +
        'The WebSocket `/chat` is described in docs/websocket.md.',
    },
    tags: ['posts', 'rooms', 'messages', 'moderation', 'privacy', 'push', 'audit', 'development', 'operations'].map((name) => ({ name })),
    security: [{ userToken: [] }],
    paths,
    components: {
      schemas: { Error: jsonSchema(contract.errorResponse) },
      securitySchemes: {
        userToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A user's JWT (`sub` is the user id; `roles` may hold auditor)" },
        internalToken: { type: 'http', scheme: 'bearer', description: 'INTERNAL_API_TOKEN, for the marketplace backend' },
      },
    },
  };
}

/** `GET /openapi.json`: the document, made once. */
export function openApiRoutes(): Router {
  const router = Router();
  const document = JSON.stringify(openApiDocument());
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  return router;
}

/**
 * The contract route a request is for (`/api/rooms/:roomId`), or null: the bounded
 * `route` label of the HTTP metrics, even for requests refused before a router matched.
 */
export function contractRouteOf(method: string, path: string): string | null {
  const lower = method.toLowerCase();
  for (const { matcher, route } of routeMatchers) {
    if (route.method === lower && matcher.test(path)) return route.path;
  }
  return null;
}

const routeMatchers = contractRoutes.map((route) => ({
  route,
  matcher: new RegExp(`^${route.path.replace(/[.]/g, '\\.').replace(/:[A-Za-z]+/g, '[^/]+')}/?$`),
}));

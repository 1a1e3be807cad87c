import { z } from 'zod';
import { jsonObject } from '../validation';

/**
 * The contract's shapes that are not (yet) request validation in a router: the
 * answers' bodies, and the requests of v1.1 routes this branch's routers do not serve
 * yet. They live here, in one place, so the OpenAPI document is made of the same kind
 * of schema as the routers' own, and a router that starts serving one of these routes
 * imports its schema from here instead of writing another (then the document cannot
 * drift from what is validated).
 */

const isoTime = (description: string) => z.string().meta({ description, format: 'date-time' });

export const errorResponse = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'snake_case, e.g. bad_request, not_found, rate_limited' }),
      message: z.string().meta({ description: 'for people; a 400 names the offending field first' }),
    }),
  })
  .meta({ description: 'Every non-2xx answer' });

export const attachmentResponse = z.object({
  attachmentId: z.string(),
  contentType: z.enum(['image/jpeg', 'image/png', 'image/webp']).meta({ description: 'judged from the bytes, not the upload header' }),
  bytes: z.number().int().min(1).meta({ description: 'of the stored image (re-encoded, no metadata)' }),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  sha256: z.string().meta({ description: 'SHA-256 of the stored bytes, hex' }),
  url: z.string().meta({ description: 'signed and expiring: loads in an <img src> without a token; read the message again for a fresh one' }),
  thumbnailUrl: z.string().meta({ description: 'the same, for a thumbnail of at most 320 px on its longer side' }),
});

export const messageResponse = z.object({
  messageId: z.string(),
  roomId: z.string(),
  seq: z.number().int().min(1).meta({ description: 'starts at 1 and grows by 1 per message in its room, no gaps' }),
  senderId: z.string(),
  body: z.string(),
  sentAt: isoTime('ISO-8601 UTC'),
  clientMessageId: z.string(),
  kind: z.enum(['text', 'notice']).meta({ description: '`notice`: posted by the marketplace; its senderId is "system"' }),
  hidden: z.boolean().meta({ description: 'hidden by a moderator: body is "" (seq, messageId, senderId and sentAt stay)' }),
  erased: z
    .boolean()
    .meta({ description: "erased (the sender's data, or the room's retention): body is \"\" for everyone (seq, messageId, senderId and sentAt stay)" }),
  safety: z
    .array(z.enum(['contact_info']))
    .meta({ description: 'hints for the recipient: `contact_info` when the text carries a phone number, bank account or outside-messenger contact; empty when none' }),
  attachments: z.array(attachmentResponse).meta({ description: 'the photos sent with it; empty when none (and when hidden)' }),
});

export const roomResponse = z.object({
  roomId: z.string(),
  postId: z.string(),
  postTitle: z.string(),
  lenderId: z.string(),
  borrowerId: z.string(),
  status: z.enum(['open', 'expired']),
  openedAt: isoTime('ISO-8601 UTC'),
  lastActivityAt: isoTime('ISO-8601 UTC'),
  lastMessage: messageResponse.nullable(),
  unreadCount: z.number().int().min(0).meta({ description: "the caller's own" }),
  lastReadSeq: z.record(z.string(), z.number().int().min(0)).meta({ description: 'per participant user id' }),
  blockedByMe: z.boolean().meta({ description: 'the caller blocked the other participant in this room' }),
  blockedMe: z.boolean().meta({ description: 'the other participant blocked the caller in this room: the caller\'s sends fail with `blocked`' }),
  participants: z
    .record(
      z.string(),
      z.object({
        name: z.string().min(1).max(64).optional().meta({ description: "the `name` claim of the user's latest token; absent when unknown" }),
        picture: z.url({ protocol: /^https$/ }).optional().meta({ description: "the `picture` claim (an https URL) of the user's latest token; absent when unknown" }),
      }),
    )
    .meta({ description: 'per participant user id, as their tokens last said; a participant nothing is known of is absent' }),
});

export const postResponse = z.object({ postId: z.string(), ownerId: z.string(), title: z.string() });

export const roomPageResponse = z.object({ rooms: z.array(roomResponse), nextCursor: z.string().nullable() });
export const postPageResponse = z.object({ posts: z.array(postResponse), nextCursor: z.string().nullable() });
export const messagePageResponse = z.object({ messages: z.array(messageResponse), hasMore: z.boolean() });
export const openRoomResponse = z.object({ room: roomResponse, messages: z.array(messageResponse), hasMore: z.boolean() });

export const recordedEventResponse = z.object({
  streamRevision: z.number().int().min(0),
  globalPosition: z.union([z.number().int(), z.string()]).meta({ description: 'the store position (text when past 2^53)' }),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
  metadata: z
    .object({
      actorId: z.string(),
      correlationId: z.string(),
      causationId: z.string(),
      recordedAt: isoTime('when the event was stored'),
      prevHash: z.string(),
      hash: z.string(),
    })
    .catchall(z.unknown()),
});
export const auditEventsResponse = z.object({ events: z.array(recordedEventResponse), verified: z.boolean() });

export const healthResponse = z.object({ status: z.literal('ok') });
export const readinessResponse = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.record(z.string(), z.boolean()),
});

export const devSessionResponse = z.object({ userId: z.string(), token: z.string(), expiresAt: isoTime('when the token expires') });

// ---- v1.1 requests validated by their router (pushRoutes), which imports them from here ----

const base64urlBytes = (bytes: number, what: string) =>
  z
    .string({ error: `must be ${what} in URL-safe base64` })
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, { error: `must be ${what} in URL-safe base64` })
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, { error: `must be ${what} (${bytes} bytes) in URL-safe base64` });

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** A Web Push endpoint: the https URL of the browser vendor's push service (PushSubscription.endpoint). */
function pushEndpoint(allowLoopbackHttp: boolean) {
  const message = 'must be the https:// URL of a push service (PushSubscription.endpoint)';
  return z
    .string({ error: message })
    .max(2048, { error: 'must be at most 2048 characters' })
    .refine(
      (text) => {
        if (!URL.canParse(text)) return false;
        const url = new URL(text);
        if (url.protocol === 'https:') return true;
        return allowLoopbackHttp && url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname);
      },
      { error: message },
    )
    .meta({ format: 'uri', description: 'https; plain http to the loopback outside production (local push services)' });
}

/**
 * The push subscription bodies, validated by pushRoutes and described by the OpenAPI
 * document: `POST /api/push/subscriptions {endpoint, keys}` (the browser's
 * PushSubscription.toJSON()) and `DELETE /api/push/subscriptions {endpoint}`.
 * `allowLoopbackHttp`: development only, push services on the loopback over http.
 */
export function pushSubscriptionSchemas(options: { allowLoopbackHttp: boolean }) {
  const endpoint = pushEndpoint(options.allowLoopbackHttp);
  return {
    subscribe: jsonObject({
      endpoint,
      keys: z.object(
        { p256dh: base64urlBytes(65, 'an uncompressed P-256 public key'), auth: base64urlBytes(16, 'a 16-byte secret') },
        { error: 'must be an object {p256dh, auth}' },
      ),
    }),
    unsubscribe: jsonObject({ endpoint }),
  };
}

/** As a production server validates them: the OpenAPI document's. */
export const { subscribe: pushSubscriptionBody, unsubscribe: pushUnsubscribeBody } = pushSubscriptionSchemas({ allowLoopbackHttp: false });

export const auditStateResponse = z.object({
  room: z.record(z.string(), z.unknown()).meta({ description: 'the room as it stood then, folded from its events' }),
});

export const auditVerifyResponse = z
  .object({ verified: z.boolean(), anchorHead: z.unknown() })
  .catchall(z.unknown())
  .meta({ description: 'totals and failures named by room and revision (docs/audit.md); `?format=jsonl` streams one verdict per line, then a summary' });

export const reportResponse = z.object({
  reportId: z.string(),
  roomId: z.string(),
  seq: z.number().int().min(1),
  reporterId: z.string(),
  reportedUserId: z.string(),
  reason: z.enum(['spam', 'scam', 'abuse', 'other']),
  note: z.string(),
  status: z.enum(['open', 'resolved']),
  createdAt: isoTime('ISO-8601 UTC'),
  resolution: z
    .object({
      action: z.enum(['dismiss', 'hide_message', 'suspend_sender']),
      note: z.string(),
      moderatorId: z.string(),
      resolvedAt: isoTime('ISO-8601 UTC'),
    })
    .nullable(),
});
export const reportPageResponse = z.object({ reports: z.array(reportResponse), nextCursor: z.string().nullable() });
export const reportWithContextResponse = z.object({
  report: reportResponse,
  context: z.array(messageResponse).meta({ description: 'the reported message and those around it; a hidden one keeps its text here' }),
});
export const suspensionResponse = z.object({
  suspension: z.object({ userId: z.string(), until: isoTime('ISO-8601 UTC').nullable(), reason: z.string() }),
});
export const erasureResponse = z.object({
  erasure: z.object({
    erasureId: z.string().meta({ description: 'a UUID' }),
    userId: z.string(),
    status: z.enum(['pending', 'done']),
    requestedAt: isoTime('ISO-8601 UTC'),
    completedAt: isoTime('ISO-8601 UTC').nullable(),
    counts: z
      .object({
        rooms: z.number().int().min(0).meta({ description: 'rooms the user wrote in' }),
        messages: z.number().int().min(0).meta({ description: 'messages the user wrote, now erased' }),
      })
      .nullable()
      .meta({ description: 'null while pending' }),
  }),
});

/** Web Push and webhook delivery answers. */
export const vapidPublicKeyResponse = z.object({ publicKey: z.string().meta({ description: 'URL-safe base64, for PushManager.subscribe' }) });
export const pushSubscribedResponse = z.object({ subscription: z.object({ endpoint: z.string() }) });
export const deliveryStatusResponse = z.object({
  pending: z.number().int().min(0),
  dead: z.number().int().min(0),
  oldestPendingAgeSeconds: z.number().min(0),
});
export const deadLetterResponse = z.object({
  deliveryId: z.string(),
  channel: z.enum(['webhook', 'push']),
  target: z.string(),
  roomId: z.string(),
  eventId: z.string().nullable(),
  type: z.string(),
  attempts: z.number().int().min(0),
  createdAt: isoTime('when it was queued'),
  deadAt: isoTime('when it was given up'),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  payload: z.unknown(),
});
export const deadLetterPageResponse = z.object({ deadLetters: z.array(deadLetterResponse), nextCursor: z.string().nullable() });
export const replayedResponse = z.object({ replayed: z.number().int().min(0) });

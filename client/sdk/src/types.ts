/**
 * The service's public contract (v1.2) as TypeScript types: every HTTP body and WebSocket
 * frame the client sees or sends. test/client/contract.unit.test.ts checks the error codes,
 * frames and close codes here against the server's own (src/interfaces), so they cannot drift.
 */

/** The service's error codes (HTTP bodies and `error` frames). */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'own_post',
  'room_expired',
  'blocked',
  'suspended',
  'rate_limited',
  'payload_too_large',
  'unsupported_media_type',
  'internal',
  'unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Every non-2xx HTTP body. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export interface Post {
  postId: string;
  ownerId: string;
  title: string;
}

export interface Message {
  messageId: string;
  roomId: string;
  /** 1, 2, 3… per room, no gaps. */
  seq: number;
  senderId: string;
  body: string;
  /** ISO-8601 UTC. */
  sentAt: string;
  clientMessageId: string;
  /** `notice`: posted by the marketplace (`senderId` is "system"). */
  kind: MessageKind;
  /** Hidden by a moderator: `body` is "". */
  hidden: boolean;
  /**
   * The sender's account was erased, or the room's retention elapsed: `body` is "" (seq,
   * messageId, senderId and sentAt stay). Show it as "Message deleted". Absent from a
   * server older than erasure: treat as false.
   */
  erased?: boolean;
  /** Hints for the recipient: `contact_info` when the text carries contact details that move a deal off the marketplace. */
  safety: SafetyHint[];
  /** The photos sent with it; empty when none (or hidden). */
  attachments: Attachment[];
}

/**
 * A photo: its metadata, and signed URLs an `<img src>` loads without a token. The URLs
 * are relative to the server and expire (an hour by default): read the message again for
 * fresh ones.
 */
export interface Attachment {
  attachmentId: string;
  contentType: 'image/jpeg' | 'image/png' | 'image/webp';
  bytes: number;
  width: number;
  height: number;
  /** SHA-256 of the stored image, hex. */
  sha256: string;
  url: string;
  thumbnailUrl: string;
}

export type MessageKind = 'text' | 'notice';
export type SafetyHint = 'contact_info';

/** A room as the signed-in user sees it (`unreadCount` is theirs). */
export interface Room {
  roomId: string;
  postId: string;
  postTitle: string;
  lenderId: string;
  borrowerId: string;
  status: 'open' | 'expired';
  openedAt: string;
  lastActivityAt: string;
  lastMessage: Message | null;
  unreadCount: number;
  lastReadSeq: Record<string, number>;
  /** You blocked the other participant in this room. */
  blockedByMe: boolean;
  /** The other participant blocked you in this room: your sends fail with `blocked`. */
  blockedMe: boolean;
  /** Names and pictures by user id, from the users' tokens (`name`, `picture` claims); a participant nothing is known of is absent. */
  participants: Record<string, Participant>;
}

/** What is known of a participant: each field absent when unknown. */
export interface Participant {
  /** 1–64 characters. */
  name?: string;
  /** An https URL. */
  picture?: string;
}

// HTTP bodies
export interface PostPage {
  posts: Post[];
  nextCursor: string | null;
}
export interface RoomPage {
  rooms: Room[];
  nextCursor: string | null;
}
export interface MessagePage {
  messages: Message[];
  hasMore: boolean;
}
export interface OpenRoomResponse extends MessagePage {
  room: Room;
}
export interface RoomResponse {
  room: Room;
}
export interface MessageResponse {
  message: Message;
}
export interface DevSession {
  userId: string;
  token: string;
  expiresAt: string;
}

// WebSocket frames, client → server. Each may carry `id` (1–64 characters): its answer names it as `ref`.
export type ClientFrame =
  | { type: 'send'; roomId: string; clientMessageId: string; body: string; attachments?: string[]; id?: string }
  | { type: 'read'; roomId: string; upToSeq: number; id?: string }
  | { type: 'typing'; roomId: string; id?: string }
  | { type: 'resume'; roomId: string; afterSeq: number; id?: string }
  | { type: 'auth'; token: string; id?: string }
  | { type: 'ping'; id?: string };

export const CLIENT_FRAME_TYPES = ['send', 'read', 'typing', 'resume', 'auth', 'ping'] as const satisfies ReadonlyArray<ClientFrame['type']>;

// WebSocket frames, server → client. `ref`: the `id` of the frame answered (absent when it had none).
export type ServerFrame =
  | { type: 'ack'; clientMessageId: string; message: Message; ref?: string }
  | { type: 'message'; message: Message }
  | { type: 'read'; roomId: string; userId: string; upToSeq: number }
  | { type: 'typing'; roomId: string; userId: string }
  | { type: 'room'; room: Room }
  | { type: 'resumed'; roomId: string; lastSeq: number; ref?: string }
  | { type: 'message_hidden'; roomId: string; seq: number }
  | { type: 'suspended'; until: string | null }
  | { type: 'erased'; roomId: string; userId: string }
  | { type: 'error'; code: ErrorCode; message: string; ref: string | null }
  | { type: 'done'; ref: string }
  | { type: 'pong'; ref?: string };

export const SERVER_FRAME_TYPES = [
  'ack',
  'message',
  'read',
  'typing',
  'room',
  'resumed',
  'message_hidden',
  'suspended',
  'erased',
  'error',
  'done',
  'pong',
] as const satisfies ReadonlyArray<ServerFrame['type']>;

/** The close codes the server sends (named as the server names them), and 1000, which the client sends. */
export const CloseCodes = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  frameTooBig: 1009,
  serverError: 1011,
  tokenExpired: 4001,
  /** The account was erased: never reconnect. */
  accountErased: 4003,
  tooSlow: 4008,
  rateLimited: 4029,
} as const;

/**
 * The room's messages as they read after an `erased` event: every message of `userId` in
 * `roomId` erased (`body` ""), seq, ids, sender and time kept; other messages unchanged.
 */
export function markErased<M extends Message>(messages: readonly M[], erasure: { roomId: string; userId: string }): M[] {
  return messages.map((m) => (m.roomId === erasure.roomId && m.senderId === erasure.userId ? { ...m, body: '', attachments: [], erased: true } : m));
}

// Bodies of the routes an app does not call through ChatClient, typed for completeness.
/** `POST /api/push/subscriptions` (v1.1): a browser's PushSubscription as JSON. `DELETE` takes `{endpoint}`. */
export interface PushSubscriptionBody {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}
/** `PUT /api/internal/posts/:postId` (the marketplace backend, with the internal token). */
export interface UpsertPostBody {
  ownerId: string;
  title: string;
}
/** One recorded event, as `GET /api/audit/rooms/:roomId/events` returns it (auditors). */
export interface AuditEvent {
  streamRevision: number;
  globalPosition: number | string;
  type: string;
  data: Record<string, unknown>;
  metadata: { actorId: string; correlationId: string; causationId: string; recordedAt: string; prevHash: string; hash: string } & Record<string, unknown>;
}
export interface AuditEventsResponse {
  events: AuditEvent[];
  verified: boolean;
}

// Reports and moderation (docs/moderation.md)
export type ReportReason = 'spam' | 'scam' | 'abuse' | 'other';
export type ResolutionAction = 'dismiss' | 'hide_message' | 'suspend_sender';
export interface Report {
  reportId: string;
  roomId: string;
  seq: number;
  reporterId: string;
  reportedUserId: string;
  reason: ReportReason;
  note: string;
  status: 'open' | 'resolved';
  createdAt: string;
  resolution: { action: ResolutionAction; note: string; moderatorId: string; resolvedAt: string } | null;
}
export interface ReportPage {
  reports: Report[];
  nextCursor: string | null;
}
export interface ReportWithContext {
  report: Report;
  /** The reported message and those around it; a hidden one keeps its text here. */
  context: Message[];
}

import { z } from 'zod';
import type { MessageView } from '../../domain/room';
import type { RoomView } from '../../application/ports/readModels';
import type { ErrorCode } from '../errors';
import { attachmentIdsSchema, clientMessageIdSchema, integer, roomIdSchema } from '../validation';

/**
 * The frames of the contract's WebSocket section. Client frames are validated here,
 * once, with the HTTP routes' own field schemas (a room id is a UUID; text PostgreSQL
 * cannot store is refused), so a frame is never looser than the route doing the same;
 * unknown extra fields are ignored (so clients can add fields without breaking older
 * servers), a missing or mistyped field is a `bad_request` naming it.
 */
const roomId = roomIdSchema;
const seq = integer(0, Number.MAX_SAFE_INTEGER);

/** A frame's request id (v1.2): its answer (`ack`, `resumed`, `pong`, `done` or `error`) names it as `ref`. */
export const FRAME_ID_MAX_LENGTH = 64;
const frameId = z
  .string({ error: `must be a string of 1 to ${FRAME_ID_MAX_LENGTH} characters` })
  .min(1, { error: `must be a string of 1 to ${FRAME_ID_MAX_LENGTH} characters` })
  .max(FRAME_ID_MAX_LENGTH, { error: `must be a string of 1 to ${FRAME_ID_MAX_LENGTH} characters` })
  .optional();

/** Every client frame: its fields, and the optional request `id`. */
const clientFrame = <Shape extends z.ZodRawShape>(shape: Shape) => z.object({ ...shape, id: frameId });

const isFrameId = (id: unknown): id is string => typeof id === 'string' && id.length >= 1 && id.length <= FRAME_ID_MAX_LENGTH;

export const clientFrameSchemas = {
  send: clientFrame({
    type: z.literal('send'),
    roomId,
    clientMessageId: clientMessageIdSchema,
    body: z.string({ error: 'must be a string of 1 to 4000 characters ("" with attachments)' }),
    attachments: attachmentIdsSchema.optional(),
  }),
  read: clientFrame({ type: z.literal('read'), roomId, upToSeq: seq }),
  typing: clientFrame({ type: z.literal('typing'), roomId }),
  resume: clientFrame({ type: z.literal('resume'), roomId, afterSeq: seq }),
  auth: clientFrame({ type: z.literal('auth'), token: z.string().min(1).max(8192) }),
  ping: clientFrame({ type: z.literal('ping') }),
} as const;

export type ClientFrameType = keyof typeof clientFrameSchemas;
export type ClientFrame = { [K in ClientFrameType]: z.infer<(typeof clientFrameSchemas)[K]> }[ClientFrameType];
export type SendFrame = z.infer<typeof clientFrameSchemas.send>;
export type ReadFrame = z.infer<typeof clientFrameSchemas.read>;
export type TypingFrame = z.infer<typeof clientFrameSchemas.typing>;
export type ResumeFrame = z.infer<typeof clientFrameSchemas.resume>;
export type AuthFrame = z.infer<typeof clientFrameSchemas.auth>;

/**
 * `ref` on `ack`, `resumed` and `pong` is the answered frame's `id`, present only when it had
 * one; `done` answers a `read` or `typing` frame that had an `id`, once applied.
 */
export type ServerFrame =
  | { type: 'ack'; clientMessageId: string; message: MessageView; ref?: string }
  | { type: 'message'; message: MessageView }
  | { type: 'read'; roomId: string; userId: string; upToSeq: number }
  | { type: 'typing'; roomId: string; userId: string }
  | { type: 'room'; room: RoomView }
  | { type: 'resumed'; roomId: string; lastSeq: number; ref?: string }
  | { type: 'message_hidden'; roomId: string; seq: number }
  | { type: 'suspended'; until: string | null }
  | { type: 'erased'; roomId: string; userId: string }
  | { type: 'error'; code: ErrorCode; message: string; ref: string | null }
  | { type: 'done'; ref: string }
  | { type: 'pong'; ref?: string };

/** The server frame types, one entry each (read by the SDK's contract test). */
export const serverFrameTypes = {
  ack: true,
  message: true,
  read: true,
  typing: true,
  room: true,
  resumed: true,
  message_hidden: true,
  suspended: true,
  erased: true,
  error: true,
  done: true,
  pong: true,
} as const satisfies { readonly [Type in ServerFrame['type']]: true };

/** `{ref: id}` for an answer to a frame that carried an `id`; nothing for one that did not. */
export const refTo = (frame: { id?: string | undefined }): { ref?: string } => (frame.id !== undefined ? { ref: frame.id } : {});

export type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

export const errorFrame = (code: ErrorCode, message: string, ref: string | null): ErrorFrame => ({
  type: 'error',
  code,
  message,
  ref,
});

function isClientFrameType(type: string): type is ClientFrameType {
  return Object.hasOwn(clientFrameSchemas, type);
}

/**
 * What a frame answers to, for an error's `ref`: its `id` when it has a valid one (v1.2),
 * else its clientMessageId when it has one, else its type.
 */
export function refOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const { type, clientMessageId, id } = value as { type?: unknown; clientMessageId?: unknown; id?: unknown };
  if (isFrameId(id)) return id;
  if (type === 'send' && typeof clientMessageId === 'string' && clientMessageId.length > 0 && clientMessageId.length <= 128) {
    return clientMessageId;
  }
  return typeof type === 'string' && type.length <= 64 ? type : null;
}

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: ErrorFrame };

/** Text to a known client frame, or the `bad_request` error frame that answers it. */
export function parseClientFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: errorFrame('bad_request', 'frame: not valid JSON', null) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: errorFrame('bad_request', 'frame: must be a JSON object with a "type"', null) };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') {
    return { ok: false, error: errorFrame('bad_request', 'type: must be a string naming the frame', null) };
  }
  const ref = refOf(value);
  if (!isClientFrameType(type)) {
    return { ok: false, error: errorFrame('bad_request', `type: unknown frame type ${JSON.stringify(type.slice(0, 64))}`, ref) };
  }
  const parsed = clientFrameSchemas[type].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? 'frame' : issue.path.map(String).join('.');
    return { ok: false, error: errorFrame('bad_request', `${field}: ${issue?.message ?? 'invalid'}`, ref) };
  }
  return { ok: true, frame: parsed.data as ClientFrame };
}

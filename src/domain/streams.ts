/**
 * Every stream name of the store, built and parsed here and nowhere else: a new kind of
 * stream is one more case below, and every reader of a stream id asks `parseStreamName`.
 */

/** The streams the chat writes, one per aggregate: a room, a post, a user. */
export type AggregateStreamKind = 'room' | 'post' | 'user';

export type ParsedStreamName =
  | { kind: AggregateStreamKind; id: string }
  /** The audit trail's own streams (docs/audit.md): the anchors, and one access stream a day. */
  | { kind: 'audit-anchors' }
  | { kind: 'audit-access'; day: string };

export const roomStreamName = (roomId: string): string => `room-${roomId}`;
export const postStreamName = (postId: string): string => `post-${postId}`;
export const userStreamName = (userId: string): string => `user-${userId}`;

export const ANCHOR_STREAM = 'audit-anchors';
const ACCESS_PREFIX = 'audit-access-';

/** One access stream a day keeps each stream short enough to read whole. */
export const auditAccessStreamName = (day: Date): string => `${ACCESS_PREFIX}${day.toISOString().slice(0, 10)}`;

const aggregatePrefixes: Readonly<Record<AggregateStreamKind, string>> = { room: 'room-', post: 'post-', user: 'user-' };

/** What a stream id names, or null for a stream this service does not write. */
export function parseStreamName(streamId: string): ParsedStreamName | null {
  if (streamId === ANCHOR_STREAM) return { kind: 'audit-anchors' };
  if (streamId.startsWith(ACCESS_PREFIX)) return { kind: 'audit-access', day: streamId.slice(ACCESS_PREFIX.length) };
  for (const [kind, prefix] of Object.entries(aggregatePrefixes) as Array<[AggregateStreamKind, string]>) {
    if (streamId.startsWith(prefix) && streamId.length > prefix.length) return { kind, id: streamId.slice(prefix.length) };
  }
  return null;
}

/** The room's id for a room's stream, else null. */
export function roomIdOfStream(streamId: string): string | null {
  const parsed = parseStreamName(streamId);
  return parsed?.kind === 'room' ? parsed.id : null;
}

import { createHash } from 'node:crypto';

/** A fixed namespace, so the same (postId, borrowerId) gives the same room id on every server, forever. */
const ROOM_NAMESPACE = Buffer.from('6f1c2a4e8b3d4c7a9e0f1a2b3c4d5e6f', 'hex');

/**
 * The room of a (post, borrower) pair, as a name-based UUID (RFC 9562 version 5).
 * Two concurrent "open" calls compute the same id and so race on the same stream:
 * the event store lets exactly one of them create it.
 */
export function roomIdFor(postId: string, borrowerId: string): string {
  const name = Buffer.from(JSON.stringify([postId, borrowerId]), 'utf8');
  const bytes = createHash('sha1').update(ROOM_NAMESPACE).update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

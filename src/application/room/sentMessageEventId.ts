import { createHash } from 'node:crypto';

/** A fixed namespace for the ids below (a random UUID, chosen once). */
const NAMESPACE = Buffer.from('6f1d3c2a9b8e4f7d8c5a1e0b2d4f6a8c', 'hex');

/**
 * The event id of the MessageSent that (room, sender, clientMessageId) yields: a name-based
 * UUID (version 5, RFC 9562). The event store refuses to hold one event id twice in a
 * stream and answers a repeat with the original, so a retried send can never become a
 * second message, however long after the first it comes.
 */
export function sentMessageEventId(roomId: string, senderId: string, clientMessageId: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(`${roomId}\u0000${senderId}\u0000${clientMessageId}`).digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

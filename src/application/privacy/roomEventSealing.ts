import type { MessageSent } from '../../domain/room';
import type { RecordedEvent } from '../ports/eventStore';
import type { DataKey } from './dataKeys';
import { isSealedText, openText, sealedDigest, sealText, type SealedText } from './sealedText';

type MessageData = MessageSent['data'];

/**
 * A `MessageSent` as the event store holds it (hash version 3, docs/privacy.md): every
 * field of the message but `body`, which is sealed under the data key of (room, sender)
 * and bound to the message id.
 */
export type StoredMessageSent = Omit<MessageData, 'body' | 'erased'> & { sealedBody: SealedText };

export function sealMessage(data: MessageData, key: DataKey): StoredMessageSent {
  const { body, erased: _erased, ...rest } = data;
  return { ...rest, sealedBody: sealText(key.key, key.keyId, body, data.messageId) };
}

/** The stored data of a `MessageSent` whose body is sealed; null for one written in the clear (before v3). */
export function sealedMessageOf(event: { type: string; data: unknown }): StoredMessageSent | null {
  if (event.type !== 'MessageSent' || typeof event.data !== 'object' || event.data === null) return null;
  const sealedBody = (event.data as { sealedBody?: unknown }).sealedBody;
  return isSealedText(sealedBody) ? (event.data as StoredMessageSent) : null;
}

/**
 * The message with its body opened, or erased when the key is gone (or the sender erased).
 * `sealedHere`: the body, when this process sealed it lately (no decryption then); used
 * only when the key is at hand, so a destroyed key erases the message all the same.
 */
export function openMessage(stored: StoredMessageSent, key: DataKey | undefined, sealedHere?: string): MessageData {
  const { sealedBody, ...rest } = stored;
  const body = key === undefined ? null : (sealedHere ?? openText(key.key, sealedBody, stored.messageId));
  return body === null ? { ...rest, body: '', erased: true } : { ...rest, body };
}

/** A message as the erased show: what it was is gone, where it was stays. */
export function erasedMessage(data: MessageData): MessageData {
  const { body: _body, ...rest } = data;
  return { ...rest, body: '', erased: true };
}

/** The SHA-256 of the sealed body as stored: what an auditor sees in place of an erased text. */
export function storedBodyDigest(stored: StoredMessageSent): string {
  return sealedDigest(stored.sealedBody);
}

/** The data keys a batch of recorded events needs opened. */
export function keyIdsOf(events: readonly RecordedEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const event of events) {
    const sealed = sealedMessageOf(event);
    if (sealed !== null) ids.add(sealed.sealedBody.keyId);
  }
  return ids;
}

import type { RecordedEvent } from '../ports/eventStore';
import type { DataKeys } from './dataKeys';
import { openMessage, sealedMessageOf, storedBodyDigest } from './roomEventSealing';

/**
 * What an auditor reads of a sealed message, beside its event as stored: the text while
 * its data key exists, else `erased` — with, either way, the SHA-256 of the sealed body
 * as stored, so the reading ties to the hashed event.
 */
export interface MessageContent {
  body: string;
  erased: boolean;
  /** SHA-256 (hex) of `data.sealedBody.ciphertext` as stored. */
  storedDigest: string;
}

/** The content of each sealed `MessageSent` (undefined for any other event, or one stored in the clear). */
export type AuditMessageReader = (events: readonly RecordedEvent[]) => Promise<Array<MessageContent | undefined>>;

export function auditMessageReader(keys: DataKeys): AuditMessageReader {
  return async (events) => {
    const sealed = events.map((event) => sealedMessageOf(event));
    const keyIds = sealed.flatMap((s) => (s === null ? [] : [s.sealedBody.keyId]));
    const found = keyIds.length === 0 ? new Map() : await keys.keysById(keyIds);
    return sealed.map((s) => {
      if (s === null) return undefined;
      const opened = openMessage(s, found.get(s.sealedBody.keyId));
      return { body: opened.body, erased: opened.erased === true, storedDigest: storedBodyDigest(s) };
    });
  };
}

/** For stores with nothing sealed to read (tests of other concerns): every event as stored. */
export const noMessageReader: AuditMessageReader = async (events) => events.map(() => undefined);

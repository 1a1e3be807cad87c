import type { CommandContext } from '../handleCommand';
import { NO_PREVIOUS_HASH, type EventToAppend } from '../ports/eventStore';
import type { IdGenerator } from '../ports/ids';
import { eventHash, HASH_VERSION } from './hashChain';

/** Where a stream's hash chain ends: its last revision and that event's hash. */
export interface ChainTail {
  revision: bigint;
  hash: string;
}

/**
 * Gives events the metadata every stored event carries and chains their hashes onto
 * `tail` (null: a new stream), in the current hash version. The same sealing as
 * handleCommand's, for the audit trail's own streams, which append without a decider.
 */
export function sealEvents(
  tail: ChainTail | null,
  events: readonly { type: string; data: object }[],
  context: CommandContext,
  recordedAt: string,
  ids: IdGenerator,
): EventToAppend[] {
  let prevHash = tail?.hash ?? NO_PREVIOUS_HASH;
  return events.map((event) => {
    const metadata = { ...context, recordedAt, hashVersion: HASH_VERSION };
    const eventId = ids.newId();
    const hash = eventHash(prevHash, { eventId, type: event.type, data: event.data, metadata });
    const sealed: EventToAppend = { eventId, type: event.type, data: event.data, metadata: { ...metadata, prevHash, hash } };
    prevHash = hash;
    return sealed;
  });
}

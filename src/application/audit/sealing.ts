import type { CommandContext } from '../handleCommand';
import { NO_PREVIOUS_HASH, type EventToAppend } from '../ports/eventStore';
import type { IdGenerator } from '../ports/ids';
import { eventHash, HASH_VERSION } from './hashChain';

/** Where a stream's hash chain ends: its last revision and that event's hash. */
export interface ChainTail {
  revision: bigint;
  hash: string;
}

/** How decided events are stored, when not with a fresh id and as decided. */
export interface SealOptions<E> {
  /** The event's id when it must follow from the request (undefined: a fresh random id). */
  eventIdFor?(event: E): string | undefined;
  /** What is stored of the event's data (e.g. personal text sealed): applied before hashing, so the chain covers what is stored. */
  encode?(event: E): object;
}

/**
 * Gives events the metadata every stored event carries and chains their hashes onto
 * `tail` (null: a new stream), in the current hash version: the command handler's
 * appends and the audit trail's own streams, which append without a decider, alike.
 * Synchronous: the command handler seals between its decision and its append.
 */
export function sealEvents<E extends { type: string; data: object }>(
  tail: Pick<ChainTail, 'hash'> | null,
  events: readonly E[],
  context: CommandContext,
  recordedAt: string,
  ids: IdGenerator,
  options: SealOptions<E> = {},
): EventToAppend[] {
  let prevHash = tail?.hash ?? NO_PREVIOUS_HASH;
  return events.map((event) => {
    const metadata = { ...context, recordedAt, hashVersion: HASH_VERSION };
    const eventId = options.eventIdFor?.(event) ?? ids.newId();
    const data = options.encode?.(event) ?? event.data;
    const hash = eventHash(prevHash, { eventId, type: event.type, data, metadata });
    const sealed: EventToAppend = { eventId, type: event.type, data, metadata: { ...metadata, prevHash, hash } };
    prevHash = hash;
    return sealed;
  });
}

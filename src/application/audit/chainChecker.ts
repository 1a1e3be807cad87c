import { NO_PREVIOUS_HASH, type RecordedEvent } from '../ports/eventStore';
import { hashVersionOf, safeHash } from './hashChain';

/**
 * What is wrong with a stream, at the first revision where it shows:
 * - `hash_mismatch`: the stored hash is not the hash of the event's content (an edit);
 * - `broken_link`: the event's prevHash is not the previous event's hash (a removal or a reordering);
 * - `revision_gap`: revisions do not run 0, 1, 2, … (a deleted or renumbered event);
 * - `hash_version`: a hash version this code does not know;
 * - `missing_tail`: the stream ends before a revision that was anchored (its newest events were deleted);
 * - `anchor_mismatch`: an anchored revision's hash changed (the chain was recomputed after an edit);
 * - `anchor_mac`: an anchor whose HMAC does not verify with the key (forged, altered, or another key).
 */
export type ProblemKind =
  /** A photo's stored bytes are not those its MessageSent recorded (docs/attachments.md). */
  | 'attachment_mismatch'
  | 'hash_mismatch'
  | 'broken_link'
  | 'revision_gap'
  | 'hash_version'
  | 'missing_tail'
  | 'anchor_mismatch'
  | 'anchor_mac';

export interface ChainProblem {
  /** The first revision that is (or may be) bad. */
  revision: number;
  kind: ProblemKind;
  detail: string;
}

/**
 * Checks one stream's hash chain as its events are fed in revision order, keeping only
 * the previous hash: a stream of any length is checked in constant memory. It stops
 * judging at the first problem (everything after it is suspect anyway) but keeps counting.
 */
export class ChainChecker {
  problem: ChainProblem | null = null;
  count = 0;
  /** The last event seen: the stream's head. */
  head: { revision: number; hash: string } | null = null;
  private expectedRevision = 0;
  private prevHash = NO_PREVIOUS_HASH;
  private readonly watched = new Map<number, string>();

  /** Remember the hashes at these revisions (the anchored ones) while checking. */
  watch(revisions: Iterable<number>): this {
    for (const revision of revisions) this.watched.set(revision, '');
    return this;
  }

  /** The stored hash at a watched revision, undefined when the stream never reached it. */
  hashAt(revision: number): string | undefined {
    const hash = this.watched.get(revision);
    return hash === '' ? undefined : hash;
  }

  add(event: Pick<RecordedEvent, 'streamRevision' | 'eventId' | 'type' | 'data' | 'metadata'>): void {
    const revision = Number(event.streamRevision);
    this.count += 1;
    this.head = { revision, hash: String(event.metadata.hash) };
    if (this.watched.has(revision)) this.watched.set(revision, String(event.metadata.hash));
    if (this.problem !== null) return;
    this.problem = this.check(revision, event);
    if (this.problem !== null) return;
    this.expectedRevision = revision + 1;
    this.prevHash = event.metadata.hash;
  }

  private check(revision: number, event: Pick<RecordedEvent, 'eventId' | 'type' | 'data' | 'metadata'>): ChainProblem | null {
    const expected = this.expectedRevision;
    if (revision > expected) {
      const missing = revision - 1 === expected ? `revision ${expected} is missing` : `revisions ${expected} to ${revision - 1} are missing`;
      return { revision: expected, kind: 'revision_gap', detail: missing };
    }
    if (revision < expected) {
      return { revision, kind: 'revision_gap', detail: `revision ${revision} comes again after revision ${expected - 1}` };
    }
    if (event.metadata.prevHash !== this.prevHash) {
      const previous = revision === 0 ? 'the 64 zeros a first event starts from' : `the hash of revision ${revision - 1}`;
      return { revision, kind: 'broken_link', detail: `its prevHash is not ${previous}: an event was removed or reordered` };
    }
    // A version 1 event after version 2 ones is accepted: during a rolling upgrade an older
    // server still writes version 1. Turning a stored version 2 event into version 1 changes
    // its metadata, so its hash must be recomputed: the anchors catch that like any rewrite.
    try {
      hashVersionOf(event.metadata);
    } catch (error) {
      return { revision, kind: 'hash_version', detail: (error as Error).message };
    }
    if (safeHash(this.prevHash, event) !== event.metadata.hash) {
      return { revision, kind: 'hash_mismatch', detail: 'its stored hash does not match its content: the event was edited' };
    }
    return null;
  }
}

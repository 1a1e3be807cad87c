import { evolveStored } from '../domain/events';
import type { Decider } from '../domain/shared/decider';
import { NO_PREVIOUS_HASH, type EventStore } from './ports/eventStore';
import type { SnapshotStore } from './ports/snapshots';
import type { FoldedStream, StreamStateCache } from './streamStateCache';

/** Snapshots for cold loads: how often to write one, and the state's version. */
export interface SnapshotPolicy {
  store: SnapshotStore;
  every: number;
  version: string;
  onError(error: unknown): void;
}

/** Events folded per read when a stream is loaded, so a long stream does not hold the event loop. */
const LOAD_PAGE = 1000;

/** A stream's state from its snapshot (when one matches the stream) and the events after it. */
export async function loadStream<State, Evt>(
  eventStore: EventStore,
  streamId: string,
  decider: Decider<State, unknown, Evt>,
  snapshots: SnapshotPolicy | undefined,
): Promise<FoldedStream<State>> {
  const empty: FoldedStream<State> = {
    state: decider.initialState(),
    revision: 'no_stream',
    lastHash: NO_PREVIOUS_HASH,
    checkpoint: null,
    snapshotRevision: -1n,
  };
  const snapshot = snapshots === undefined ? null : await snapshots.store.load(streamId).catch((error: unknown) => (snapshots.onError(error), null));
  if (snapshot !== null && snapshot.version === snapshots?.version) {
    // The snapshot's own last event is read again: it must be there, with the same hash.
    const [last] = await eventStore.readStream(streamId, { fromRevision: snapshot.revision, maxCount: 1 });
    if (last !== undefined && last.streamRevision === snapshot.revision && last.metadata.hash === snapshot.lastHash) {
      const from: FoldedStream<State> = {
        state: snapshot.state as State,
        revision: snapshot.revision,
        lastHash: snapshot.lastHash,
        checkpoint: last.checkpoint,
        snapshotRevision: snapshot.revision,
      };
      return foldNewer(eventStore, streamId, decider, from);
    }
  }
  return foldNewer(eventStore, streamId, decider, empty);
}

/** Folds the events after `from`'s revision, a page at a time. */
export async function foldNewer<State, Evt>(
  eventStore: EventStore,
  streamId: string,
  decider: Decider<State, unknown, Evt>,
  from: FoldedStream<State>,
): Promise<FoldedStream<State>> {
  let folded = from;
  for (;;) {
    const fromRevision = folded.revision === 'no_stream' ? 0n : folded.revision + 1n;
    const page = await eventStore.readStream(streamId, { fromRevision, maxCount: LOAD_PAGE });
    let state = folded.state;
    for (const event of page) state = evolveStored(decider.evolve, state, event);
    const last = page.at(-1);
    if (last !== undefined) {
      folded = { ...folded, state, revision: last.streamRevision, lastHash: last.metadata.hash, checkpoint: last.checkpoint };
    }
    if (page.length < LOAD_PAGE) return folded;
  }
}

/**
 * Writes a snapshot of `folded` when `every` events have come since the last one, off the
 * command's path; a failed write only costs a slower load later.
 */
export function snapshotIfDue<State>(snapshots: SnapshotPolicy | undefined, cache: StreamStateCache<State>, streamId: string, folded: FoldedStream<State>): void {
  if (snapshots === undefined || folded.revision === 'no_stream') return;
  const cached = cache.peek(streamId);
  const last = cached?.snapshotRevision ?? folded.snapshotRevision;
  if (folded.revision - last < BigInt(snapshots.every)) return;
  if (cached !== undefined) cached.snapshotRevision = folded.revision;
  snapshots.store
    .save(streamId, { revision: folded.revision, lastHash: folded.lastHash, version: snapshots.version, state: folded.state })
    .catch((error: unknown) => snapshots.onError(error));
}

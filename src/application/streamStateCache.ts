import type { ExpectedRevision } from './ports/eventStore';

/** A stream folded up to a revision: what a command needs to decide and append. */
export interface FoldedStream<State> {
  state: State;
  /** The revision of the last event folded in; 'no_stream' for an empty stream. */
  revision: Exclude<ExpectedRevision, 'any'>;
  /** That event's hash: the next event's prevHash. */
  lastHash: string;
  /** That event's checkpoint (null for an empty stream). */
  checkpoint: string | null;
  /** The revision of the newest snapshot written for the stream (-1n: none known). */
  snapshotRevision: bigint;
}

/**
 * The folded state of recently used streams, so a command does not read and fold its
 * stream again: it decides on the cached state and appends at the cached revision.
 * The store's expected-revision check keeps this safe when another process wrote the
 * stream meanwhile: the append is refused, and the handler reads only the events after
 * the cached revision before deciding again.
 *
 * Least recently used streams are dropped past `maxStreams`. An entry is small (a
 * room's state is its facts plus its last few messages), so the bound is on count.
 */
export class StreamStateCache<State> {
  private readonly entries = new Map<string, FoldedStream<State>>();

  constructor(readonly maxStreams: number) {}

  get(streamId: string): FoldedStream<State> | undefined {
    const entry = this.entries.get(streamId);
    if (entry !== undefined) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.entries.delete(streamId);
      this.entries.set(streamId, entry);
    }
    return entry;
  }

  /** Looks without counting as a use. */
  peek(streamId: string): FoldedStream<State> | undefined {
    return this.entries.get(streamId);
  }

  set(streamId: string, entry: FoldedStream<State>): void {
    this.entries.delete(streamId);
    this.entries.set(streamId, entry);
    while (this.entries.size > this.maxStreams) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

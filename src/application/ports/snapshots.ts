/**
 * Snapshots of folded streams, so a process that has not seen a stream yet loads its
 * state and the few events after it instead of folding the whole history. Derived
 * data, like a read model: the events stay the truth, a snapshot that does not match
 * its stream is ignored, and deleting every snapshot only makes loads slower.
 */
export interface StreamSnapshot {
  /** The revision of the last event folded into `state`. */
  revision: bigint;
  /** That event's hash, checked against the stream before the snapshot is trusted. */
  lastHash: string;
  /** What the state's shape is: a snapshot of another version is ignored. */
  version: string;
  state: unknown;
}

export interface SnapshotStore {
  load(streamId: string): Promise<StreamSnapshot | null>;
  /** Keeps the newer of the stored and the given snapshot. */
  save(streamId: string, snapshot: StreamSnapshot): Promise<void>;
}

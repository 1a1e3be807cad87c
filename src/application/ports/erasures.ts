import type { ErasureCounts } from '../../domain/user';

/** One erasure as the internal API shows it (docs/http-api.md, "Erasure"). */
export interface ErasureRecord {
  erasureId: string;
  userId: string;
  status: 'pending' | 'done';
  /** The correlation id of the request that asked for it. */
  requestedBy: string;
  requestedAt: string;
  completedAt: string | null;
  /** Null until done. */
  counts: ErasureCounts | null;
  /** The steps of the process done so far (docs/privacy.md, "The erasure process"). */
  stepsDone: string[];
}

/**
 * The erasure process's own table: one row a user, and the steps done, so a process
 * killed mid-way is picked up where it stopped. A process works on an erasure under a
 * lease: another takes it over only once the lease has run out.
 */
export interface ErasureTable {
  /** Records the erasure unless the user has one already; answers the user's erasure either way. */
  create(erasure: { erasureId: string; userId: string; requestedBy: string; requestedAt: Date }): Promise<ErasureRecord>;
  find(erasureId: string): Promise<ErasureRecord | null>;
  /** A pending erasure nobody holds (or whose holder's lease ran out), now held by `owner` for `leaseMs`. */
  claim(owner: string, leaseMs: number): Promise<ErasureRecord | null>;
  /** Records a step as done and extends the lease; false when the lease was lost (another process took over). */
  stepDone(erasureId: string, owner: string, step: string, leaseMs: number): Promise<boolean>;
  /** The last failure, kept for operators; the lease is let go so the erasure is tried again. */
  failed(erasureId: string, owner: string, error: string): Promise<void>;
  complete(erasureId: string, owner: string, counts: ErasureCounts, at: Date): Promise<void>;
}

/** The tables outside the event store that may hold a user's personal data, scrubbed by the erasure process. */
export interface ErasureScrubber {
  /** History and room lists: the user's messages erased (body "", no photos). How many rows changed. */
  scrubReadModels(userId: string): Promise<number>;
  /** Room snapshots that may hold the user's messages (in the clear before sealing): deleted (they are a cache). */
  dropSnapshots(userId: string): Promise<number>;
  /** Webhook and Web Push deliveries, pending or dead, that carry the user's text: the text removed; pushes to the user deleted. */
  scrubOutbox(userId: string): Promise<number>;
  deletePushSubscriptions(userId: string): Promise<number>;
  /** The display name and picture kept from the user's tokens. */
  deleteProfile(userId: string): Promise<number>;
  /** Rooms the user wrote in (or held a data key in) and messages they wrote. */
  counts(userId: string): Promise<ErasureCounts>;
}

/**
 * Who is suspended, read in every write's own path from the projected table, so a
 * suspension holds in every process the moment its route has answered (the route waits
 * for the projection), with no cache to expire.
 */
export interface Suspensions {
  /** The user's suspension in force at `now`, or null. */
  activeSuspension(userId: string, now: Date): Promise<{ until: string | null } | null>;
}

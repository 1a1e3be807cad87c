/** What a user's token says about them for others to see (its `name` and `picture` claims). */
export interface UserProfile {
  /** 1–64 characters; null when the token carried none (or one that is not a usable name). */
  name: string | null;
  /** An https URL; null when the token carried none (or one that is not an https URL). */
  picture: string | null;
}

/** Keeps the latest profile seen per user, for the room object's `participants`. */
export interface UserProfiles {
  /**
   * A token of `userId` carrying `profile` was accepted. Cheap on the request's path: it
   * writes only when the profile differs from the one last written, and never waits.
   */
  noteSeen(userId: string, profile: UserProfile): void;
}

/**
 * Who has a live WebSocket connection anywhere, across every server process.
 * Each process reports its own connections; a process that stops reporting
 * (killed, cut off) drops out after a short heartbeat window.
 */
export interface PresenceTracker {
  /** A connection of this user opened in this process. */
  connected(userId: string): void;
  /** A connection of this user closed in this process. */
  disconnected(userId: string): void;
}

/** Seconds a process's presence counts without a new heartbeat. */
export const PRESENCE_STALE_AFTER_SECONDS = 30;

/** "userId is typing in roomId", meant for `toUserId`'s connections wherever they are. Never stored. */
export interface TypingSignal {
  roomId: string;
  userId: string;
  toUserId: string;
}

/**
 * Carries ephemeral typing signals between the server processes (each process
 * delivers to its own connections). Best effort: a lost signal is harmless.
 */
export interface TypingSignals {
  publish(signal: TypingSignal): Promise<void>;
  /** Every signal published by any process, this one included; resolves to a function that stops it. */
  subscribe(onSignal: (signal: TypingSignal) => void): Promise<() => Promise<void>>;
}

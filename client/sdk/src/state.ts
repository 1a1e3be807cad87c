/**
 * - `idle`: connect() was not called yet;
 * - `connecting`: the first connection is being made (or the first after connect() again);
 * - `online`: connected, resumed, sending;
 * - `reconnecting`: the connection was lost; retrying with backoff (`retryInMs`);
 * - `offline`: the device reports no network; waiting for it to come back;
 * - `closed`: close() was called, or the server closed with 1008; connect() starts again;
 * - `erased`: the server closed with 4003, the user's account was erased: the client
 *   stops for good (connect() does nothing; the user id is never used again).
 */
export type ConnectionState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'offline' | 'closed' | 'erased';

export interface StateChange {
  state: ConnectionState;
  /** Failed attempts since the last good connection. */
  attempt: number;
  /** When reconnecting: how long until the next attempt. */
  retryInMs: number | null;
  /** The close code that ended the last connection, if any. */
  closeCode: number | null;
}

/**
 * The connection's state, changed in one place: `set` applies a change and emits the new
 * state whenever anything in it changed (a state, an attempt count, a delay, a close code).
 * `closed` is left only by connect() (`reopen`), `erased` never: a late event of a socket
 * already given up cannot bring the client back.
 */
export class ConnectionStates {
  private current: StateChange = { state: 'idle', attempt: 0, retryInMs: null, closeCode: null };

  constructor(private readonly emit: (change: StateChange) => void) {}

  /** A copy of the current state. */
  get value(): StateChange {
    return { ...this.current };
  }

  get state(): ConnectionState {
    return this.current.state;
  }

  /** close() was called, or the account was erased: nothing reconnects. */
  get stopped(): boolean {
    return this.current.state === 'closed' || this.current.state === 'erased';
  }

  /** The one writer of the state. Ignored once stopped, unless `reopen` (connect() after `closed`). */
  set(change: Partial<StateChange>, options: { reopen?: boolean } = {}): void {
    if (this.current.state === 'erased') return;
    if (this.current.state === 'closed' && options.reopen !== true) return;
    const next = { ...this.current, ...change };
    const same = (Object.keys(next) as Array<keyof StateChange>).every((key) => next[key] === this.current[key]);
    if (same) return;
    this.current = next;
    this.emit({ ...next });
  }
}

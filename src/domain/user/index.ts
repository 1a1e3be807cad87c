import { DomainError, type Command, type Decider, type Event } from '../shared/decider';

/**
 * A user's own stream (`user-<userId>`): what happens to the account as a whole, across
 * rooms. Trust and safety records suspensions here (docs/moderation.md).
 */

/** Who suspended: a moderator's user id, or `system:marketplace` for the internal route. */
export type UserSuspended = Event<
  'UserSuspended',
  {
    userId: string;
    /** When the suspension ends by itself; null: until reinstated. */
    until: string | null;
    reason: string;
    suspendedBy: string;
    /** The report whose resolution suspended the user, if one did. */
    reportId: string | null;
    suspendedAt: string;
  }
>;

export type UserReinstated = Event<'UserReinstated', { userId: string; reinstatedBy: string; reinstatedAt: string }>;

/**
 * The user's erasure was asked for (docs/privacy.md): from here on every process reads
 * the user's messages as erased and refuses their tokens; the erasure process destroys
 * their data keys and scrubs the tables. `requestedBy` is the asking request's correlation id.
 */
export type UserErasureRequested = Event<
  'UserErasureRequested',
  { userId: string; erasureId: string; requestedBy: string; requestedAt: string }
>;

/** How much an erasure covered: the rooms the user wrote in, and the messages they wrote. */
export interface ErasureCounts {
  rooms: number;
  messages: number;
}

/** The erasure process finished: every data key of the user is destroyed and no table holds their text. */
export type UserErased = Event<
  'UserErased',
  { userId: string; erasureId: string; requestedBy: string; requestedAt: string; erasedAt: string; counts: ErasureCounts }
>;

export type UserEvent = UserSuspended | UserReinstated | UserErasureRequested | UserErased;

export type SuspendUser = Command<
  'SuspendUser',
  { userId: string; until: Date | null; reason: string; by: string; reportId: string | null; now: Date }
>;
export type ReinstateUser = Command<'ReinstateUser', { userId: string; by: string; now: Date }>;
export type RequestErasure = Command<'RequestErasure', { userId: string; erasureId: string; requestedBy: string; now: Date }>;
export type CompleteErasure = Command<'CompleteErasure', { userId: string; erasureId: string; counts: ErasureCounts; now: Date }>;
export type UserCommand = SuspendUser | ReinstateUser | RequestErasure | CompleteErasure;

export interface UserErasureState {
  erasureId: string;
  requestedBy: string;
  requestedAt: string;
  /** Null while the erasure process runs. */
  erasedAt: string | null;
  counts: ErasureCounts | null;
}

export interface UserState {
  suspension: { until: string | null; reason: string } | null;
  /** Null: never asked for. User ids are never reused, so an erasure is for good. */
  erasure: UserErasureState | null;
}

export const MAX_SUSPENSION_REASON = 1000;

export class InvalidSuspensionError extends DomainError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('bad_request', `${field}: ${message}`);
  }
}

/** Whether the user is suspended at `now`: a suspension with an `until` ends by itself then. */
export function isSuspended(state: UserState, now: Date): boolean {
  const s = state.suspension;
  return s !== null && (s.until === null || Date.parse(s.until) > now.getTime());
}

export function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'UserSuspended':
      return { ...state, suspension: { until: event.data.until, reason: event.data.reason } };
    case 'UserReinstated':
      return { ...state, suspension: null };
    case 'UserErasureRequested': {
      const d = event.data;
      return { ...state, erasure: { erasureId: d.erasureId, requestedBy: d.requestedBy, requestedAt: d.requestedAt, erasedAt: null, counts: null } };
    }
    case 'UserErased': {
      const d = event.data;
      return { ...state, erasure: { erasureId: d.erasureId, requestedBy: d.requestedBy, requestedAt: d.requestedAt, erasedAt: d.erasedAt, counts: d.counts } };
    }
    default: {
      // A user event this version does not know leaves the state as it is.
      const _exhaustive: never = event;
      return state;
    }
  }
}

/**
 * Suspends the user until `until` (or until reinstated). The same suspension again records
 * nothing; a different `until` replaces the current one (a moderator may shorten or extend it).
 */
export function suspendUser(command: SuspendUser, state: UserState): UserSuspended[] {
  const c = command.data;
  if (typeof c.reason !== 'string' || !c.reason.isWellFormed() || c.reason.includes('\u0000') || [...c.reason].length > MAX_SUSPENSION_REASON) {
    throw new InvalidSuspensionError('reason', `must be text of at most ${MAX_SUSPENSION_REASON} characters`);
  }
  if (c.until !== null && c.until.getTime() <= c.now.getTime()) throw new InvalidSuspensionError('until', 'must be in the future');
  const until = c.until === null ? null : c.until.toISOString();
  if (isSuspended(state, c.now) && state.suspension?.until === until) return [];
  return [
    {
      type: 'UserSuspended',
      data: { userId: c.userId, until, reason: c.reason, suspendedBy: c.by, reportId: c.reportId, suspendedAt: c.now.toISOString() },
    },
  ];
}

/**
 * Lifts a suspension. One still recorded but past its `until` is lifted too (the record
 * then says when it was noticed as over); a user not suspended records nothing.
 */
export function reinstateUser(command: ReinstateUser, state: UserState): UserReinstated[] {
  if (state.suspension === null) return [];
  const c = command.data;
  return [{ type: 'UserReinstated', data: { userId: c.userId, reinstatedBy: c.by, reinstatedAt: c.now.toISOString() } }];
}

/**
 * Asks for the user's erasure. Asked once for good: asking again records nothing, and the
 * erasure already asked for (its id in the state) is the answer.
 */
export function requestErasure(command: RequestErasure, state: UserState): UserErasureRequested[] {
  if (state.erasure !== null) return [];
  const c = command.data;
  return [{ type: 'UserErasureRequested', data: { userId: c.userId, erasureId: c.erasureId, requestedBy: c.requestedBy, requestedAt: c.now.toISOString() } }];
}

/** Records the end of the erasure process; done once (a second completion records nothing). */
export function completeErasure(command: CompleteErasure, state: UserState): UserErased[] {
  const erasure = state.erasure;
  const c = command.data;
  if (erasure === null || erasure.erasureId !== c.erasureId) throw new ErasureNotRequestedError(c.userId, c.erasureId);
  if (erasure.erasedAt !== null) return [];
  const { rooms, messages } = c.counts;
  if (!Number.isSafeInteger(rooms) || rooms < 0 || !Number.isSafeInteger(messages) || messages < 0) {
    throw new DomainError('bad_request', 'counts: rooms and messages must be whole numbers, zero or more');
  }
  return [
    {
      type: 'UserErased',
      data: {
        userId: c.userId,
        erasureId: c.erasureId,
        requestedBy: erasure.requestedBy,
        requestedAt: erasure.requestedAt,
        erasedAt: c.now.toISOString(),
        counts: { rooms, messages },
      },
    },
  ];
}

/** A completion for an erasure the user's stream does not hold: a fault of the caller. */
export class ErasureNotRequestedError extends DomainError {
  constructor(userId: string, erasureId: string) {
    super('not_found', `no erasure ${erasureId} was asked for user ${userId}`);
  }
}

export function decideUser(command: UserCommand, state: UserState): UserEvent[] {
  switch (command.type) {
    case 'SuspendUser':
      return suspendUser(command, state);
    case 'ReinstateUser':
      return reinstateUser(command, state);
    case 'RequestErasure':
      return requestErasure(command, state);
    case 'CompleteErasure':
      return completeErasure(command, state);
    default: {
      const exhaustive: never = command;
      return exhaustive;
    }
  }
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ suspension: null, erasure: null }),
  evolve: evolveUser,
  decide: decideUser,
};

/** A suspended user tried to write (send, open, reopen, report). */
export class SuspendedError extends DomainError {
  constructor(until: string | null) {
    super('suspended', until === null ? 'your account is suspended: you may read but not write' : `your account is suspended until ${until}: you may read but not write`);
  }
}

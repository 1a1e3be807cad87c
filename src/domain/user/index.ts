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

export type UserEvent = UserSuspended | UserReinstated;

export type SuspendUser = Command<
  'SuspendUser',
  { userId: string; until: Date | null; reason: string; by: string; reportId: string | null; now: Date }
>;
export type ReinstateUser = Command<'ReinstateUser', { userId: string; by: string; now: Date }>;
export type UserCommand = SuspendUser | ReinstateUser;

export interface UserState {
  suspension: { until: string | null; reason: string } | null;
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

export function decideUser(command: UserCommand, state: UserState): UserEvent[] {
  switch (command.type) {
    case 'SuspendUser':
      return suspendUser(command, state);
    case 'ReinstateUser':
      return reinstateUser(command, state);
    default: {
      const exhaustive: never = command;
      return exhaustive;
    }
  }
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ suspension: null }),
  evolve: evolveUser,
  decide: decideUser,
};

/** A suspended user tried to write (send, open, reopen, report). */
export class SuspendedError extends DomainError {
  constructor(until: string | null) {
    super('suspended', until === null ? 'your account is suspended: you may read but not write' : `your account is suspended until ${until}: you may read but not write`);
  }
}

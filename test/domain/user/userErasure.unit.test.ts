/**
 * The user decider's erasure: asked for once, for good; completed once, by the erasure
 * it completes. Pure: no store, no clock.
 */
import { decodeEvent, isUserEventType } from '../../../src/domain/events';
import { fold } from '../../../src/domain/shared/decider';
import { ErasureNotRequestedError, userDecider, type UserEvent } from '../../../src/domain/user';

const now = new Date('2026-12-07T10:00:00.000Z');
const later = new Date('2026-12-07T10:05:00.000Z');
const request = (erasureId = 'e-1') =>
  ({ type: 'RequestErasure', data: { userId: 'bob', erasureId, requestedBy: 'req-1', now } }) as const;
const complete = (erasureId = 'e-1', counts = { rooms: 2, messages: 7 }) =>
  ({ type: 'CompleteErasure', data: { userId: 'bob', erasureId, counts, now: later } }) as const;

const after = (events: UserEvent[]) => fold(userDecider, events);

describe('erasing a user (user decider)', () => {
  it('records who asked (the correlation id) and when', () => {
    expect(userDecider.decide(request(), userDecider.initialState())).toEqual([
      { type: 'UserErasureRequested', data: { userId: 'bob', erasureId: 'e-1', requestedBy: 'req-1', requestedAt: now.toISOString() } },
    ]);
  });

  it('asked again (even with another id) records nothing: the first erasure stands', () => {
    const asked = userDecider.decide(request(), userDecider.initialState());
    const state = after(asked);
    expect(userDecider.decide(request('e-2'), state)).toEqual([]);
    expect(state.erasure).toMatchObject({ erasureId: 'e-1', erasedAt: null, counts: null });
  });

  it('completes with the counts, who asked and when, once', () => {
    const asked = userDecider.decide(request(), userDecider.initialState());
    const done = userDecider.decide(complete(), after(asked));
    expect(done).toEqual([
      {
        type: 'UserErased',
        data: {
          userId: 'bob',
          erasureId: 'e-1',
          requestedBy: 'req-1',
          requestedAt: now.toISOString(),
          erasedAt: later.toISOString(),
          counts: { rooms: 2, messages: 7 },
        },
      },
    ]);
    const state = after([...asked, ...done]);
    expect(state.erasure).toMatchObject({ erasedAt: later.toISOString(), counts: { rooms: 2, messages: 7 } });
    expect(userDecider.decide(complete(), state)).toEqual([]);
    expect(userDecider.decide(request(), state)).toEqual([]);
  });

  it('refuses to complete an erasure never asked for, or another one', () => {
    expect(() => userDecider.decide(complete(), userDecider.initialState())).toThrow(ErasureNotRequestedError);
    const state = after(userDecider.decide(request(), userDecider.initialState()));
    expect(() => userDecider.decide(complete('e-other'), state)).toThrow(ErasureNotRequestedError);
  });

  it('refuses counts that are not whole numbers', () => {
    const state = after(userDecider.decide(request(), userDecider.initialState()));
    expect(() => userDecider.decide(complete('e-1', { rooms: -1, messages: 0 }), state)).toThrow(/counts/);
    expect(() => userDecider.decide(complete('e-1', { rooms: 1, messages: 1.5 }), state)).toThrow(/counts/);
  });

  it('a suspension before the erasure stays in the state beside it', () => {
    const suspended = userDecider.decide(
      { type: 'SuspendUser', data: { userId: 'bob', until: null, reason: 'spam', by: 'mod', reportId: null, now } },
      userDecider.initialState(),
    );
    const state = after([...suspended, ...userDecider.decide(request(), after(suspended))]);
    expect(state.suspension).not.toBeNull();
    expect(state.erasure?.erasureId).toBe('e-1');
  });

  it('both events are registered user events and decode as written', () => {
    const asked = userDecider.decide(request(), userDecider.initialState());
    const events = [...asked, ...userDecider.decide(complete(), after(asked))];
    for (const event of events) {
      expect(isUserEventType(event.type)).toBe(true);
      expect(decodeEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
    }
  });
});

import { evolveRoom, initialRoomState, roomDecider, type ElapseRetention, type RoomEvent, type RoomRetentionElapsed } from '../../../src/domain/room';
import { fold } from '../../../src/domain/shared/decider';
import { aMessageSent, aRoomExpired, aRoomOpened, aRoomReopened, aSendMessage, at, DAY, iso, MINUTE, ROOM_ID } from '../../support/builders';
import { given } from '../../support/given';

const RETENTION = 30 * DAY;
const room = (history: readonly RoomEvent[]) => given(roomDecider, history);
const anElapseRetention = (now: Date): ElapseRetention => ({ type: 'ElapseRetention', data: { roomId: ROOM_ID, retentionMs: RETENTION, now } });
const elapsed = (upToSeq: number, lastActivityMs: number, nowMs: number): RoomRetentionElapsed => ({
  type: 'RoomRetentionElapsed',
  data: { roomId: ROOM_ID, upToSeq, lastActivityAt: iso(lastActivityMs), retentionMs: RETENTION, elapsedAt: iso(nowMs) },
});
const twoMessages = [aRoomOpened(), aMessageSent({ seq: 1 }), aMessageSent({ seq: 2 })];

describe('a room\'s retention (MESSAGE_RETENTION)', () => {
  it('erases every message once the last activity is the retention old', () => {
    room(twoMessages).when(anElapseRetention(at(2 * MINUTE + RETENTION))).then([elapsed(2, 2 * MINUTE, 2 * MINUTE + RETENTION)]);
  });

  it('waits while the room has been active within the retention', () => {
    room(twoMessages).when(anElapseRetention(at(2 * MINUTE + RETENTION - 1))).thenNothing();
  });

  it('counts a reopening as activity', () => {
    const reopenedAt = 10 * DAY;
    const history = [...twoMessages, aRoomExpired({ expiredAt: iso(5 * DAY) }), aRoomReopened({ reopenedAt: iso(reopenedAt) })];
    room(history).when(anElapseRetention(at(2 * MINUTE + RETENTION))).thenNothing();
    room(history).when(anElapseRetention(at(reopenedAt + RETENTION))).then([elapsed(2, reopenedAt, reopenedAt + RETENTION)]);
  });

  it('records nothing again for messages already erased, nor for a room without messages', () => {
    room([...twoMessages, elapsed(2, 2 * MINUTE, RETENTION + 2 * MINUTE)]).when(anElapseRetention(at(3 * RETENTION))).thenNothing();
    room([aRoomOpened()]).when(anElapseRetention(at(3 * RETENTION))).thenNothing();
    room([]).when(anElapseRetention(at(3 * RETENTION))).thenNothing();
  });

  it('erases, later, only the messages sent since the last retention', () => {
    const later = RETENTION + DAY;
    const history = [...twoMessages, elapsed(2, 2 * MINUTE, RETENTION + 2 * MINUTE), aMessageSent({ seq: 3, sentAt: iso(later) })];
    room(history).when(anElapseRetention(at(later + RETENTION))).then([elapsed(3, later, later + RETENTION)]);
  });

  it('leaves no text of the erased messages in the state, and a retry gets the original back erased', () => {
    const state = fold(roomDecider, [...twoMessages, elapsed(2, 2 * MINUTE, RETENTION)]);
    if (state.status === 'none') throw new Error('no room');
    expect(state.retainedUpToSeq).toBe(2);
    expect(state.recentMessages.map((m) => ({ seq: m.seq, body: m.body, erased: m.erased }))).toEqual([
      { seq: 1, body: '', erased: true },
      { seq: 2, body: '', erased: true },
    ]);
    expect(JSON.stringify(state)).not.toContain('message 1');
    room([...twoMessages, elapsed(2, 2 * MINUTE, RETENTION)]).when(aSendMessage({ clientMessageId: 'client-1', now: at(RETENTION) })).thenNothing();
  });

  it('is pure: the same state and command decide the same', () => {
    const state = [...twoMessages].reduce(evolveRoom, initialRoomState());
    const command = anElapseRetention(at(3 * RETENTION));
    expect(roomDecider.decide(command, state)).toEqual(roomDecider.decide(command, state));
  });
});

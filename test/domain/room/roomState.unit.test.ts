/**
 * What the folded room remembers, seen through the decisions it leads to and through
 * the state itself, which the audit's "room at" view and the snapshots show as it is.
 */
import { fold } from '../../../src/domain/shared/decider';
import {
  aMessageSent,
  aMessagesRead,
  anExpireRoom,
  anOpenRoom,
  aBlock,
  anUnblock,
  aReopenRoom,
  aRoomBlocked,
  aRoomExpired,
  aRoomOpened,
  aRoomReopened,
  aRoomUnblocked,
  aSendMessage,
  at,
  BORROWER,
  EMPTY_TTL,
  HOUR,
  iso,
  LENDER,
  MINUTE,
  POST_ID,
  POST_TITLE,
  ROOM_ID,
} from '../../support/builders';
import { given } from '../../support/given';
import { expiryDue, RECENT_MESSAGES, roomDecider, type ExistingRoom, type RoomEvent } from '../../../src/domain/room';

const room = (history: readonly RoomEvent[]) => given(roomDecider, history);
const folded = (history: readonly RoomEvent[]) => fold(roomDecider, history) as ExistingRoom;
const opened = aRoomOpened();
const messages = (count: number, from = 1) => Array.from({ length: count }, (_, i) => aMessageSent({ seq: from + i }));

describe('the room as it is folded', () => {
  it('holds the post, the two participants, and nothing read, blocked or sent yet', () => {
    expect(folded([opened])).toEqual({
      status: 'open',
      roomId: ROOM_ID,
      postId: POST_ID,
      postTitle: POST_TITLE,
      lenderId: LENDER,
      borrowerId: BORROWER,
      openedAt: iso(0),
      activeSince: iso(0),
      activeSinceSeq: 0,
      lastMessageAt: null,
      lastSeq: 0,
      recentMessages: [],
      retainedUpToSeq: 0,
      reports: {},
      hiddenSeqs: [],
      blocks: {},
      lastReadSeq: { [LENDER]: 0, [BORROWER]: 0 },
    });
  });

  it('keeps the last message, who read how far, and who blocks whom', () => {
    const state = folded([
      opened,
      ...messages(2),
      aMessagesRead({ userId: LENDER, upToSeq: 2 }),
      aRoomBlocked({ blockerId: BORROWER, blockedId: LENDER }),
    ]);
    expect(state).toMatchObject({ lastSeq: 2, lastMessageAt: iso(2 * MINUTE), lastReadSeq: { [LENDER]: 2, [BORROWER]: 0 }, blocks: { [BORROWER]: LENDER } });
    expect(state.recentMessages.map((m) => m.seq)).toEqual([1, 2]);
    expect(folded([opened, aRoomBlocked({ blockerId: BORROWER, blockedId: LENDER }), aRoomUnblocked({ blockerId: BORROWER, unblockedId: LENDER })]).blocks).toEqual({});
  });

  it('records when it expired while expired, and forgets it once reopened', () => {
    const expired = folded([opened, aRoomExpired({ expiredAt: iso(EMPTY_TTL) })]);
    expect(expired).toMatchObject({ status: 'expired', expiredAt: iso(EMPTY_TTL) });
    const reopened = folded([opened, ...messages(2), aRoomExpired(), aRoomReopened({ reopenedAt: iso(3 * HOUR) })]);
    expect(reopened).toMatchObject({ status: 'open', activeSince: iso(3 * HOUR), activeSinceSeq: 2, lastSeq: 2 });
    expect(reopened).not.toHaveProperty('expiredAt');
  });

  it('ignores events about a room before the room was opened, so it can still be opened', () => {
    const stray = [aMessageSent({ seq: 1 }), aRoomBlocked(), aRoomExpired(), aRoomReopened()];
    expect(fold(roomDecider, stray)).toEqual({ status: 'none' });
    room(stray)
      .when(anOpenRoom({ now: at(5) }))
      .then([{ type: 'RoomOpened', data: { roomId: ROOM_ID, postId: POST_ID, postTitle: POST_TITLE, lenderId: LENDER, borrowerId: BORROWER, openedAt: iso(5) } }]);
  });
});

describe(`a retried send is answered from the room's last ${RECENT_MESSAGES} messages`, () => {
  const retryOf = (seq: number) => aSendMessage({ clientMessageId: `client-${seq}`, body: `message ${seq}`, messageId: `retry-${seq}`, now: at(HOUR) });

  it(`keeps exactly the last ${RECENT_MESSAGES} messages, oldest first`, () => {
    const state = folded([opened, ...messages(RECENT_MESSAGES + 1)]);
    expect(state.recentMessages.map((m) => m.seq)).toEqual(messages(RECENT_MESSAGES, 2).map((m) => m.data.seq));
    expect(folded([opened, ...messages(RECENT_MESSAGES)]).recentMessages).toHaveLength(RECENT_MESSAGES);
  });

  it('answers a retry of the oldest message it keeps, and leaves an older one to the event store', () => {
    const history = [opened, ...messages(RECENT_MESSAGES + 1)];
    room(history).when(retryOf(2)).thenNothing();
    // Message 1 has left the window: decided as new here, and the store refuses its id as a repeat.
    room(history)
      .when(retryOf(1))
      .then([
        aMessageSent({
          seq: RECENT_MESSAGES + 2,
          clientMessageId: 'client-1',
          body: 'message 1',
          messageId: 'retry-1',
          sentAt: iso(HOUR),
        }),
      ]);
  });
});

describe('user ids are arbitrary strings', () => {
  // Ids that name properties every JavaScript object has: a room must not mistake them for a block.
  const LENDER_NAMED_LIKE_A_PROPERTY = 'constructor';
  const BORROWER_NAMED_LIKE_A_PROPERTY = 'toString';
  const oddRoom = aRoomOpened({ lenderId: LENDER_NAMED_LIKE_A_PROPERTY, borrowerId: BORROWER_NAMED_LIKE_A_PROPERTY });

  it('lets such a user block, send, and unblock like anyone else', () => {
    room([oddRoom])
      .when(aBlock({ userId: LENDER_NAMED_LIKE_A_PROPERTY, now: at(MINUTE) }))
      .then([{ type: 'RoomBlocked', data: { roomId: ROOM_ID, blockerId: LENDER_NAMED_LIKE_A_PROPERTY, blockedId: BORROWER_NAMED_LIKE_A_PROPERTY, blockedAt: iso(MINUTE) } }]);
    room([oddRoom])
      .when(aSendMessage({ senderId: BORROWER_NAMED_LIKE_A_PROPERTY, clientMessageId: 'c-1', messageId: 'm-1', now: at(MINUTE) }))
      .then([aMessageSent({ seq: 1, senderId: BORROWER_NAMED_LIKE_A_PROPERTY, clientMessageId: 'c-1', messageId: 'm-1', body: 'Is it free on Saturday?', sentAt: iso(MINUTE) })]);
    room([oddRoom]).when(anUnblock({ userId: LENDER_NAMED_LIKE_A_PROPERTY })).thenNothing();
  });
});

describe('which TTL has run out', () => {
  const expiring = (history: readonly RoomEvent[], now: Date) => room(history).when(anExpireRoom({ emptyTtlMs: HOUR, idleTtlMs: 2 * HOUR, now }));

  it('counts the empty-room TTL from the reopening, even for a room with older messages', () => {
    const history = [opened, ...messages(1), aRoomExpired({ reason: 'idle' }), aRoomReopened({ reopenedAt: iso(10 * HOUR) })];
    expiring(history, at(11 * HOUR - 1)).thenNothing();
    expiring(history, at(11 * HOUR)).then([{ type: 'RoomExpired', data: { roomId: ROOM_ID, reason: 'empty', expiredAt: iso(11 * HOUR) } }]);
  });

  it('answers the same through expiryDue, for the sweep', () => {
    const withMessage = folded([opened, ...messages(1)]);
    expect(expiryDue(withMessage, at(MINUTE + 2 * HOUR - 1), HOUR, 2 * HOUR)).toBeNull();
    expect(expiryDue(withMessage, at(MINUTE + 2 * HOUR), HOUR, 2 * HOUR)).toBe('idle');
    expect(expiryDue(folded([opened]), at(HOUR), HOUR, 2 * HOUR)).toBe('empty');
    expect(expiryDue(folded([opened]), at(HOUR - 1), HOUR, 2 * HOUR)).toBeNull();
  });

  it('reopens through ReopenRoom only what has expired', () => {
    room([opened, aRoomExpired()]).when(aReopenRoom({ userId: LENDER, now: at(2 * HOUR) })).then([aRoomReopened({ reopenedBy: LENDER, reopenedAt: iso(2 * HOUR) })]);
    room([opened]).when(aReopenRoom()).thenNothing();
  });
});

describe('a clientMessageId is 1 to 128 characters', () => {
  it('accepts one of a single character', () => {
    room([aRoomOpened()])
      .when(aSendMessage({ clientMessageId: 'x', messageId: 'm-1', body: 'hi', now: at(MINUTE) }))
      .then([aMessageSent({ seq: 1, clientMessageId: 'x', messageId: 'm-1', body: 'hi', sentAt: iso(MINUTE) })]);
  });
});

import { postDecider, type PostEvent } from '../../../src/domain/post';
import {
  BlockedError,
  InvalidCommandError,
  OwnPostError,
  RoomExpiredError,
  RoomNotFoundError,
  roomDecider,
  type RoomEvent,
} from '../../../src/domain/room';
import {
  aBlock,
  aMarkRead,
  aMessageSent,
  aMessagesRead,
  anExpireRoom,
  anOpenRoom,
  anUnblock,
  anUpsertPost,
  aPostUpserted,
  aReopenRoom,
  aRoomBlocked,
  aRoomExpired,
  aRoomOpened,
  aRoomReopened,
  aRoomUnblocked,
  aSendMessage,
  at,
  BORROWER,
  DAY,
  EMPTY_TTL,
  HOUR,
  IDLE_TTL,
  iso,
  LENDER,
  MINUTE,
  POST_ID,
  POST_TITLE,
  ROOM_ID,
  STRANGER,
} from '../../support/builders';
import { given } from '../../support/given';

const room = (history: readonly RoomEvent[]) => given(roomDecider, history);

const opened = aRoomOpened();
const expired = aRoomExpired();
const twoMessages = [aMessageSent({ seq: 1 }), aMessageSent({ seq: 2, senderId: LENDER })];

describe('opening a room', () => {
  it('opens a room when a borrower presses "chat" on someone else\'s post', () => {
    room([]).when(anOpenRoom({ now: at(5) })).then([
      {
        type: 'RoomOpened',
        data: { roomId: ROOM_ID, postId: POST_ID, postTitle: POST_TITLE, lenderId: LENDER, borrowerId: BORROWER, openedAt: iso(5) },
      },
    ]);
  });

  it('refuses to open a chat on your own post', () => {
    room([]).when(anOpenRoom({ borrowerId: LENDER })).thenThrows(OwnPostError, { code: 'own_post' });
  });

  it('refuses the lender a chat on their own post even when the room already exists', () => {
    room([opened]).when(anOpenRoom({ borrowerId: LENDER })).thenThrows(OwnPostError);
  });

  it('returns the same open room when the borrower opens it again, recording nothing', () => {
    room([opened, ...twoMessages]).when(anOpenRoom({ now: at(HOUR) })).thenNothing();
  });

  it('reopens an expired room when the borrower opens it again', () => {
    room([opened, expired])
      .when(anOpenRoom({ now: at(3 * HOUR) }))
      .then([aRoomReopened({ reopenedBy: BORROWER, reopenedAt: iso(3 * HOUR) })]);
  });

  it('does not let another borrower into a room that is not theirs', () => {
    room([opened]).when(anOpenRoom({ borrowerId: STRANGER })).thenThrows(RoomNotFoundError, { code: 'not_found' });
  });
});

describe('reopening a room', () => {
  it.each([
    ['the borrower', BORROWER],
    ['the lender', LENDER],
  ])('lets %s reopen an expired room', (_who, userId) => {
    room([opened, expired])
      .when(aReopenRoom({ userId, now: at(2 * HOUR) }))
      .then([aRoomReopened({ reopenedBy: userId, reopenedAt: iso(2 * HOUR) })]);
  });

  it('leaves an open room as it is', () => {
    room([opened]).when(aReopenRoom()).thenNothing();
  });

  it('does not let a stranger reopen someone else\'s room', () => {
    room([opened, expired]).when(aReopenRoom({ userId: STRANGER })).thenThrows(RoomNotFoundError);
  });

  it('cannot reopen a room that was never opened', () => {
    room([]).when(aReopenRoom()).thenThrows(RoomNotFoundError);
  });
});

describe('only the two participants take part', () => {
  it('hides the room from a stranger who tries to send in it', () => {
    room([opened]).when(aSendMessage({ senderId: STRANGER })).thenThrows(RoomNotFoundError);
  });

  it('hides the room from a stranger who tries to mark it read', () => {
    room([opened, ...twoMessages]).when(aMarkRead({ userId: STRANGER, upToSeq: 1 })).thenThrows(RoomNotFoundError);
  });

  it('hides the room from a stranger who tries to block in it', () => {
    room([opened]).when(aBlock({ userId: STRANGER })).thenThrows(RoomNotFoundError);
  });

  it('hides the room from a stranger who tries to unblock in it', () => {
    room([opened, aRoomBlocked()]).when(anUnblock({ userId: STRANGER })).thenThrows(RoomNotFoundError);
  });

  it('does not hand a participant\'s message to a stranger who sends the same clientMessageId', () => {
    room([opened, aMessageSent({ seq: 1, clientMessageId: 'c-1' })])
      .when(aSendMessage({ senderId: STRANGER, clientMessageId: 'c-1' }))
      .thenThrows(RoomNotFoundError);
  });

  it('refuses a message to a room that was never opened', () => {
    room([]).when(aSendMessage()).thenThrows(RoomNotFoundError);
  });
});

describe('sending messages', () => {
  it('numbers the first message in a room 1', () => {
    room([opened])
      .when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1', body: 'Hello!', messageId: 'm-1', now: at(MINUTE) }))
      .then([
        {
          type: 'MessageSent',
          data: { roomId: ROOM_ID, messageId: 'm-1', seq: 1, senderId: BORROWER, body: 'Hello!', clientMessageId: 'c-1', sentAt: iso(MINUTE) },
        },
      ]);
  });

  it('numbers each next message one higher, whoever sends it, with no gap', () => {
    room([opened, ...twoMessages])
      .when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-3', messageId: 'm-3', body: 'third', now: at(3 * MINUTE) }))
      .then([aMessageSent({ seq: 3, senderId: BORROWER, clientMessageId: 'c-3', messageId: 'm-3', body: 'third', sentAt: iso(3 * MINUTE) })]);
  });

  it('carries on the numbering after the room expired and was reopened', () => {
    const expiredAndReopened = [aRoomExpired({ reason: 'idle', expiredAt: iso(IDLE_TTL + 2 * MINUTE) }), aRoomReopened({ reopenedAt: iso(40 * DAY) })];
    room([opened, ...twoMessages, ...expiredAndReopened])
      .when(aSendMessage({ senderId: LENDER, clientMessageId: 'c-3', messageId: 'm-3', body: 'welcome back', now: at(40 * DAY + 1) }))
      .then([aMessageSent({ seq: 3, senderId: LENDER, clientMessageId: 'c-3', messageId: 'm-3', body: 'welcome back', sentAt: iso(40 * DAY + 1) })]);
  });

  it('refuses a message to an expired room until it is reopened', () => {
    room([opened, ...twoMessages, aRoomExpired({ reason: 'idle' })])
      .when(aSendMessage({ clientMessageId: 'c-new' }))
      .thenThrows(RoomExpiredError, { code: 'room_expired' });
  });

  it('accepts messages again once an expired room is reopened', () => {
    room([opened, expired, aRoomReopened({ reopenedAt: iso(2 * HOUR) })])
      .when(aSendMessage({ clientMessageId: 'c-1', messageId: 'm-1', body: 'hi', now: at(2 * HOUR + 1) }))
      .then([aMessageSent({ seq: 1, clientMessageId: 'c-1', messageId: 'm-1', body: 'hi', sentAt: iso(2 * HOUR + 1) })]);
  });
});

describe('a retried send (same sender, same clientMessageId) yields one message', () => {
  const first = aMessageSent({ seq: 1, senderId: BORROWER, clientMessageId: 'c-1', body: 'Is it free?' });

  it('records nothing new when a client retries a message it already sent', () => {
    room([opened, first]).when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1', body: 'Is it free?', messageId: 'm-retry' })).thenNothing();
  });

  it('keeps the first message when the retry carries a different body', () => {
    room([opened, first]).when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1', body: 'edited', messageId: 'm-retry' })).thenNothing();
  });

  it('still answers a retry after other messages followed it', () => {
    room([opened, first, aMessageSent({ seq: 2, senderId: LENDER, clientMessageId: 'c-9' })])
      .when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1' }))
      .thenNothing();
  });

  it('answers a retry, not "room expired", after the room expired', () => {
    room([opened, first, aRoomExpired({ reason: 'idle' })]).when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1' })).thenNothing();
  });

  it('answers a retry, not "blocked", after the sender got blocked', () => {
    room([opened, first, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })])
      .when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1' }))
      .thenNothing();
  });

  it('gives the other participant their own message when they happen to use the same clientMessageId', () => {
    room([opened, first])
      .when(aSendMessage({ senderId: LENDER, clientMessageId: 'c-1', body: 'Yes it is', messageId: 'm-2', now: at(2 * MINUTE) }))
      .then([aMessageSent({ seq: 2, senderId: LENDER, clientMessageId: 'c-1', body: 'Yes it is', messageId: 'm-2', sentAt: iso(2 * MINUTE) })]);
  });

  it('refuses an empty clientMessageId', () => {
    room([opened]).when(aSendMessage({ clientMessageId: '' })).thenThrows(InvalidCommandError, { field: 'clientMessageId', code: 'bad_request' });
  });

  it('accepts a clientMessageId of up to 128 characters and refuses a longer one', () => {
    const longest = 'x'.repeat(128);
    room([opened])
      .when(aSendMessage({ clientMessageId: longest, messageId: 'm-1', body: 'hi' }))
      .then([aMessageSent({ seq: 1, clientMessageId: longest, messageId: 'm-1', body: 'hi' })]);
    room([opened]).when(aSendMessage({ clientMessageId: 'x'.repeat(129) })).thenThrows(InvalidCommandError, { field: 'clientMessageId' });
  });

  it('counts a clientMessageId in characters, so 128 emoji are accepted', () => {
    const emoji = '🔧'.repeat(128);
    room([opened])
      .when(aSendMessage({ clientMessageId: emoji, messageId: 'm-1', body: 'hi' }))
      .then([aMessageSent({ seq: 1, clientMessageId: emoji, messageId: 'm-1', body: 'hi' })]);
  });
});

describe('an event type this version does not know', () => {
  it('leaves the room as it was, so it keeps working', () => {
    const unknown = { type: 'RoomRenamed', data: { roomId: ROOM_ID, title: 'x' } } as unknown as RoomEvent;
    room([opened, unknown])
      .when(aSendMessage({ clientMessageId: 'c-1', messageId: 'm-1', body: 'hi' }))
      .then([aMessageSent({ seq: 1, clientMessageId: 'c-1', messageId: 'm-1', body: 'hi' })]);
  });
});

describe('a message body is 1–4000 characters of valid text, counted as code points, never trimmed', () => {
  const sending = (body: string) => room([opened]).when(aSendMessage({ body, clientMessageId: 'c-1', messageId: 'm-1', now: at(MINUTE) }));
  const sent = (body: string) => [aMessageSent({ seq: 1, body, clientMessageId: 'c-1', messageId: 'm-1', sentAt: iso(MINUTE) })];

  it.each([
    ['a single character', 'k'],
    ['4000 plain characters', 'a'.repeat(4000)],
    ['4000 emoji (8000 UTF-16 units)', '😀'.repeat(4000)],
    ['two spaces, kept as they are', '  '],
    ['surrounding whitespace and newlines, kept as they are', '  see you at 10\n'],
  ])('accepts %s', (_what, body) => {
    sending(body).then(sent(body));
  });

  it.each([
    ['an empty body', ''],
    ['4001 plain characters', 'a'.repeat(4001)],
    ['4001 emoji', '😀'.repeat(4001)],
    ['a lone high surrogate', 'broken \uD83D'],
    ['a lone low surrogate', '\uDE00 broken'],
    ['a NUL character', 'a\u0000b'],
  ])('refuses %s', (_what, body) => {
    sending(body).thenThrows(InvalidCommandError, { field: 'body', code: 'bad_request' });
  });
});

describe('blocking', () => {
  it.each([
    ['the lender blocks the borrower', LENDER, BORROWER],
    ['the borrower blocks the lender', BORROWER, LENDER],
  ])('records it when %s', (_what, blockerId, blockedId) => {
    room([opened]).when(aBlock({ userId: blockerId, now: at(7) })).then([aRoomBlocked({ blockerId, blockedId, blockedAt: iso(7) })]);
  });

  it('refuses the blocked user\'s messages', () => {
    room([opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })])
      .when(aSendMessage({ senderId: BORROWER }))
      .thenThrows(BlockedError, { code: 'blocked' });
  });

  it('still lets the blocker send', () => {
    room([opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })])
      .when(aSendMessage({ senderId: LENDER, clientMessageId: 'c-1', messageId: 'm-1', body: 'bye', now: at(MINUTE) }))
      .then([aMessageSent({ seq: 1, senderId: LENDER, clientMessageId: 'c-1', messageId: 'm-1', body: 'bye', sentAt: iso(MINUTE) })]);
  });

  it('refuses both when each has blocked the other', () => {
    const history = [opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER }), aRoomBlocked({ blockerId: BORROWER, blockedId: LENDER })];
    room(history).when(aSendMessage({ senderId: LENDER })).thenThrows(BlockedError);
    room(history).when(aSendMessage({ senderId: BORROWER })).thenThrows(BlockedError);
  });

  it('records nothing when the same user blocks twice', () => {
    room([opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })]).when(aBlock({ userId: LENDER })).thenNothing();
  });

  it('lifts the block when the blocker unblocks', () => {
    room([opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })])
      .when(anUnblock({ userId: LENDER, now: at(9) }))
      .then([aRoomUnblocked({ blockerId: LENDER, unblockedId: BORROWER, unblockedAt: iso(9) })]);
  });

  it('lets the formerly blocked user send again after an unblock', () => {
    room([opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER }), aRoomUnblocked({ blockerId: LENDER, unblockedId: BORROWER })])
      .when(aSendMessage({ senderId: BORROWER, clientMessageId: 'c-1', messageId: 'm-1', body: 'thanks', now: at(MINUTE) }))
      .then([aMessageSent({ seq: 1, senderId: BORROWER, clientMessageId: 'c-1', messageId: 'm-1', body: 'thanks', sentAt: iso(MINUTE) })]);
  });

  it('records nothing when someone unblocks who has not blocked anyone', () => {
    room([opened]).when(anUnblock({ userId: LENDER })).thenNothing();
  });

  it('does not let the blocked user lift the block by "unblocking"', () => {
    room([opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })]).when(anUnblock({ userId: BORROWER })).thenNothing();
  });
});

describe('expiry', () => {
  const expire = (nowMs: number) => anExpireRoom({ emptyTtlMs: EMPTY_TTL, idleTtlMs: IDLE_TTL, now: at(nowMs) });

  it('expires a room nobody wrote in exactly the empty-room TTL after it opened', () => {
    room([opened]).when(expire(EMPTY_TTL)).then([aRoomExpired({ reason: 'empty', expiredAt: iso(EMPTY_TTL) })]);
  });

  it('keeps an empty room open until the empty-room TTL has fully passed', () => {
    room([opened]).when(expire(EMPTY_TTL - 1)).thenNothing();
  });

  it('does not expire a room with messages on the empty-room TTL', () => {
    room([opened, aMessageSent({ seq: 1, sentAt: iso(MINUTE) })]).when(expire(2 * EMPTY_TTL)).thenNothing();
  });

  it('expires a room with messages the idle TTL after its last message', () => {
    const lastAt = 10 * DAY;
    room([opened, aMessageSent({ seq: 1, sentAt: iso(MINUTE) }), aMessageSent({ seq: 2, sentAt: iso(lastAt) })])
      .when(expire(lastAt + IDLE_TTL))
      .then([aRoomExpired({ reason: 'idle', expiredAt: iso(lastAt + IDLE_TTL) })]);
  });

  it('keeps a room with messages open until the idle TTL after the last message has fully passed', () => {
    const lastAt = 10 * DAY;
    room([opened, aMessageSent({ seq: 1, sentAt: iso(MINUTE) }), aMessageSent({ seq: 2, sentAt: iso(lastAt) })])
      .when(expire(lastAt + IDLE_TTL - 1))
      .thenNothing();
  });

  it('counts a reopened room\'s empty-room TTL from the reopening', () => {
    const history = [opened, aRoomExpired({ expiredAt: iso(EMPTY_TTL) }), aRoomReopened({ reopenedAt: iso(5 * HOUR) })];
    room(history).when(expire(5 * HOUR + EMPTY_TTL - 1)).thenNothing();
    room(history).when(expire(5 * HOUR + EMPTY_TTL)).then([aRoomExpired({ reason: 'empty', expiredAt: iso(5 * HOUR + EMPTY_TTL) })]);
  });

  it('does not expire a room again straight after it was reopened following a long silence', () => {
    const history = [
      opened,
      aMessageSent({ seq: 1, sentAt: iso(MINUTE) }),
      aRoomExpired({ reason: 'idle', expiredAt: iso(MINUTE + IDLE_TTL) }),
      aRoomReopened({ reopenedAt: iso(60 * DAY) }),
    ];
    room(history).when(expire(60 * DAY + MINUTE)).thenNothing();
    room(history).when(expire(60 * DAY + EMPTY_TTL)).then([aRoomExpired({ reason: 'empty', expiredAt: iso(60 * DAY + EMPTY_TTL) })]);
  });

  it('records nothing when an expired room is expired again', () => {
    room([opened, expired]).when(expire(10 * EMPTY_TTL)).thenNothing();
  });

  it('records nothing when asked to expire a room that was never opened', () => {
    room([]).when(expire(10 * EMPTY_TTL)).thenNothing();
  });
});

describe('marking messages read', () => {
  it('records how far a participant has read', () => {
    room([opened, ...twoMessages])
      .when(aMarkRead({ userId: LENDER, upToSeq: 2, now: at(3) }))
      .then([aMessagesRead({ userId: LENDER, upToSeq: 2, readAt: iso(3) })]);
  });

  it('keeps a read marker per participant', () => {
    room([opened, ...twoMessages, aMessagesRead({ userId: LENDER, upToSeq: 2 })])
      .when(aMarkRead({ userId: BORROWER, upToSeq: 1, now: at(4) }))
      .then([aMessagesRead({ userId: BORROWER, upToSeq: 1, readAt: iso(4) })]);
  });

  it('refuses to mark read past the last message', () => {
    room([opened, ...twoMessages]).when(aMarkRead({ upToSeq: 3 })).thenThrows(InvalidCommandError, { field: 'upToSeq', code: 'bad_request' });
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
  ])('refuses a %s seq', (_what, upToSeq) => {
    room([opened, ...twoMessages]).when(aMarkRead({ upToSeq })).thenThrows(InvalidCommandError, { field: 'upToSeq' });
  });

  it('records nothing when marking read up to where the participant already read', () => {
    room([opened, ...twoMessages, aMessagesRead({ userId: LENDER, upToSeq: 2 })]).when(aMarkRead({ userId: LENDER, upToSeq: 2 })).thenNothing();
  });

  it('records nothing when a late "read" arrives for messages already marked read', () => {
    room([opened, ...twoMessages, aMessagesRead({ userId: LENDER, upToSeq: 2 })]).when(aMarkRead({ userId: LENDER, upToSeq: 1 })).thenNothing();
  });

  it('records nothing when marking an empty room read up to 0', () => {
    room([opened]).when(aMarkRead({ upToSeq: 0 })).thenNothing();
  });
});

describe('posts the service may open rooms for', () => {
  const post = (history: readonly PostEvent[]) => given(postDecider, history);

  it('records a post the marketplace upserts for the first time', () => {
    post([]).when(anUpsertPost({ now: at(1) })).then([aPostUpserted({ upsertedAt: iso(1) })]);
  });

  it('records nothing when the marketplace resends the same post', () => {
    post([aPostUpserted()]).when(anUpsertPost({ now: at(HOUR) })).thenNothing();
  });

  it('records a new version when the title changes', () => {
    post([aPostUpserted()])
      .when(anUpsertPost({ title: 'Drill + bits', now: at(HOUR) }))
      .then([aPostUpserted({ title: 'Drill + bits', upsertedAt: iso(HOUR) })]);
  });

  it('records a new version when the owner changes', () => {
    post([aPostUpserted()])
      .when(anUpsertPost({ ownerId: STRANGER, now: at(HOUR) }))
      .then([aPostUpserted({ ownerId: STRANGER, upsertedAt: iso(HOUR) })]);
  });
});

/**
 * What a refused user is told. The interfaces pass a DomainError's code and message to
 * the client as they are (the contract's error body), so the wording is behaviour too:
 * these specs pin the message of every refusal the room decider makes.
 */
import {
  BlockedError,
  InvalidCommandError,
  MAX_BODY_CHARACTERS,
  OwnPostError,
  roomDecider,
  RoomExpiredError,
  RoomNotFoundError,
  type RoomEvent,
  type SendMessage,
} from '../../../src/domain/room';
import {
  aBlock,
  aMarkRead,
  aMessageSent,
  anOpenRoom,
  aRoomBlocked,
  aRoomExpired,
  aRoomOpened,
  aSendMessage,
  BORROWER,
  LENDER,
  STRANGER,
} from '../../support/builders';
import { given } from '../../support/given';

const room = (history: readonly RoomEvent[]) => given(roomDecider, history);
const opened = aRoomOpened();

describe('a refusal tells the user what went wrong, in words, with the error it is', () => {
  it.each([
    ['a chat on your own post', [], anOpenRoom({ borrowerId: LENDER }), OwnPostError, 'own_post', 'you cannot open a chat on your own post'],
    ['a room that is not yours', [opened], aSendMessage({ senderId: STRANGER }), RoomNotFoundError, 'not_found', 'room room-1 not found'],
    ['a room never opened', [], aBlock(), RoomNotFoundError, 'not_found', 'room room-1 not found'],
    [
      'a message to an expired room',
      [opened, aRoomExpired()],
      aSendMessage(),
      RoomExpiredError,
      'room_expired',
      'room room-1 has expired; open it again to continue',
    ],
    [
      'a message from a blocked user',
      [opened, aRoomBlocked({ blockerId: LENDER, blockedId: BORROWER })],
      aSendMessage({ senderId: BORROWER }),
      BlockedError,
      'blocked',
      'the other participant has blocked you in this room',
    ],
  ] as const)('%s', (_what, history, command, errorClass, code, message) => {
    const error = room(history).when(command).thenThrows(errorClass, { code, message });
    expect(error.name).toBe(errorClass.name);
  });

  describe('a command value that is not allowed names its field and the rule', () => {
    const sending = (o: Partial<SendMessage['data']>) => room([opened]).when(aSendMessage(o));

    it.each([
      ['an empty clientMessageId', { clientMessageId: '' }, 'clientMessageId', 'clientMessageId: must be 1 to 128 characters'],
      ['a clientMessageId of 129 characters', { clientMessageId: 'x'.repeat(129) }, 'clientMessageId', 'clientMessageId: must be 1 to 128 characters'],
      ['an empty body', { body: '' }, 'body', `body: must be 1 to ${MAX_BODY_CHARACTERS} characters`],
      ['a body of 4001 characters', { body: 'a'.repeat(4001) }, 'body', 'body: must be 1 to 4000 characters'],
      ['a body with a lone surrogate', { body: 'broken \uD83D' }, 'body', 'body: must be valid Unicode text'],
      ['a body with a NUL character', { body: 'a\u0000b' }, 'body', 'body: must not contain NUL characters'],
      // A client that sends JSON of the wrong type gets a refusal, not a crash.
      ['a body that is not text', { body: 42 as unknown as string }, 'body', 'body: must be a string'],
    ] as const)('%s', (_what, values, field, message) => {
      const error = sending(values).thenThrows(InvalidCommandError, { field, code: 'bad_request', message });
      expect(error.name).toBe('InvalidCommandError');
    });

    it.each([
      ['a negative seq', -1],
      ['a fractional seq', 1.5],
      ['a seq past the largest safe integer', Number.MAX_SAFE_INTEGER + 1],
    ])('%s to mark read up to', (_what, upToSeq) => {
      room([opened, aMessageSent({ seq: 1 })])
        .when(aMarkRead({ upToSeq }))
        .thenThrows(InvalidCommandError, { field: 'upToSeq', message: 'upToSeq: must be a whole number of 0 or more' });
    });

    it("a read marker past the room's last message, naming that message's seq", () => {
      room([opened, aMessageSent({ seq: 1 }), aMessageSent({ seq: 2 })])
        .when(aMarkRead({ upToSeq: 3 }))
        .thenThrows(InvalidCommandError, { field: 'upToSeq', message: "upToSeq: is past the room's last message (seq 2)" });
    });
  });
});

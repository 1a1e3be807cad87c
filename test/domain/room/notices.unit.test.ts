import { InvalidCommandError, RoomExpiredError, RoomNotFoundError, roomDecider, SYSTEM_SENDER } from '../../../src/domain/room';
import { aMessageSent, aPostNotice, aRoomBlocked, aRoomExpired, aRoomOpened, aRoomReopened, at, MINUTE } from '../../support/builders';
import { given } from '../../support/given';

describe('marketplace notices (the room decider)', () => {
  it('records a notice as a message of kind notice from "system", next in the room\'s seq', () => {
    given(roomDecider, [aRoomOpened(), aMessageSent({ seq: 1 }), aMessageSent({ seq: 2 })])
      .when(aPostNotice({ clientNoticeId: 'n-1', text: 'Booking confirmed for Saturday', messageId: 'm-3', now: at(5 * MINUTE) }))
      .then([
        {
          type: 'MessageSent',
          data: {
            roomId: 'room-1',
            messageId: 'm-3',
            seq: 3,
            senderId: SYSTEM_SENDER,
            body: 'Booking confirmed for Saturday',
            clientMessageId: 'n-1',
            sentAt: at(5 * MINUTE).toISOString(),
            kind: 'notice',
          },
        },
      ]);
  });

  it('records nothing for a retry with the same clientNoticeId, even after the room expired', () => {
    const notice = aMessageSent({ seq: 1, senderId: SYSTEM_SENDER, clientMessageId: 'n-1', kind: 'notice' });
    given(roomDecider, [aRoomOpened(), notice]).when(aPostNotice({ clientNoticeId: 'n-1' })).thenNothing();
    given(roomDecider, [aRoomOpened(), notice, aRoomExpired()]).when(aPostNotice({ clientNoticeId: 'n-1' })).thenNothing();
  });

  it('takes a participant\'s clientMessageId equal to the notice\'s as a different message', () => {
    const participants = aMessageSent({ seq: 1, clientMessageId: 'n-1' });
    const decided = roomDecider.decide(aPostNotice({ clientNoticeId: 'n-1' }), [aRoomOpened(), participants].reduce(roomDecider.evolve, roomDecider.initialState()));
    expect(decided).toHaveLength(1);
    expect(decided[0]?.data).toMatchObject({ seq: 2, senderId: SYSTEM_SENDER });
  });

  it('refuses a notice on an expired room, like a send, and takes it again once reopened', () => {
    given(roomDecider, [aRoomOpened(), aRoomExpired()]).when(aPostNotice()).thenThrows(RoomExpiredError);
    given(roomDecider, [aRoomOpened(), aRoomExpired(), aRoomReopened()]).when(aPostNotice()).then([
      expect.objectContaining({ type: 'MessageSent' }) as never,
    ]);
  });

  it('refuses a notice on a room that does not exist', () => {
    given(roomDecider, []).when(aPostNotice()).thenThrows(RoomNotFoundError);
  });

  it('posts a notice whoever blocked whom: blocks are between the participants', () => {
    given(roomDecider, [aRoomOpened(), aRoomBlocked()]).when(aPostNotice()).then([expect.objectContaining({ type: 'MessageSent' }) as never]);
  });

  it('refuses an empty or too long text and clientNoticeId, naming the field', () => {
    given(roomDecider, [aRoomOpened()]).when(aPostNotice({ text: '' })).thenThrows(InvalidCommandError, { field: 'text' });
    given(roomDecider, [aRoomOpened()]).when(aPostNotice({ text: 'x'.repeat(4001) })).thenThrows(InvalidCommandError, { field: 'text' });
    given(roomDecider, [aRoomOpened()]).when(aPostNotice({ clientNoticeId: '' })).thenThrows(InvalidCommandError, { field: 'clientNoticeId' });
  });
});

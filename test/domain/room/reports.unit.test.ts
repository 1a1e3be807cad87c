import {
  InvalidCommandError,
  MessageNotFoundError,
  NotReportableError,
  ReportNotFoundError,
  RoomNotFoundError,
  roomDecider,
  SYSTEM_SENDER,
} from '../../../src/domain/room';
import {
  aMessageReported,
  aMessageSent,
  aReportMessage,
  aResolveReport,
  aRoomExpired,
  aRoomOpened,
  at,
  BORROWER,
  iso,
  LENDER,
  MINUTE,
  STRANGER,
} from '../../support/builders';
import { given } from '../../support/given';

const lenderWrote = aMessageSent({ seq: 1, senderId: LENDER, body: '계좌로 먼저 입금해 주세요' });

describe('reports (the room decider)', () => {
  it('records a report by the participant who received the message, naming its sender', () => {
    given(roomDecider, [aRoomOpened(), lenderWrote]).when(aReportMessage()).then([aMessageReported()]);
  });

  it('records nothing when the same reporter reports the same message again', () => {
    given(roomDecider, [aRoomOpened(), lenderWrote, aMessageReported()]).when(aReportMessage({ reportId: 'report-2', reason: 'spam' })).thenNothing();
  });

  it('takes reports of other messages, and in an expired room', () => {
    const second = aMessageSent({ seq: 2, senderId: LENDER });
    given(roomDecider, [aRoomOpened(), lenderWrote, second, aMessageReported()])
      .when(aReportMessage({ seq: 2, reportId: 'report-2' }))
      .then([aMessageReported({ seq: 2, reportId: 'report-2' })]);
    given(roomDecider, [aRoomOpened(), lenderWrote, aRoomExpired()]).when(aReportMessage()).then([aMessageReported()]);
  });

  it('refuses a report of one\'s own message or of a notice', () => {
    given(roomDecider, [aRoomOpened(), lenderWrote])
      .when(aReportMessage({ reporterId: LENDER }))
      .thenThrows(NotReportableError, { code: 'forbidden' });
    const notice = aMessageSent({ seq: 1, senderId: SYSTEM_SENDER, kind: 'notice' });
    given(roomDecider, [aRoomOpened(), notice])
      .when(aReportMessage({ message: { senderId: SYSTEM_SENDER, kind: 'notice' } }))
      .thenThrows(NotReportableError);
  });

  it('answers not_found to a stranger, and for a seq with no message', () => {
    given(roomDecider, [aRoomOpened(), lenderWrote]).when(aReportMessage({ reporterId: STRANGER })).thenThrows(RoomNotFoundError);
    given(roomDecider, [aRoomOpened(), lenderWrote]).when(aReportMessage({ seq: 2, message: null })).thenThrows(MessageNotFoundError);
    given(roomDecider, [aRoomOpened(), lenderWrote]).when(aReportMessage({ seq: 0 })).thenThrows(MessageNotFoundError);
  });

  it('refuses an unknown reason and a note over 1000 characters, naming the field', () => {
    given(roomDecider, [aRoomOpened(), lenderWrote])
      .when(aReportMessage({ reason: 'rude' as never }))
      .thenThrows(InvalidCommandError, { field: 'reason' });
    given(roomDecider, [aRoomOpened(), lenderWrote])
      .when(aReportMessage({ note: 'x'.repeat(1001) }))
      .thenThrows(InvalidCommandError, { field: 'note' });
  });
});

describe('resolving a report (the room decider)', () => {
  const reported = [aRoomOpened(), lenderWrote, aMessageReported()];

  it('records who dismissed it, their note and when', () => {
    given(roomDecider, reported)
      .when(aResolveReport({ action: 'dismiss', note: 'a fair price talk', moderatorId: 'mod-1', now: at(3 * MINUTE) }))
      .then([
        {
          type: 'ReportResolved',
          data: { roomId: 'room-1', reportId: 'report-1', action: 'dismiss', note: 'a fair price talk', moderatorId: 'mod-1', resolvedAt: iso(3 * MINUTE) },
        },
      ]);
  });

  it('hides the reported message when the action is hide_message', () => {
    given(roomDecider, reported)
      .when(aResolveReport({ action: 'hide_message' }))
      .then([
        {
          type: 'ReportResolved',
          data: { roomId: 'room-1', reportId: 'report-1', action: 'hide_message', note: 'checked', moderatorId: 'mod-1', resolvedAt: iso(3 * MINUTE) },
        },
        { type: 'MessageHidden', data: { roomId: 'room-1', seq: 1, reportId: 'report-1', hiddenBy: 'mod-1', hiddenAt: iso(3 * MINUTE) } },
      ]);
  });

  it('records only the resolution for suspend_sender (the suspension is the user stream\'s)', () => {
    given(roomDecider, reported)
      .when(aResolveReport({ action: 'suspend_sender' }))
      .then([expect.objectContaining({ type: 'ReportResolved' }) as never]);
  });

  it('does not hide a message twice when a second report of it is resolved with hide_message', () => {
    const hiddenOnce = [
      ...reported,
      aMessageReported({ reportId: 'report-2', reporterId: BORROWER, seq: 1 }),
      { type: 'ReportResolved', data: { roomId: 'room-1', reportId: 'report-1', action: 'hide_message', note: '', moderatorId: 'mod-1', resolvedAt: iso(0) } } as const,
      { type: 'MessageHidden', data: { roomId: 'room-1', seq: 1, reportId: 'report-1', hiddenBy: 'mod-1', hiddenAt: iso(0) } } as const,
    ];
    given(roomDecider, hiddenOnce)
      .when(aResolveReport({ reportId: 'report-2', action: 'hide_message' }))
      .then([expect.objectContaining({ type: 'ReportResolved' }) as never]);
  });

  it('records nothing for a report already resolved, and refuses an unknown report or action', () => {
    const resolved = [
      ...reported,
      { type: 'ReportResolved', data: { roomId: 'room-1', reportId: 'report-1', action: 'dismiss', note: '', moderatorId: 'mod-1', resolvedAt: iso(0) } } as const,
    ];
    given(roomDecider, resolved).when(aResolveReport({ action: 'hide_message' })).thenNothing();
    given(roomDecider, reported).when(aResolveReport({ reportId: 'nope' })).thenThrows(ReportNotFoundError);
    given(roomDecider, reported).when(aResolveReport({ action: 'ban' as never })).thenThrows(InvalidCommandError, { field: 'action' });
  });
});

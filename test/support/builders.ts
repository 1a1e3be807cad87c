/**
 * Small builders for the decider specs: each returns a valid event or command about
 * one room between LENDER and BORROWER, and takes overrides for what a spec cares about.
 * Time is fixed: `at(ms)` is T0 plus `ms`, `iso(ms)` the same instant as a stored string.
 */
import type { PostUpserted, UpsertPost } from '../../src/domain/post';
import type {
  BlockParticipant,
  ExpireRoom,
  MarkRead,
  MessageSent,
  MessagesRead,
  OpenRoom,
  PostNotice,
  ReopenRoom,
  ReportMessage,
  ResolveReport,
  MessageReported,
  RoomBlocked,
  RoomExpired,
  RoomOpened,
  RoomReopened,
  RoomUnblocked,
  SendMessage,
  UnblockParticipant,
} from '../../src/domain/room';
import { DAY, HOUR, MINUTE } from './time';

export const ROOM_ID = 'room-1';
export const POST_ID = 'post-1';
export const POST_TITLE = 'Cordless drill, weekend rental';
export const LENDER = 'user-lender';
export const BORROWER = 'user-borrower';
export const STRANGER = 'user-stranger';

// Re-exported so a decider spec takes its durations from the same place as its builders.
export { SECOND, MINUTE, HOUR, DAY } from './time';
export const EMPTY_TTL = HOUR;
export const IDLE_TTL = 30 * DAY;

const T0_MS = Date.parse('2025-03-01T10:00:00.000Z');
export const at = (ms = 0): Date => new Date(T0_MS + ms);
export const iso = (ms = 0): string => at(ms).toISOString();

// Events, as the decider records them.

export const aRoomOpened = (o: Partial<RoomOpened['data']> = {}): RoomOpened => ({
  type: 'RoomOpened',
  data: { roomId: ROOM_ID, postId: POST_ID, postTitle: POST_TITLE, lenderId: LENDER, borrowerId: BORROWER, openedAt: iso(0), ...o },
});

export const aMessageSent = (o: Partial<MessageSent['data']> = {}): MessageSent => {
  const seq = o.seq ?? 1;
  return {
    type: 'MessageSent',
    data: {
      roomId: ROOM_ID,
      messageId: `msg-${seq}`,
      seq,
      senderId: BORROWER,
      body: `message ${seq}`,
      clientMessageId: `client-${seq}`,
      sentAt: iso(seq * MINUTE),
      ...o,
    },
  };
};

export const aMessagesRead = (o: Partial<MessagesRead['data']> = {}): MessagesRead => ({
  type: 'MessagesRead',
  data: { roomId: ROOM_ID, userId: LENDER, upToSeq: 1, readAt: iso(0), ...o },
});

export const aRoomBlocked = (o: Partial<RoomBlocked['data']> = {}): RoomBlocked => ({
  type: 'RoomBlocked',
  data: { roomId: ROOM_ID, blockerId: LENDER, blockedId: BORROWER, blockedAt: iso(0), ...o },
});

export const aRoomUnblocked = (o: Partial<RoomUnblocked['data']> = {}): RoomUnblocked => ({
  type: 'RoomUnblocked',
  data: { roomId: ROOM_ID, blockerId: LENDER, unblockedId: BORROWER, unblockedAt: iso(0), ...o },
});

export const aRoomExpired = (o: Partial<RoomExpired['data']> = {}): RoomExpired => ({
  type: 'RoomExpired',
  data: { roomId: ROOM_ID, reason: 'empty', expiredAt: iso(EMPTY_TTL), ...o },
});

export const aRoomReopened = (o: Partial<RoomReopened['data']> = {}): RoomReopened => ({
  type: 'RoomReopened',
  data: { roomId: ROOM_ID, reopenedBy: BORROWER, reopenedAt: iso(2 * EMPTY_TTL), ...o },
});

export const aPostUpserted = (o: Partial<PostUpserted['data']> = {}): PostUpserted => ({
  type: 'PostUpserted',
  data: { postId: POST_ID, ownerId: LENDER, title: POST_TITLE, upsertedAt: iso(0), ...o },
});

// Commands, as the application hands them in.

export const anOpenRoom = (o: Partial<OpenRoom['data']> = {}): OpenRoom => ({
  type: 'OpenRoom',
  data: { roomId: ROOM_ID, postId: POST_ID, postTitle: POST_TITLE, lenderId: LENDER, borrowerId: BORROWER, now: at(0), ...o },
});

export const aSendMessage = (o: Partial<SendMessage['data']> = {}): SendMessage => ({
  type: 'SendMessage',
  data: {
    roomId: ROOM_ID,
    senderId: BORROWER,
    clientMessageId: 'client-1',
    body: 'Is it free on Saturday?',
    messageId: 'msg-1',
    now: at(MINUTE),
    ...o,
  },
});

export const aPostNotice = (o: Partial<PostNotice['data']> = {}): PostNotice => ({
  type: 'PostNotice',
  data: { roomId: ROOM_ID, clientNoticeId: 'notice-1', text: 'Booking confirmed for Saturday', messageId: 'notice-msg-1', now: at(MINUTE), ...o },
});

export const aReportMessage = (o: Partial<ReportMessage['data']> = {}): ReportMessage => ({
  type: 'ReportMessage',
  data: {
    roomId: ROOM_ID,
    reporterId: BORROWER,
    seq: 1,
    reason: 'scam',
    note: 'asks for a deposit by bank transfer',
    reportId: 'report-1',
    message: { senderId: LENDER, kind: 'text' },
    now: at(2 * MINUTE),
    ...o,
  },
});

export const aMessageReported = (o: Partial<MessageReported['data']> = {}): MessageReported => ({
  type: 'MessageReported',
  data: {
    roomId: ROOM_ID,
    reportId: 'report-1',
    seq: 1,
    reporterId: BORROWER,
    reportedUserId: LENDER,
    reason: 'scam',
    note: 'asks for a deposit by bank transfer',
    reportedAt: iso(2 * MINUTE),
    ...o,
  },
});

export const aResolveReport = (o: Partial<ResolveReport['data']> = {}): ResolveReport => ({
  type: 'ResolveReport',
  data: { roomId: ROOM_ID, reportId: 'report-1', action: 'dismiss', note: 'checked', moderatorId: 'mod-1', now: at(3 * MINUTE), ...o },
});

export const aMarkRead = (o: Partial<MarkRead['data']> = {}): MarkRead => ({
  type: 'MarkRead',
  data: { roomId: ROOM_ID, userId: LENDER, upToSeq: 1, now: at(MINUTE), ...o },
});

export const aBlock = (o: Partial<BlockParticipant['data']> = {}): BlockParticipant => ({
  type: 'BlockParticipant',
  data: { roomId: ROOM_ID, userId: LENDER, now: at(MINUTE), ...o },
});

export const anUnblock = (o: Partial<UnblockParticipant['data']> = {}): UnblockParticipant => ({
  type: 'UnblockParticipant',
  data: { roomId: ROOM_ID, userId: LENDER, now: at(MINUTE), ...o },
});

export const anExpireRoom = (o: Partial<ExpireRoom['data']> = {}): ExpireRoom => ({
  type: 'ExpireRoom',
  data: { roomId: ROOM_ID, emptyTtlMs: EMPTY_TTL, idleTtlMs: IDLE_TTL, now: at(EMPTY_TTL), ...o },
});

export const aReopenRoom = (o: Partial<ReopenRoom['data']> = {}): ReopenRoom => ({
  type: 'ReopenRoom',
  data: { roomId: ROOM_ID, userId: BORROWER, now: at(2 * EMPTY_TTL), ...o },
});

export const anUpsertPost = (o: Partial<UpsertPost['data']> = {}): UpsertPost => ({
  type: 'UpsertPost',
  data: { postId: POST_ID, ownerId: LENDER, title: POST_TITLE, now: at(0), ...o },
});

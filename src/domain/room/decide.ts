import type {
  BlockParticipant,
  ElapseRetention,
  ExpireRoom,
  MarkRead,
  OpenRoom,
  PostNotice,
  ReopenRoom,
  ReportMessage,
  ResolveReport,
  RoomCommand,
  SendMessage,
  UnblockParticipant,
} from './commands';
import {
  BlockedError,
  InvalidCommandError,
  MessageNotFoundError,
  NotReportableError,
  OwnPostError,
  ReportNotFoundError,
  RoomExpiredError,
  RoomNotFoundError,
} from './errors';
import {
  reportReasons,
  resolutionActions,
  type MessageHidden,
  type MessageReported,
  type MessageAttachment,
  type MessageSent,
  type MessagesRead,
  type ReportResolved,
  type RoomBlocked,
  type RoomEvent,
  type RoomExpired,
  type RoomOpened,
  type RoomReopened,
  type RoomRetentionElapsed,
  type RoomUnblocked,
} from './events';
import { SYSTEM_SENDER } from './messageView';
import { blockedBy, type ExistingRoom, isParticipant, lastActivityOf, otherParticipant, recentMessage, reportOf, type RoomState } from './state';

/** The longest note a reporter or a moderator may write. */
export const MAX_NOTE_CHARACTERS = 1000;

export const MAX_BODY_CHARACTERS = 4000;

/** The room's decider: each command has a function of its own, named after it. */
export function decideRoom(command: RoomCommand, state: RoomState): RoomEvent[] {
  switch (command.type) {
    case 'OpenRoom':
      return openRoom(command, state);
    case 'ReopenRoom':
      return reopenRoom(command, state);
    case 'SendMessage':
      return sendMessage(command, state);
    case 'PostNotice':
      return postNotice(command, state);
    case 'MarkRead':
      return markRead(command, state);
    case 'BlockParticipant':
      return blockParticipant(command, state);
    case 'UnblockParticipant':
      return unblockParticipant(command, state);
    case 'ExpireRoom':
      return expireRoom(command, state);
    case 'ElapseRetention':
      return elapseRetention(command, state);
    case 'ReportMessage':
      return reportMessage(command, state);
    case 'ResolveReport':
      return resolveReport(command, state);
    default: {
      const exhaustive: never = command;
      return exhaustive;
    }
  }
}

/** The borrower gets or opens their room on a post: a new room, a reopened expired one, or nothing for an open one. */
export function openRoom(command: OpenRoom, state: RoomState): (RoomOpened | RoomReopened)[] {
  const c = command.data;
  if (c.lenderId === c.borrowerId) throw new OwnPostError();
  if (state.status === 'none') {
    return [
      {
        type: 'RoomOpened',
        data: {
          roomId: c.roomId,
          postId: c.postId,
          postTitle: c.postTitle,
          lenderId: c.lenderId,
          borrowerId: c.borrowerId,
          openedAt: c.now.toISOString(),
        },
      },
    ];
  }
  if (state.borrowerId !== c.borrowerId) throw new RoomNotFoundError(c.roomId);
  return state.status === 'expired' ? [reopened(state, c.borrowerId, c.now)] : [];
}

/** Either participant reopens an expired room; an open room is left as it is. */
export function reopenRoom(command: ReopenRoom, state: RoomState): RoomReopened[] {
  const room = participantRoom(state, command.data.roomId, command.data.userId);
  return room.status === 'expired' ? [reopened(room, command.data.userId, command.data.now)] : [];
}

export function sendMessage(command: SendMessage, state: RoomState): MessageSent[] {
  const c = command.data;
  const room = participantRoom(state, c.roomId, c.senderId);
  // A retry returns the original whatever happened to the room since, so it is checked first.
  if (recentMessage(room, c.senderId, c.clientMessageId) !== undefined) return [];
  requireClientMessageId(c.clientMessageId);
  const attachments = c.attachments ?? [];
  requireAttachments(attachments);
  // A photo may go without words; a message with neither is nothing.
  if (attachments.length === 0 || c.body !== '') requireValidBody(c.body);
  if (room.status === 'expired') throw new RoomExpiredError(room.roomId);
  if (blockedBy(room, otherParticipant(room, c.senderId)) === c.senderId) throw new BlockedError();
  return [
    {
      type: 'MessageSent',
      data: {
        roomId: room.roomId,
        messageId: c.messageId,
        seq: room.lastSeq + 1,
        senderId: c.senderId,
        body: c.body,
        clientMessageId: c.clientMessageId,
        sentAt: c.now.toISOString(),
        // Absent rather than empty, so a message without photos is recorded as before.
        ...(attachments.length > 0 ? { attachments } : {}),
      },
    },
  ];
}

/**
 * The marketplace's notice: a message of kind `notice` from "system" in the room's
 * sequence. Like a send, a retry (same clientNoticeId) returns the original and an expired
 * room refuses it; blocks between the participants do not concern the marketplace.
 */
export function postNotice(command: PostNotice, state: RoomState): MessageSent[] {
  const c = command.data;
  if (state.status === 'none') throw new RoomNotFoundError(c.roomId);
  if (recentMessage(state, SYSTEM_SENDER, c.clientNoticeId) !== undefined) return [];
  requireId('clientNoticeId', c.clientNoticeId);
  requireValidText('text', c.text);
  if (state.status === 'expired') throw new RoomExpiredError(state.roomId);
  return [
    {
      type: 'MessageSent',
      data: {
        roomId: state.roomId,
        messageId: c.messageId,
        seq: state.lastSeq + 1,
        senderId: SYSTEM_SENDER,
        body: c.text,
        clientMessageId: c.clientNoticeId,
        sentAt: c.now.toISOString(),
        kind: 'notice',
      },
    },
  ];
}

/**
 * A participant reports a message they received: one report per message and reporter
 * (the same report again records nothing). Reporting works in an expired room too: abuse
 * does not stop mattering when the room goes quiet.
 */
export function reportMessage(command: ReportMessage, state: RoomState): MessageReported[] {
  const c = command.data;
  const room = participantRoom(state, c.roomId, c.reporterId);
  if (!Number.isSafeInteger(c.seq) || c.seq < 1 || c.seq > room.lastSeq || c.message === null) throw new MessageNotFoundError(room.roomId, c.seq);
  if (reportOf(room, c.seq, c.reporterId) !== undefined) return [];
  if (c.message.kind === 'notice') throw new NotReportableError("the marketplace's notices cannot be reported");
  if (c.message.senderId === c.reporterId) throw new NotReportableError('only a message you received can be reported');
  if (!reportReasons.includes(c.reason)) throw new InvalidCommandError('reason', `must be one of ${reportReasons.join(', ')}`);
  requireNote('note', c.note);
  return [
    {
      type: 'MessageReported',
      data: {
        roomId: room.roomId,
        reportId: c.reportId,
        seq: c.seq,
        reporterId: c.reporterId,
        reportedUserId: c.message.senderId,
        reason: c.reason,
        note: c.note,
        reportedAt: c.now.toISOString(),
      },
    },
  ];
}

/**
 * A moderator resolves an open report, once: the resolution records who, what, the note
 * and when; `hide_message` hides the reported message too (unless it already is). A
 * report already resolved records nothing. Suspending the sender is the user's stream's
 * business (domain/user); here it is only recorded as the resolution.
 */
export function resolveReport(command: ResolveReport, state: RoomState): (ReportResolved | MessageHidden)[] {
  const c = command.data;
  const report = state.status === 'none' || !Object.hasOwn(state.reports, c.reportId) ? undefined : state.reports[c.reportId];
  if (state.status === 'none' || report === undefined) throw new ReportNotFoundError(c.reportId);
  if (report.resolved) return [];
  if (!resolutionActions.includes(c.action)) throw new InvalidCommandError('action', `must be one of ${resolutionActions.join(', ')}`);
  requireNote('note', c.note);
  const now = c.now.toISOString();
  const resolved: ReportResolved = {
    type: 'ReportResolved',
    data: { roomId: state.roomId, reportId: c.reportId, action: c.action, note: c.note, moderatorId: c.moderatorId, resolvedAt: now },
  };
  if (c.action !== 'hide_message' || state.hiddenSeqs.includes(report.seq)) return [resolved];
  return [resolved, { type: 'MessageHidden', data: { roomId: state.roomId, seq: report.seq, reportId: c.reportId, hiddenBy: c.moderatorId, hiddenAt: now } }];
}

function requireNote(field: string, note: string): void {
  if (typeof note !== 'string' || !note.isWellFormed() || note.includes('\u0000') || codePoints(note) > MAX_NOTE_CHARACTERS) {
    throw new InvalidCommandError(field, `must be text of at most ${MAX_NOTE_CHARACTERS} characters`);
  }
}

export function markRead(command: MarkRead, state: RoomState): MessagesRead[] {
  const c = command.data;
  const room = participantRoom(state, c.roomId, c.userId);
  if (!Number.isSafeInteger(c.upToSeq) || c.upToSeq < 0) {
    throw new InvalidCommandError('upToSeq', 'must be a whole number of 0 or more');
  }
  if (c.upToSeq > room.lastSeq) {
    throw new InvalidCommandError('upToSeq', `is past the room's last message (seq ${room.lastSeq})`);
  }
  if (c.upToSeq <= (room.lastReadSeq[c.userId] ?? 0)) return [];
  return [{ type: 'MessagesRead', data: { roomId: room.roomId, userId: c.userId, upToSeq: c.upToSeq, readAt: c.now.toISOString() } }];
}

export function blockParticipant(command: BlockParticipant, state: RoomState): RoomBlocked[] {
  const c = command.data;
  const room = participantRoom(state, c.roomId, c.userId);
  if (blockedBy(room, c.userId) !== undefined) return [];
  const blockedId = otherParticipant(room, c.userId);
  return [{ type: 'RoomBlocked', data: { roomId: room.roomId, blockerId: c.userId, blockedId, blockedAt: c.now.toISOString() } }];
}

export function unblockParticipant(command: UnblockParticipant, state: RoomState): RoomUnblocked[] {
  const c = command.data;
  const room = participantRoom(state, c.roomId, c.userId);
  const unblockedId = blockedBy(room, c.userId);
  if (unblockedId === undefined) return [];
  return [
    {
      type: 'RoomUnblocked',
      data: { roomId: room.roomId, blockerId: c.userId, unblockedId, unblockedAt: c.now.toISOString() },
    },
  ];
}

export function expireRoom(command: ExpireRoom, state: RoomState): RoomExpired[] {
  const c = command.data;
  if (state.status !== 'open') return [];
  const due = expiryDue(state, c.now, c.emptyTtlMs, c.idleTtlMs);
  return due ? [{ type: 'RoomExpired', data: { roomId: state.roomId, reason: due, expiredAt: c.now.toISOString() } }] : [];
}

/**
 * The room's retention: when its last activity (a message, an opening or a reopening) is
 * at least `retentionMs` before `now` and it holds messages not yet erased by an earlier
 * retention, every one of them up to the last is erased. Open and expired rooms alike.
 */
export function elapseRetention(command: ElapseRetention, state: RoomState): RoomRetentionElapsed[] {
  const c = command.data;
  if (state.status === 'none' || state.lastSeq <= state.retainedUpToSeq) return [];
  const lastActivityAt = lastActivityOf(state);
  if (c.now.getTime() - Date.parse(lastActivityAt) < c.retentionMs) return [];
  return [
    {
      type: 'RoomRetentionElapsed',
      data: { roomId: state.roomId, upToSeq: state.lastSeq, lastActivityAt, retentionMs: c.retentionMs, elapsedAt: c.now.toISOString() },
    },
  ];
}

/**
 * Which TTL, if any, has run out at `now`: a room with no message since it was
 * (re)opened expires `emptyTtlMs` after that; otherwise `idleTtlMs` after its last message.
 */
export function expiryDue(
  room: ExistingRoom,
  now: Date,
  emptyTtlMs: number,
  idleTtlMs: number,
): 'empty' | 'idle' | null {
  if (room.lastSeq === room.activeSinceSeq || room.lastMessageAt === null) {
    return now.getTime() - Date.parse(room.activeSince) >= emptyTtlMs ? 'empty' : null;
  }
  return now.getTime() - Date.parse(room.lastMessageAt) >= idleTtlMs ? 'idle' : null;
}

function participantRoom(state: RoomState, roomId: string, userId: string): ExistingRoom {
  if (state.status === 'none' || !isParticipant(state, userId)) throw new RoomNotFoundError(roomId);
  return state;
}

function reopened(room: ExistingRoom, userId: string, now: Date): RoomReopened {
  return { type: 'RoomReopened', data: { roomId: room.roomId, reopenedBy: userId, reopenedAt: now.toISOString() } };
}

export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

function requireAttachments(attachments: readonly MessageAttachment[]): void {
  if (attachments.length > MAX_ATTACHMENTS_PER_MESSAGE) {
    throw new InvalidCommandError('attachments', `at most ${MAX_ATTACHMENTS_PER_MESSAGE} a message`);
  }
  if (new Set(attachments.map((a) => a.attachmentId)).size !== attachments.length) {
    throw new InvalidCommandError('attachments', 'names the same attachment twice');
  }
}

function requireClientMessageId(clientMessageId: string): void {
  requireId('clientMessageId', clientMessageId);
}

function requireId(field: string, id: string): void {
  const characters = codePoints(id);
  if (characters < 1 || characters > 128) throw new InvalidCommandError(field, 'must be 1 to 128 characters');
}

/**
 * 1–4000 characters, counted as Unicode code points (what a person calls a character,
 * near enough), with no trimming. "Valid text" rules out lone UTF-16 surrogates, which
 * cannot be stored as UTF-8, and NUL, which PostgreSQL text cannot hold.
 */
export function requireValidBody(body: string): void {
  requireValidText('body', body);
}

function requireValidText(field: string, body: string): void {
  if (typeof body !== 'string') throw new InvalidCommandError(field, 'must be a string');
  if (!body.isWellFormed()) throw new InvalidCommandError(field, 'must be valid Unicode text');
  if (body.includes('\u0000')) throw new InvalidCommandError(field, 'must not contain NUL characters');
  const characters = codePoints(body);
  if (characters < 1 || characters > MAX_BODY_CHARACTERS) {
    throw new InvalidCommandError(field, `must be 1 to ${MAX_BODY_CHARACTERS} characters`);
  }
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

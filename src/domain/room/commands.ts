import type { MessageAttachment } from './events';
import type { Command } from '../shared/decider';
import type { ReportReason, ResolutionAction } from './events';

/** Get-or-open: opens a new room, reopens an expired one, leaves an open one as it is. */
export type OpenRoom = Command<
  'OpenRoom',
  { roomId: string; postId: string; postTitle: string; lenderId: string; borrowerId: string; now: Date }
>;

export type SendMessage = Command<
  'SendMessage',
  {
    roomId: string;
    senderId: string;
    clientMessageId: string;
    body: string;
    /** The photos sent with it, as the application found them uploaded to this room by this sender. */
    attachments?: MessageAttachment[];
    messageId: string;
    now: Date;
  }
>;

/** The marketplace posts a notice into the room ("Booking confirmed for Saturday"): a message of kind `notice`. */
export type PostNotice = Command<
  'PostNotice',
  { roomId: string; clientNoticeId: string; text: string; messageId: string; now: Date }
>;

export type MarkRead = Command<'MarkRead', { roomId: string; userId: string; upToSeq: number; now: Date }>;

export type BlockParticipant = Command<'BlockParticipant', { roomId: string; userId: string; now: Date }>;

export type UnblockParticipant = Command<'UnblockParticipant', { roomId: string; userId: string; now: Date }>;

/** Expire the room if, at `now`, it has been quiet for longer than its TTL. */
export type ExpireRoom = Command<'ExpireRoom', { roomId: string; emptyTtlMs: number; idleTtlMs: number; now: Date }>;

/** Erase the room's messages if, at `now`, its last activity is older than the retention. */
export type ElapseRetention = Command<'ElapseRetention', { roomId: string; retentionMs: number; now: Date }>;

export type ReopenRoom = Command<'ReopenRoom', { roomId: string; userId: string; now: Date }>;

/**
 * A participant reports a message they received. `message` is the reported message's
 * sender and kind as the application found it (the room's state keeps only its latest
 * messages); null when there is no message at that seq.
 */
export type ReportMessage = Command<
  'ReportMessage',
  {
    roomId: string;
    reporterId: string;
    seq: number;
    reason: ReportReason;
    note: string;
    reportId: string;
    message: { senderId: string; kind: 'text' | 'notice' } | null;
    now: Date;
  }
>;

/** A moderator resolves a report; `hide_message` also hides the reported message. */
export type ResolveReport = Command<
  'ResolveReport',
  { roomId: string; reportId: string; action: ResolutionAction; note: string; moderatorId: string; now: Date }
>;

export type RoomCommand =
  | OpenRoom
  | SendMessage
  | PostNotice
  | MarkRead
  | BlockParticipant
  | UnblockParticipant
  | ExpireRoom
  | ElapseRetention
  | ReopenRoom
  | ReportMessage
  | ResolveReport;

import type { Event } from '../shared/decider';

export type RoomOpened = Event<
  'RoomOpened',
  {
    roomId: string;
    postId: string;
    postTitle: string;
    lenderId: string;
    borrowerId: string;
    openedAt: string;
  }
>;

export type MessageSent = Event<
  'MessageSent',
  {
    roomId: string;
    messageId: string;
    seq: number;
    senderId: string;
    body: string;
    clientMessageId: string;
    sentAt: string;
    /**
     * True when the text can no longer be read: its data key was destroyed (the sender's
     * data was erased, or the room's retention ran out). `body` is then "". Never decided:
     * the event is stored with its body sealed, and reading it back tells which it is.
     */
    erased?: true;
    /** Absent on a participant's message (`text`); `notice` on the marketplace's. */
    kind?: 'notice';
    /** The photos sent with it (absent when none): what was stored, with each rendition's SHA-256. */
    attachments?: MessageAttachment[];
  }
>;

/** One rendition of a photo as stored: its type, size, dimensions and the SHA-256 of its bytes (hex). */
export interface StoredRendition {
  contentType: string;
  bytes: number;
  width: number;
  height: number;
  sha256: string;
}

/**
 * A photo as its message records it: the image's metadata and digest, and its
 * thumbnail's, so the audit chain covers the bytes too (a swapped image no longer
 * matches its digest).
 */
export interface MessageAttachment extends StoredRendition {
  attachmentId: string;
  thumbnail: StoredRendition;
}

export type MessagesRead = Event<'MessagesRead', { roomId: string; userId: string; upToSeq: number; readAt: string }>;

export type RoomBlocked = Event<'RoomBlocked', { roomId: string; blockerId: string; blockedId: string; blockedAt: string }>;

export type RoomUnblocked = Event<
  'RoomUnblocked',
  { roomId: string; blockerId: string; unblockedId: string; unblockedAt: string }
>;

export type RoomExpiryReason = 'empty' | 'idle';

export type RoomExpired = Event<'RoomExpired', { roomId: string; reason: RoomExpiryReason; expiredAt: string }>;

export type RoomReopened = Event<'RoomReopened', { roomId: string; reopenedBy: string; reopenedAt: string }>;

export type ReportReason = 'spam' | 'scam' | 'abuse' | 'other';
export const reportReasons: readonly ReportReason[] = ['spam', 'scam', 'abuse', 'other'];

/** A participant reported a message they received. */
export type MessageReported = Event<
  'MessageReported',
  {
    roomId: string;
    reportId: string;
    seq: number;
    reporterId: string;
    /** Who sent the reported message. */
    reportedUserId: string;
    reason: ReportReason;
    /** The reporter's words; "" when none. */
    note: string;
    reportedAt: string;
  }
>;

export type ResolutionAction = 'dismiss' | 'hide_message' | 'suspend_sender';
export const resolutionActions: readonly ResolutionAction[] = ['dismiss', 'hide_message', 'suspend_sender'];

/** A moderator resolved a report: who, what they did, their note, when. */
export type ReportResolved = Event<
  'ReportResolved',
  {
    roomId: string;
    reportId: string;
    action: ResolutionAction;
    note: string;
    moderatorId: string;
    resolvedAt: string;
  }
>;

/** A moderator hid a message: the participants see it as hidden; the record keeps what it said. */
export type MessageHidden = Event<
  'MessageHidden',
  { roomId: string; seq: number; reportId: string | null; hiddenBy: string; hiddenAt: string }
>;

/**
 * The room's retention ran out (MESSAGE_RETENTION): its last activity (message, opening or
 * reopening) was longer ago than that, so every message up to `upToSeq` is erased, by
 * destroying the room's data keys (docs/privacy.md). Recorded by the scheduler, once per
 * run of messages: the room goes on, and later messages are kept until their own turn.
 */
export type RoomRetentionElapsed = Event<
  'RoomRetentionElapsed',
  { roomId: string; upToSeq: number; lastActivityAt: string; retentionMs: number; elapsedAt: string }
>;

export type RoomEvent =
  | RoomOpened
  | MessageSent
  | MessagesRead
  | RoomBlocked
  | RoomUnblocked
  | RoomExpired
  | RoomReopened
  | MessageReported
  | ReportResolved
  | MessageHidden
  | RoomRetentionElapsed;

export type RoomEventType = RoomEvent['type'];

/** One message as recorded; its public shape is MessageView (messageView.ts). */
export type Message = MessageSent['data'];

import { safetyHints, type SafetyHint } from '../safety/safetyHints';
import type { Message, MessageAttachment } from './events';

/** `text`: written by a participant; `notice`: posted by the marketplace (`senderId` "system"). */
export type MessageKind = 'text' | 'notice';

/** The sender id of the marketplace's notices. */
export const SYSTEM_SENDER = 'system';

/** A message as the participants see it: the contract's `message` object. */
export interface MessageView {
  messageId: string;
  roomId: string;
  seq: number;
  senderId: string;
  body: string;
  sentAt: string;
  clientMessageId: string;
  kind: MessageKind;
  /** Hidden by a moderator: the body is "" for the participants (auditors still read the event). */
  hidden: boolean;
  /** Erased (its sender's data, or the room's retention): the body is "" for everyone, auditors included. */
  erased: boolean;
  /** Hints for the recipient, e.g. `contact_info`; empty when none (or when hints are off). */
  safety: SafetyHint[];
  /** The photos sent with it; empty when none, or when the message is hidden. */
  attachments: AttachmentView[];
}

/** A photo as a message shows it: its metadata and the URLs a browser loads it from. */
export interface AttachmentView {
  attachmentId: string;
  contentType: string;
  bytes: number;
  width: number;
  height: number;
  sha256: string;
  url: string;
  thumbnailUrl: string;
}

export interface MessageViewOptions {
  /** SAFETY_HINTS: off leaves every message's `safety` empty. */
  safetyHints: boolean;
  /**
   * The URLs of a photo, made when the message is shown (they are signed and expire, so
   * every read gives fresh ones). Absent: the URLs are empty.
   */
  attachmentLinks?: (attachmentId: string) => { url: string; thumbnailUrl: string };
}

export const defaultMessageViewOptions: MessageViewOptions = { safetyHints: true };

function toAttachmentView(attachment: MessageAttachment, options: MessageViewOptions): AttachmentView {
  const links = options.attachmentLinks?.(attachment.attachmentId) ?? { url: '', thumbnailUrl: '' };
  return {
    attachmentId: attachment.attachmentId,
    contentType: attachment.contentType,
    bytes: attachment.bytes,
    width: attachment.width,
    height: attachment.height,
    sha256: attachment.sha256,
    ...links,
  };
}

/**
 * The one place a recorded message becomes its public shape, for the history (read
 * model) and the live frames alike, so both always agree: the hints are computed from the
 * text whenever a message is shown, never stored, so turning SAFETY_HINTS off (or a better
 * rule) applies to old messages as well. A notice carries no hints: the marketplace wrote it.
 */
export function toMessageView(message: Message, options: MessageViewOptions, hidden = false): MessageView {
  const kind = message.kind ?? 'text';
  const erased = message.erased === true;
  return {
    messageId: message.messageId,
    roomId: message.roomId,
    seq: message.seq,
    senderId: message.senderId,
    body: hidden || erased ? '' : message.body,
    sentAt: message.sentAt,
    clientMessageId: message.clientMessageId,
    kind,
    hidden,
    erased,
    safety: hidden || erased || kind !== 'text' || !options.safetyHints ? [] : safetyHints(message.body),
    attachments: hidden || erased ? [] : (message.attachments ?? []).map((attachment) => toAttachmentView(attachment, options)),
  };
}

import type { Message, MessageAttachment } from '../../domain/room';

/** A row of `rm_messages`, as selected with `messageColumns`. */
export interface MessageRow {
  room_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  body: string;
  client_message_id: string;
  sent_at: Date | string;
  kind: string;
  hidden: boolean;
  erased: boolean;
  attachments: MessageAttachment[] | string | null;
}

/** The columns of `rm_messages` a `MessageRow` holds. */
export const messageColumns = `room_id, seq, message_id, sender_id, body, client_message_id, sent_at, kind, hidden, erased, attachments`;

/**
 * The message a row records, photos included: one mapping for every read model that
 * shows messages (a room's history, a report's context), so none of them drops a field.
 */
export function messageOfRow(row: MessageRow): Message {
  return {
    messageId: row.message_id,
    roomId: row.room_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    body: row.body,
    sentAt: new Date(row.sent_at).toISOString(),
    clientMessageId: row.client_message_id,
    ...(row.kind === 'notice' ? { kind: 'notice' as const } : {}),
    ...(row.erased === true ? { erased: true as const } : {}),
    ...(row.attachments !== null
      ? { attachments: typeof row.attachments === 'string' ? (JSON.parse(row.attachments) as MessageAttachment[]) : row.attachments }
      : {}),
  };
}

import type { RoomEvent } from '../../domain/room';
import { userStreamName } from '../../domain/streams';
import type { UserEvent } from '../../domain/user';

/** The webhook event types, as the marketplace receives them (docs/webhooks.md). */
export type WebhookEventType =
  | 'message.created'
  | 'message.reported'
  | 'room.opened'
  | 'room.reopened'
  | 'room.expired'
  | 'room.blocked'
  | 'user.unread'
  | 'user.suspended'
  | 'user.reinstated';

/** A room's participants, as the notification feeder recorded them from RoomOpened. */
export interface RoomParticipants {
  roomId: string;
  postId: string;
  postTitle: string;
  lenderId: string;
  borrowerId: string;
}

export interface WebhookEvent {
  type: WebhookEventType;
  roomId: string;
  data: Record<string, unknown>;
}

/** The envelope version: a receiver refuses versions it does not know. */
export const ENVELOPE_VERSION = 1;

/**
 * What the marketplace receives, serialized once and signed as is. `id` is the
 * delivery id (also the `webhook-id` header): the same on every retry of one
 * delivery, so a receiver drops repeats by it. `eventId` is the stored event's id
 * (null for `user.unread`, which the service decides, not a user).
 */
export function webhookEnvelope(deliveryId: string, eventId: string | null, timestamp: string, event: WebhookEvent): string {
  return JSON.stringify({ version: ENVELOPE_VERSION, id: deliveryId, eventId, type: event.type, timestamp, data: event.data });
}

/** The other participant of a 1:1 room. */
export function otherParticipant(room: RoomParticipants, userId: string): string {
  return userId === room.lenderId ? room.borrowerId : room.lenderId;
}

/**
 * The webhook an event gives, if any. `room` is null only for RoomOpened (which
 * carries the participants itself); `recipientOnline` matters for MessageSent only.
 */
export function webhookEventFor(
  event: RoomEvent,
  room: RoomParticipants | null,
  options: { includeBody: boolean; recipientOnline: boolean },
): WebhookEvent | null {
  const about = room === null ? {} : { postId: room.postId, postTitle: room.postTitle, lenderId: room.lenderId, borrowerId: room.borrowerId };
  switch (event.type) {
    case 'RoomOpened': {
      const d = event.data;
      return {
        type: 'room.opened',
        roomId: d.roomId,
        data: { roomId: d.roomId, postId: d.postId, postTitle: d.postTitle, lenderId: d.lenderId, borrowerId: d.borrowerId, openedAt: d.openedAt },
      };
    }
    case 'MessageSent': {
      const d = event.data;
      // A notice is the marketplace's own message: it is not told of it again.
      if (room === null || d.kind === 'notice') return null;
      return {
        type: 'message.created',
        roomId: d.roomId,
        data: {
          roomId: d.roomId,
          ...about,
          messageId: d.messageId,
          seq: d.seq,
          senderId: d.senderId,
          recipientId: otherParticipant(room, d.senderId),
          recipientOnline: options.recipientOnline,
          ...(options.includeBody ? { body: d.body } : {}),
          sentAt: d.sentAt,
        },
      };
    }
    case 'RoomReopened':
      return { type: 'room.reopened', roomId: event.data.roomId, data: { ...event.data, ...about } };
    case 'RoomExpired':
      return { type: 'room.expired', roomId: event.data.roomId, data: { ...event.data, ...about } };
    case 'RoomBlocked':
      return { type: 'room.blocked', roomId: event.data.roomId, data: { ...event.data, ...about } };
    case 'MessageReported':
      return { type: 'message.reported', roomId: event.data.roomId, data: { ...event.data, ...about } };
    case 'MessagesRead':
    case 'RoomUnblocked':
    case 'ReportResolved':
    case 'MessageHidden':
    case 'RoomRetentionElapsed':
      return null;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** The Web Push payload for a message: the room and the sender; the body only when configured. */
export function pushPayload(event: Extract<RoomEvent, { type: 'MessageSent' }>, room: RoomParticipants, includeBody: boolean): string {
  const d = event.data;
  return JSON.stringify({
    type: 'message.created',
    roomId: d.roomId,
    postTitle: room.postTitle,
    senderId: d.senderId,
    messageId: d.messageId,
    seq: d.seq,
    sentAt: d.sentAt,
    ...(includeBody ? { body: d.body } : {}),
  });
}

/**
 * `user.suspended` and `user.reinstated`, from the user's stream. Their `roomId` is the
 * user's stream name: it only orders deliveries (one user's changes arrive in order).
 */
export function userWebhookEventFor(event: Extract<UserEvent, { type: 'UserSuspended' | 'UserReinstated' }>): WebhookEvent {
  switch (event.type) {
    case 'UserSuspended':
      return { type: 'user.suspended', roomId: userStreamName(event.data.userId), data: { ...event.data } };
    case 'UserReinstated':
      return { type: 'user.reinstated', roomId: userStreamName(event.data.userId), data: { ...event.data } };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

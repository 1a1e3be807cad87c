import { pushPayload, webhookEnvelope, webhookEventFor, type RoomParticipants } from '../../../src/application/notifications/webhookEvents';
import type { MessageSent, RoomEvent } from '../../../src/domain/room';

const room: RoomParticipants = { roomId: 'r1', postId: 'p1', postTitle: 'Drill', lenderId: 'lena', borrowerId: 'bob' };
const message: MessageSent = {
  type: 'MessageSent',
  data: { roomId: 'r1', messageId: 'm1', seq: 4, senderId: 'bob', body: 'tomorrow at 9?', clientMessageId: 'c1', sentAt: '2026-01-01T10:00:00.000Z' },
};

describe('what the marketplace is sent for each event', () => {
  it('names the recipient of a message and whether they were online, with the body unless told not to', () => {
    expect(webhookEventFor(message, room, { includeBody: true, recipientOnline: false })?.data).toMatchObject({
      recipientId: 'lena',
      senderId: 'bob',
      recipientOnline: false,
      body: 'tomorrow at 9?',
    });
    expect(webhookEventFor(message, room, { includeBody: false, recipientOnline: true })?.data).not.toHaveProperty('body');
  });

  it('sends nothing for a notice: the marketplace posted it itself', () => {
    const notice: MessageSent = { ...message, data: { ...message.data, senderId: 'system', kind: 'notice' } };
    expect(webhookEventFor(notice, room, { includeBody: true, recipientOnline: false })).toBeNull();
  });

  it('sends room.opened, reopened, expired and blocked, and nothing for reads and unblocks', () => {
    const events: RoomEvent[] = [
      { type: 'RoomOpened', data: { roomId: 'r1', postId: 'p1', postTitle: 'Drill', lenderId: 'lena', borrowerId: 'bob', openedAt: 't' } },
      { type: 'RoomReopened', data: { roomId: 'r1', reopenedBy: 'bob', reopenedAt: 't' } },
      { type: 'RoomExpired', data: { roomId: 'r1', reason: 'idle', expiredAt: 't' } },
      { type: 'RoomBlocked', data: { roomId: 'r1', blockerId: 'lena', blockedId: 'bob', blockedAt: 't' } },
      { type: 'MessagesRead', data: { roomId: 'r1', userId: 'lena', upToSeq: 4, readAt: 't' } },
      { type: 'RoomUnblocked', data: { roomId: 'r1', blockerId: 'lena', unblockedId: 'bob', unblockedAt: 't' } },
    ];
    const types = events.map((e) => webhookEventFor(e, e.type === 'RoomOpened' ? null : room, { includeBody: true, recipientOnline: false })?.type ?? null);
    expect(types).toEqual(['room.opened', 'room.reopened', 'room.expired', 'room.blocked', null, null]);
  });

  it('wraps each event in a versioned envelope carrying the delivery id and the event id', () => {
    const event = webhookEventFor(message, room, { includeBody: true, recipientOnline: false });
    expect(JSON.parse(webhookEnvelope('d1', 'e1', '2026-01-01T10:00:00.000Z', event!))).toEqual({
      version: 1,
      id: 'd1',
      eventId: 'e1',
      type: 'message.created',
      timestamp: '2026-01-01T10:00:00.000Z',
      data: expect.objectContaining({ roomId: 'r1', seq: 4 }),
    });
  });

  it('puts the room and the sender in a push, and the body only when configured', () => {
    expect(JSON.parse(pushPayload(message, room, false))).toEqual({
      type: 'message.created',
      roomId: 'r1',
      postTitle: 'Drill',
      senderId: 'bob',
      messageId: 'm1',
      seq: 4,
      sentAt: '2026-01-01T10:00:00.000Z',
    });
    expect(JSON.parse(pushPayload(message, room, true)).body).toBe('tomorrow at 9?');
  });
});

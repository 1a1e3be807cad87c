import type { Message, RoomEvent } from './events';

export type RoomStatus = 'open' | 'expired';

interface RoomFacts {
  roomId: string;
  postId: string;
  postTitle: string;
  lenderId: string;
  borrowerId: string;
  openedAt: string;
  /** When the room was last opened or reopened: the empty-room TTL counts from here. */
  activeSince: string;
  /**
   * lastSeq when the room was last (re)opened: a room whose lastSeq is still this has had
   * no message since. Counted, not compared by time, so servers' clock skew cannot blur it.
   */
  activeSinceSeq: number;
  lastMessageAt: string | null;
  lastSeq: number;
  /** Every message by `sender\u0000clientMessageId`, so a retried send returns its original. */
  messagesByClientId: ReadonlyMap<string, Message>;
  /** Who has blocked whom: blockerId → blockedId. */
  blocks: ReadonlyMap<string, string>;
  lastReadSeq: Readonly<Record<string, number>>;
}

export type RoomState =
  | { status: 'none' }
  | (RoomFacts & { status: 'open' })
  | (RoomFacts & { status: 'expired'; expiredAt: string });

export type ExistingRoom = Exclude<RoomState, { status: 'none' }>;

export const initialRoomState = (): RoomState => ({ status: 'none' });

export function clientMessageKey(senderId: string, clientMessageId: string): string {
  return `${senderId}\u0000${clientMessageId}`;
}

export function isParticipant(room: ExistingRoom, userId: string): boolean {
  return room.lenderId === userId || room.borrowerId === userId;
}

export function otherParticipant(room: ExistingRoom, userId: string): string {
  return room.lenderId === userId ? room.borrowerId : room.lenderId;
}

export function evolveRoom(state: RoomState, event: RoomEvent): RoomState {
  if (event.type === 'RoomOpened') {
    const d = event.data;
    return {
      status: 'open',
      roomId: d.roomId,
      postId: d.postId,
      postTitle: d.postTitle,
      lenderId: d.lenderId,
      borrowerId: d.borrowerId,
      openedAt: d.openedAt,
      activeSince: d.openedAt,
      activeSinceSeq: 0,
      lastMessageAt: null,
      lastSeq: 0,
      messagesByClientId: new Map(),
      blocks: new Map(),
      lastReadSeq: { [d.lenderId]: 0, [d.borrowerId]: 0 },
    };
  }
  // Every other event is about an existing room; a stream that says otherwise is ignored, not trusted.
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'MessageSent': {
      const messages = new Map(state.messagesByClientId);
      messages.set(clientMessageKey(event.data.senderId, event.data.clientMessageId), event.data);
      return { ...state, lastSeq: event.data.seq, lastMessageAt: event.data.sentAt, messagesByClientId: messages };
    }
    case 'MessagesRead':
      return { ...state, lastReadSeq: { ...state.lastReadSeq, [event.data.userId]: event.data.upToSeq } };
    case 'RoomBlocked': {
      const blocks = new Map(state.blocks);
      blocks.set(event.data.blockerId, event.data.blockedId);
      return { ...state, blocks };
    }
    case 'RoomUnblocked': {
      const blocks = new Map(state.blocks);
      blocks.delete(event.data.blockerId);
      return { ...state, blocks };
    }
    case 'RoomExpired': {
      const { status: _status, ...facts } = state;
      return { ...facts, status: 'expired', expiredAt: event.data.expiredAt };
    }
    case 'RoomReopened': {
      const { status: _status, ...rest } = state;
      const facts = 'expiredAt' in rest ? dropExpiredAt(rest) : rest;
      return { ...facts, status: 'open', activeSince: event.data.reopenedAt, activeSinceSeq: facts.lastSeq };
    }
    default: {
      // An event type this version does not know (written by a newer one) leaves the state as it is.
      const _exhaustive: never = event;
      return state;
    }
  }
}

function dropExpiredAt<T extends { expiredAt: string }>(facts: T): Omit<T, 'expiredAt'> {
  const { expiredAt: _expiredAt, ...rest } = facts;
  return rest;
}

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
  /**
   * The room's last RECENT_MESSAGES messages, oldest first, so a retried send returns
   * its original and is answered before the room's other rules. Bounded, so folding
   * a message costs the same in a room of ten messages or of a million. A retry older
   * than this window is caught by the event store instead (see roomCommands.ts).
   */
  recentMessages: readonly Message[];
  /** The last seq the room's retention erased (RoomRetentionElapsed); 0 when none. */
  retainedUpToSeq: number;
  /** The room's reports, by reportId: one per message and reporter. */
  reports: Readonly<Record<string, RoomReport>>;
  /** The seqs a moderator hid. */
  hiddenSeqs: readonly number[];
  /** Who has blocked whom: blockerId → blockedId. */
  blocks: Readonly<Record<string, string>>;
  lastReadSeq: Readonly<Record<string, number>>;
}

export interface RoomReport {
  seq: number;
  reporterId: string;
  reportedUserId: string;
  resolved: boolean;
}

/** The report `reporterId` made of the message at `seq`, if any. */
export function reportOf(room: ExistingRoom, seq: number, reporterId: string): string | undefined {
  for (const [reportId, report] of Object.entries(room.reports)) {
    if (report.seq === seq && report.reporterId === reporterId) return reportId;
  }
  return undefined;
}

export type RoomState =
  | { status: 'none' }
  | (RoomFacts & { status: 'open' })
  | (RoomFacts & { status: 'expired'; expiredAt: string });

export type ExistingRoom = Exclude<RoomState, { status: 'none' }>;

export const initialRoomState = (): RoomState => ({ status: 'none' });

/** Whom `blockerId` blocks in this room, if anyone (own keys only: user ids are arbitrary strings). */
export function blockedBy(room: ExistingRoom, blockerId: string): string | undefined {
  return Object.hasOwn(room.blocks, blockerId) ? room.blocks[blockerId] : undefined;
}

/** How many of a room's latest messages its state keeps for answering retries. */
export const RECENT_MESSAGES = 32;

/** The message `senderId` sent with `clientMessageId`, if it is among the room's recent ones. */
export function recentMessage(room: ExistingRoom, senderId: string, clientMessageId: string): Message | undefined {
  const recent = room.recentMessages;
  for (let i = recent.length - 1; i >= 0; i -= 1) {
    const message = recent[i] as Message;
    if (message.clientMessageId === clientMessageId && message.senderId === senderId) return message;
  }
  return undefined;
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
      recentMessages: [],
      retainedUpToSeq: 0,
      reports: {},
      hiddenSeqs: [],
      blocks: {},
      lastReadSeq: { [d.lenderId]: 0, [d.borrowerId]: 0 },
    };
  }
  // Every other event is about an existing room; a stream that says otherwise is ignored, not trusted.
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'MessageSent': {
      const kept = state.recentMessages.length >= RECENT_MESSAGES ? state.recentMessages.slice(1 - RECENT_MESSAGES) : state.recentMessages;
      return { ...state, lastSeq: event.data.seq, lastMessageAt: event.data.sentAt, recentMessages: [...kept, event.data] };
    }
    case 'MessagesRead':
      return { ...state, lastReadSeq: { ...state.lastReadSeq, [event.data.userId]: event.data.upToSeq } };
    case 'RoomBlocked':
      return { ...state, blocks: { ...state.blocks, [event.data.blockerId]: event.data.blockedId } };
    case 'RoomUnblocked': {
      const { [event.data.blockerId]: _unblocked, ...blocks } = state.blocks;
      return { ...state, blocks };
    }
    case 'MessageReported': {
      const d = event.data;
      const report: RoomReport = { seq: d.seq, reporterId: d.reporterId, reportedUserId: d.reportedUserId, resolved: false };
      return { ...state, reports: { ...state.reports, [d.reportId]: report } };
    }
    case 'ReportResolved': {
      const report = Object.hasOwn(state.reports, event.data.reportId) ? state.reports[event.data.reportId] : undefined;
      if (report === undefined) return state;
      return { ...state, reports: { ...state.reports, [event.data.reportId]: { ...report, resolved: true } } };
    }
    case 'MessageHidden':
      return state.hiddenSeqs.includes(event.data.seq) ? state : { ...state, hiddenSeqs: [...state.hiddenSeqs, event.data.seq] };
    case 'RoomRetentionElapsed': {
      // What the retention erased is erased in the state too, so a retry, a snapshot or a
      // cached state holds no trace of its text.
      const upTo = event.data.upToSeq;
      return {
        ...state,
        retainedUpToSeq: Math.max(state.retainedUpToSeq, upTo),
        recentMessages: state.recentMessages.map((message) => (message.seq <= upTo ? erasedInState(message) : message)),
      };
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

/** A message as the erased show: seq, ids, sender and time stay; its words and photos are gone. */
export function erasedInState(message: Message): Message {
  const { body: _body, attachments: _attachments, ...rest } = message;
  return { ...rest, body: '', erased: true };
}

/** When the room was last active: its last message, or its last (re)opening if that came later. */
export function lastActivityOf(room: ExistingRoom): string {
  if (room.lastMessageAt === null) return room.activeSince;
  return Date.parse(room.lastMessageAt) >= Date.parse(room.activeSince) ? room.lastMessageAt : room.activeSince;
}

function dropExpiredAt<T extends { expiredAt: string }>(facts: T): Omit<T, 'expiredAt'> {
  const { expiredAt: _expiredAt, ...rest } = facts;
  return rest;
}

import { decodeRoomEvent } from '../../domain/events';
import { evolveRoom, initialRoomState, roomStreamName, type Message, type RoomState } from '../../domain/room';
import type { EventStore } from '../ports/eventStore';
import { noMessageReader, type AuditMessageReader } from '../privacy/auditContent';
import { streamEvents } from './records';

/** A room as it stood at one instant: what the participants could see then, and who had blocked whom. */
export interface RoomAtView {
  roomId: string;
  /** The instant asked for. */
  at: string;
  /** The last revision folded in: the state is that of revisions 0 to this. */
  asOfRevision: number;
  status: 'open' | 'expired';
  postId: string;
  postTitle: string;
  lenderId: string;
  borrowerId: string;
  participants: [string, string];
  openedAt: string;
  expiredAt: string | null;
  blocks: Array<{ blockerId: string; blockedId: string }>;
  lastReadSeq: Record<string, number>;
  /** Sealed ones opened: `erased` (body "") when the key is gone, with `storedDigest`, the SHA-256 of what is stored. */
  messages: AuditedMessage[];
}

export type AuditedMessage = Omit<Message, 'erased'> & { erased?: boolean; storedDigest?: string };

export type RoomAtResult = { found: true; room: RoomAtView } | { found: false; reason: 'no_room' | 'not_yet_open' };

/**
 * Folds the room's events with the domain's own evolve, up to the last event recorded at
 * or before `at` (by `metadata.recordedAt`). The fold stops at the first later event, so
 * the state is always a prefix of the stream, as the room really went through it.
 */
export async function roomAt(
  eventStore: EventStore,
  roomId: string,
  at: Date,
  readMessages: AuditMessageReader = noMessageReader,
): Promise<RoomAtResult> {
  let state: RoomState = initialRoomState();
  let asOfRevision = -1;
  let seen = false;
  // The domain's state keeps only a room's recent messages (enough to decide); the audit view wants all of them.
  const messages: AuditedMessage[] = [];
  for await (const event of streamEvents(eventStore, roomStreamName(roomId))) {
    seen = true;
    if (Date.parse(String(event.metadata.recordedAt)) > at.getTime()) break;
    const roomEvent = decodeRoomEvent(event);
    if (roomEvent === null) continue;
    const before = state.status;
    state = evolveRoom(state, roomEvent);
    if (roomEvent.type === 'MessageSent' && before !== 'none') {
      const [content] = await readMessages([event]);
      if (content === undefined) messages.push(roomEvent.data);
      else {
        const { sealedBody: _sealed, ...fields } = roomEvent.data as Message & { sealedBody?: unknown };
        messages.push({ ...fields, body: content.body, erased: content.erased, storedDigest: content.storedDigest });
      }
    }
    asOfRevision = Number(event.streamRevision);
  }
  if (!seen) return { found: false, reason: 'no_room' };
  if (state.status === 'none') return { found: false, reason: 'not_yet_open' };
  return {
    found: true,
    room: {
      roomId: state.roomId,
      at: at.toISOString(),
      asOfRevision,
      status: state.status,
      postId: state.postId,
      postTitle: state.postTitle,
      lenderId: state.lenderId,
      borrowerId: state.borrowerId,
      participants: [state.lenderId, state.borrowerId],
      openedAt: state.openedAt,
      expiredAt: state.status === 'expired' ? state.expiredAt : null,
      blocks: Object.entries(state.blocks).map(([blockerId, blockedId]) => ({ blockerId, blockedId })),
      lastReadSeq: { ...state.lastReadSeq },
      messages,
    },
  };
}

import type { ChatQueries } from '../../application/ports/readModels';
import { ApiError } from '../http/errors';
import type { Connection } from './connection';

/** Messages read per page while replaying. */
export const REPLAY_PAGE = 200;

/**
 * Replays every message of `roomId` after `afterSeq` from the read model, page by page,
 * then the live messages that arrived meanwhile, then `resumed`. Live messages for the
 * room are held from the moment the resume frame arrived; before reading, the read
 * model is brought up to everything the live side had pushed by then (`livePushed`).
 * So each message is either in a page read here or reaches the connection live later
 * (held back until the replay ends); the connection's per-room last seq drops the ones
 * that are both.
 */
export async function resumeRoom(
  connection: Connection,
  queries: ChatQueries,
  livePushed: () => Promise<void>,
  roomId: string,
  afterSeq: number,
): Promise<void> {
  await livePushed();
  const room = await queries.getRoom(roomId, connection.userId);
  if (room === null) throw new ApiError('not_found', `room ${roomId} not found`);
  const lastKnown = room.lastMessage?.seq ?? 0;
  if (afterSeq > lastKnown) {
    throw new ApiError('bad_request', `afterSeq: is past the room's last message (seq ${lastKnown})`);
  }
  connection.startReplay(roomId, afterSeq);
  try {
    let after = afterSeq;
    for (;;) {
      const page = await queries.getMessages(roomId, { after, limit: REPLAY_PAGE });
      for (const message of page.messages) {
        if (!connection.isOpen) return;
        await connection.replay(message);
        after = message.seq;
      }
      if (!page.hasMore || page.messages.length === 0) break;
    }
  } catch (error) {
    connection.abandonReplay(roomId);
    throw error;
  }
  const lastSeq = connection.finishReplay(roomId);
  connection.send({ type: 'resumed', roomId, lastSeq });
}

import { InvalidCommandError, RoomNotFoundError, type MessageView } from '../../domain/room';
import type { ChatQueries } from '../ports/readModels';
import type { FairTurns } from './fairTurns';

/** Messages read and sent per turn of a replay. */
export const REPLAY_PAGE = 100;

/**
 * A client connection as a replay sees it: it is given the room's missed messages, in
 * order, each once, while live messages for the room wait (see ws/roomDelivery.ts).
 */
export interface ReplayTarget {
  readonly userId: string;
  readonly isOpen: boolean;
  /** Live messages for the room wait from now until `finishReplay`. */
  startReplay(roomId: string, afterSeq: number): void;
  /** Hands one replayed message to the network (skipped if already given). */
  replay(message: MessageView): void;
  /** Resolves once the client has taken enough of what was handed over to be given more. */
  readyForMore(): Promise<void>;
  /** What arrived live meanwhile follows, in order; returns the last seq given. */
  finishReplay(roomId: string): number;
  /** A replay that broke off: drop its hold (the connection is being closed). */
  abandonReplay(roomId: string): void;
}

export interface ResumeDeps {
  queries: ChatQueries;
  /** Resolves once the read models hold every message already pushed live. */
  livePushed(): Promise<void>;
  /** Replays take turns, page by page and user by user, so no one's replays hold up the others. */
  turns: FairTurns;
}

/**
 * `resume`: gives the client every message of `roomId` after `afterSeq` from the read
 * model, page by page, then the live messages that arrived meanwhile, and returns the
 * last seq given. Live messages for the room are held from before the first read; the
 * read model is first brought up to everything the live side had pushed by then. So
 * each message is either in a page read here or reaches the connection live later
 * (held back until the replay ends), and the target drops the ones that are both.
 * Throws `RoomNotFoundError` for a room the user is not part of and `InvalidCommandError`
 * for an `afterSeq` past the room's last message.
 */
export async function resumeRoom(deps: ResumeDeps, target: ReplayTarget, roomId: string, afterSeq: number): Promise<number | null> {
  await deps.livePushed();
  const room = await deps.queries.getRoom(roomId, target.userId);
  if (room === null) throw new RoomNotFoundError(roomId);
  const lastKnown = room.lastMessage?.seq ?? 0;
  if (afterSeq > lastKnown) throw new InvalidCommandError('afterSeq', `is past the room's last message (seq ${lastKnown})`);
  target.startReplay(roomId, afterSeq);
  try {
    let after = afterSeq;
    for (;;) {
      // One page per turn: read it and hand it over, then let others have the process.
      const page = await deps.turns.take(target.userId, async () => {
        if (!target.isOpen) return null;
        const read = await deps.queries.getMessages(roomId, { after, limit: REPLAY_PAGE });
        for (const message of read.messages) target.replay(message);
        return read;
      });
      if (page === null) return null;
      const last = page.messages.at(-1);
      if (!page.hasMore || last === undefined) break;
      after = last.seq;
      // A slow reader paces its own replay, outside the turn, so it holds up no one else.
      await target.readyForMore();
    }
  } catch (error) {
    target.abandonReplay(roomId);
    throw error;
  }
  return target.finishReplay(roomId);
}

import { RoomExpiredError, RoomNotFoundError } from '../../domain/room';
import { blocks, type RoomDirectory } from '../ports/roomDirectory';
import type { TypingSignals } from '../ports/typingSignals';

export interface SendTypingDeps {
  directory: Pick<RoomDirectory, 'access'>;
  typing: Pick<TypingSignals, 'publish'>;
}

/**
 * "`userId` is typing in `roomId`", passed on to the other participant wherever they are
 * connected. Typing is a hint and never recorded, so the room is judged from the read
 * model, not its stream. Refused as a message would be: a stranger (or an unknown room)
 * gets RoomNotFoundError, an expired room RoomExpiredError. A signal to someone who
 * blocks the typist goes nowhere, and the typist is not told.
 */
export async function sendTyping(deps: SendTypingDeps, roomId: string, userId: string): Promise<void> {
  const room = await deps.directory.access(roomId);
  if (room === null || (room.lenderId !== userId && room.borrowerId !== userId)) throw new RoomNotFoundError(roomId);
  if (room.status === 'expired') throw new RoomExpiredError(roomId);
  const other = room.lenderId === userId ? room.borrowerId : room.lenderId;
  if (blocks(room, other, userId)) return;
  await deps.typing.publish({ roomId, userId, toUserId: other });
}

/**
 * Who takes part in a room and who blocks whom, for the live side: fan-out needs
 * the participants of a room from events that name only one of them (MessageSent,
 * RoomExpired), and typing needs the blocks. Read from the projected read model,
 * which the live feed guarantees already holds every event it hands out.
 */
export interface RoomAccess {
  roomId: string;
  lenderId: string;
  borrowerId: string;
  status: 'open' | 'expired';
  /** blockerId → blockedId, for each participant who currently blocks the other. */
  blocks: Readonly<Record<string, string>>;
}

export interface RoomDirectory {
  /** Null when the room does not exist (in the read model yet). */
  access(roomId: string): Promise<RoomAccess | null>;
  /** Every room `userId` takes part in, with both participants (an erasure tells the others). Absent: none known. */
  roomsOf?(userId: string): Promise<Array<{ roomId: string; lenderId: string; borrowerId: string }>>;
}

/** Whether `userId` currently blocks `otherId` in this room. */
export function blocks(room: RoomAccess, userId: string, otherId: string): boolean {
  return room.blocks[userId] === otherId;
}

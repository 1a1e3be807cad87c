import type { ServerFrame } from './frames';

/**
 * Why a room's live frames are held back instead of sent, besides the connection's
 * opening warm-up: a `resume` frame received and not yet handled, a replay under way.
 */
export type HoldReason = 'resume' | 'replay';

/** One frame to go out in `seq` order for its room. */
export interface OrderedFrame {
  seq: number;
  frame: ServerFrame;
  /** A `message` frame is skipped when its seq was already given; an `ack` never is. */
  kind: 'message' | 'ack';
}

interface Room {
  /** The highest seq this connection has been given for the room (null: none yet). */
  lastSeq: number | null;
  /** Live frames waiting while the room is held. */
  held: OrderedFrame[];
  /** Holds by reason: the room is held while any count is above zero. */
  holds: Record<HoldReason, number>;
  /** A replay of this room has finished: the connection's warm-up no longer holds it. */
  warmedUp: boolean;
}

/**
 * One connection's per-room ordered delivery: each room's messages go out in seq order,
 * each once. A room is held while anything needs its live frames to wait (the
 * connection's opening warm-up, `resume` frames not yet handled, a replay under way);
 * holds are counted by reason and released in one place (`flush`), which sends what
 * waited, in order, skipping what the client was already given. Knows nothing of
 * sockets: frames leave through `send`.
 */
export class RoomDelivery {
  private readonly rooms = new Map<string, Room>();
  private warming: boolean;

  constructor(
    private readonly send: (frame: ServerFrame) => void,
    options: { warming: boolean },
  ) {
    this.warming = options.warming;
  }

  /** A live frame for the room: out now, or held in order. */
  deliver(roomId: string, item: OrderedFrame): void {
    const room = this.room(roomId);
    if (this.isHeld(room)) room.held.push(item);
    else this.emit(room, item);
  }

  hold(roomId: string, reason: HoldReason): void {
    this.room(roomId).holds[reason] += 1;
  }

  /** Ends one hold; when none is left, what waited goes out in order. */
  release(roomId: string, reason: HoldReason): void {
    const room = this.rooms.get(roomId);
    if (room === undefined) return;
    room.holds[reason] = Math.max(0, room.holds[reason] - 1);
    this.flush(roomId, room);
  }

  /** The opening warm-up is over: every room not held otherwise lets its frames go. */
  endWarmup(): void {
    if (!this.warming) return;
    this.warming = false;
    for (const [roomId, room] of [...this.rooms]) this.flush(roomId, room);
  }

  get isWarming(): boolean {
    return this.warming;
  }

  /** A replay of the room after `afterSeq` begins: live frames wait until `finishReplay`. */
  startReplay(roomId: string, afterSeq: number): void {
    const room = this.room(roomId);
    room.lastSeq = afterSeq;
    room.holds.replay += 1;
  }

  /** Whether a replayed message is new to the client (then counted as given). */
  takeReplayed(roomId: string, seq: number): boolean {
    const room = this.room(roomId);
    if (room.lastSeq !== null && seq <= room.lastSeq) return false;
    room.lastSeq = seq;
    return true;
  }

  /**
   * The replay is done: what arrived live meanwhile follows now, before the `resumed`
   * frame, even though the resume's own hold is released only after it; the warm-up no
   * longer holds the room. Returns the last seq given.
   */
  finishReplay(roomId: string): number {
    const room = this.room(roomId);
    room.holds.replay = Math.max(0, room.holds.replay - 1);
    room.warmedUp = true;
    this.flush(roomId, room, { despiteResumes: true });
    return room.lastSeq ?? 0;
  }

  /** A replay that failed: its hold and what waited are dropped (the connection is closing). */
  abandonReplay(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (room === undefined) return;
    room.holds.replay = 0;
    room.held = [];
  }

  /** Counts `seq` as given without sending anything (an ack sent ahead of its turn). */
  markGiven(roomId: string, seq: number): void {
    const room = this.room(roomId);
    if (!this.isHeld(room)) room.lastSeq = Math.max(room.lastSeq ?? 0, seq);
  }

  /** Rooms with state kept (for tests and bounds). */
  get size(): number {
    return this.rooms.size;
  }

  private isHeld(room: Room, options: { despiteResumes?: boolean } = {}): boolean {
    return (this.warming && !room.warmedUp) || (room.holds.resume > 0 && options.despiteResumes !== true) || room.holds.replay > 0;
  }

  private flush(roomId: string, room: Room, options: { despiteResumes?: boolean } = {}): void {
    if (this.isHeld(room, options)) return;
    const held = room.held;
    room.held = [];
    for (const item of held) this.emit(room, item);
    // Nothing given and nothing waiting (e.g. a refused resume for a made-up room): keep no entry.
    if (room.lastSeq === null && room.held.length === 0 && room.holds.resume === 0 && room.holds.replay === 0) this.rooms.delete(roomId);
  }

  private emit(room: Room, item: OrderedFrame): void {
    if (item.kind === 'message' && room.lastSeq !== null && item.seq <= room.lastSeq) return;
    this.send(item.frame);
    room.lastSeq = Math.max(room.lastSeq ?? 0, item.seq);
  }

  private room(roomId: string): Room {
    let room = this.rooms.get(roomId);
    if (room === undefined) {
      room = { lastSeq: null, held: [], holds: { resume: 0, replay: 0 }, warmedUp: false };
      this.rooms.set(roomId, room);
    }
    return room;
  }
}

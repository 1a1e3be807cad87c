import type { Message } from './types.js';

/**
 * One room's delivery order: hands messages on strictly by seq, each once, whatever
 * order or how many times they arrive (live, replayed by a resume, acked, fetched over
 * HTTP). A message past a gap is held until the gap is filled.
 */
export class RoomTimeline {
  private readonly held = new Map<number, Message>();

  constructor(private lastSeq: number) {}

  /** The highest seq handed on: everything up to it has been delivered, in order. */
  get last(): number {
    return this.lastSeq;
  }

  /** Whether a message is waiting for an earlier one. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  /** The messages deliverable now, in order; empty for a duplicate or a message past a gap. */
  accept(message: Message): Message[] {
    if (message.seq <= this.lastSeq) return [];
    this.held.set(message.seq, message);
    const ready: Message[] = [];
    for (let next = this.held.get(this.lastSeq + 1); next !== undefined; next = this.held.get(this.lastSeq + 1)) {
      this.held.delete(next.seq);
      this.lastSeq = next.seq;
      ready.push(next);
    }
    return ready;
  }
}

/** Every followed room's timeline. */
export class Timelines {
  private readonly rooms = new Map<string, RoomTimeline>();

  /** Starts following a room after `afterSeq`; a room already followed keeps its place. True when new. */
  follow(roomId: string, afterSeq: number): boolean {
    if (this.rooms.has(roomId)) return false;
    this.rooms.set(roomId, new RoomTimeline(afterSeq));
    return true;
  }

  get(roomId: string): RoomTimeline | undefined {
    return this.rooms.get(roomId);
  }

  /** A message of a room not followed yet starts its timeline just before it. */
  accept(message: Message): { ready: Message[]; gap: boolean } {
    let timeline = this.rooms.get(message.roomId);
    if (timeline === undefined) this.rooms.set(message.roomId, (timeline = new RoomTimeline(message.seq - 1)));
    const ready = timeline.accept(message);
    return { ready, gap: timeline.hasGap };
  }

  entries(): Array<[string, RoomTimeline]> {
    return [...this.rooms];
  }
}

import type { RecordedEvent } from '../ports/eventStore';

interface Preceding {
  revision: bigint | 'no_stream';
  checkpoint: string | null;
}

interface Held {
  event: RecordedEvent;
  preceding: Preceding;
}

interface StreamProgress {
  /** The highest revision handed out (null: not known, e.g. nothing of it seen since start-up). */
  handedOut: bigint | null;
  /** Local events waiting for the event before them, by that event's revision. */
  held: Map<bigint | 'no_stream', Held>;
}

/**
 * Merges two sources of one store's events into one order per stream, each event once:
 * the store feed (every event, in global order) and the local path (this process's own
 * commits, as soon as they commit, possibly ahead of the feed).
 *
 * A local event goes out at once when the event before it in its stream has gone out,
 * or when the store feed has already passed that event's checkpoint (it went out, or
 * it was committed before the feed started). Otherwise it waits for the event before
 * it, from either source. A store event goes out unless its revision has gone out
 * already; then any local event waiting for it follows. Memory: one small entry per
 * recently active stream (least recently used dropped past `maxStreams`; a dropped
 * stream falls back on the feed's checkpoint rule), plus the local events waiting.
 */
export class StreamOrder {
  private readonly streams = new Map<string, StreamProgress>();
  /** The checkpoint of the last event the store feed delivered (null: none yet). */
  private feedPosition: string | null = null;
  /** Streams with local events waiting: checked when the feed moves on. */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly handOut: (event: RecordedEvent) => void,
    private readonly maxStreams: number,
  ) {}

  fromStore(event: RecordedEvent): void {
    this.feedPosition = event.checkpoint;
    const stream = this.progress(event.streamId);
    if (stream.handedOut === null || event.streamRevision > stream.handedOut) this.emit(event.streamId, stream, event);
    if (this.waiting.size > 0) this.releaseBehindFeed();
  }

  fromLocal(event: RecordedEvent, preceding: Preceding): void {
    const stream = this.progress(event.streamId);
    if (stream.handedOut !== null && event.streamRevision <= stream.handedOut) return;
    if (this.mayGo(stream, preceding)) {
      this.emit(event.streamId, stream, event);
      return;
    }
    stream.held.set(preceding.revision, { event, preceding });
    this.waiting.add(event.streamId);
  }

  private mayGo(stream: StreamProgress, preceding: Preceding): boolean {
    if (preceding.revision === 'no_stream') return stream.handedOut === null;
    if (stream.handedOut !== null) return stream.handedOut === preceding.revision;
    return preceding.checkpoint !== null && this.feedPosition !== null && preceding.checkpoint <= this.feedPosition;
  }

  /** Hands out `event`, then every held event that was waiting for it, in turn. */
  private emit(streamId: string, stream: StreamProgress, event: RecordedEvent): void {
    let next: RecordedEvent | undefined = event;
    while (next !== undefined) {
      stream.handedOut = next.streamRevision;
      this.handOut(next);
      const waiting = stream.held.get(next.streamRevision);
      stream.held.delete(next.streamRevision);
      next = waiting?.event;
    }
    // Anything still held is now behind what went out (its copy came from the store).
    for (const revision of [...stream.held.keys()]) {
      const held = stream.held.get(revision) as Held;
      if (held.event.streamRevision <= (stream.handedOut as bigint)) stream.held.delete(revision);
    }
    if (stream.held.size === 0) this.waiting.delete(streamId);
  }

  /** Local events of streams the feed has now passed (streams not tracked when they came). */
  private releaseBehindFeed(): void {
    for (const streamId of [...this.waiting]) {
      const stream = this.streams.get(streamId);
      if (stream === undefined) {
        this.waiting.delete(streamId);
        continue;
      }
      if (stream.handedOut !== null) continue;
      for (const held of stream.held.values()) {
        if (this.mayGo(stream, held.preceding)) {
          stream.held.delete(held.preceding.revision);
          this.emit(streamId, stream, held.event);
          break;
        }
      }
    }
  }

  private progress(streamId: string): StreamProgress {
    let stream = this.streams.get(streamId);
    if (stream !== undefined) {
      this.streams.delete(streamId);
      this.streams.set(streamId, stream);
      return stream;
    }
    stream = { handedOut: null, held: new Map() };
    this.streams.set(streamId, stream);
    if (this.streams.size > this.maxStreams) {
      for (const [oldest, progress] of this.streams) {
        if (this.streams.size <= this.maxStreams) break;
        // A stream with local events still waiting is kept: dropping it would lose them.
        if (progress.held.size > 0) continue;
        this.streams.delete(oldest);
      }
    }
    return stream;
  }
}

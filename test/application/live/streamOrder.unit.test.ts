import fc from 'fast-check';
import { NO_PREVIOUS_HASH, type RecordedEvent } from '../../../src/application/ports/eventStore';
import { encodeCheckpoint } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { StreamOrder } from '../../../src/application/live/streamOrder';

/**
 * The live feed's merge of the local path (this process's commits, as they commit) and
 * the store feed (every event, in global order): whatever the interleaving, each
 * stream's events go out in revision order, each once, and none is left behind once
 * the store feed has delivered everything.
 */

interface Step {
  kind: 'local' | 'store';
  index: number;
}

function history(streams: number, perStream: number[], order: number[]): RecordedEvent[] {
  // `order` lists stream numbers: the global commit order of their events.
  const next = Array.from({ length: streams }, () => 0);
  const events: RecordedEvent[] = [];
  for (const stream of order) {
    if ((next[stream] as number) >= (perStream[stream] as number)) continue;
    const revision = BigInt(next[stream] as number);
    next[stream] = (next[stream] as number) + 1;
    const position = BigInt(events.length + 1);
    events.push({
      streamId: `room-${stream}`,
      streamRevision: revision,
      globalPosition: position,
      checkpoint: encodeCheckpoint(position),
      eventId: `e-${stream}-${revision}`,
      type: 'MessageSent',
      data: {},
      metadata: { actorId: 'a', correlationId: 'c', causationId: 'c', recordedAt: '', prevHash: NO_PREVIOUS_HASH, hash: `${position}` },
    });
  }
  return events;
}

/** The event before `event` in its stream, as the command that appended it knew it. */
function preceding(events: RecordedEvent[], event: RecordedEvent) {
  const before = events.filter((e) => e.streamId === event.streamId && e.streamRevision === event.streamRevision - 1n)[0];
  return before === undefined ? { revision: 'no_stream' as const, checkpoint: null } : { revision: before.streamRevision, checkpoint: before.checkpoint };
}

const scenario = fc
  .record({
    streams: fc.integer({ min: 1, max: 4 }),
    perStream: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 4, maxLength: 4 }),
    order: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }),
    localShare: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    schedule: fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
    startAt: fc.integer({ min: 0, max: 10 }),
  })
  .map(({ streams, perStream, order, localShare, schedule, startAt }) => {
    const events = history(streams, perStream, order.map((s) => s % streams));
    // The feed started after `startAt` events (before this process served any command): those never reach it.
    const start = Math.min(startAt, events.length);
    // This process committed some of the later events; it publishes them in its own commit order.
    const local = events.filter((_, i) => i >= start && localShare[i] === true);
    return { events, local, start, schedule };
  });

describe('StreamOrder: local commits and the store feed, merged per stream', () => {
  it('hands out every event once, each stream in revision order, whatever the interleaving', () => {
    fc.assert(
      fc.property(scenario, ({ events, local, start, schedule }) => {
        const out: RecordedEvent[] = [];
        const order = new StreamOrder((e) => out.push(e), 1000);
        const fromStore = events.slice(start);
        // Events committed before the feed started never reach it; a first store event passes them.
        const steps: Step[] = [];
        let [l, s] = [0, 0];
        for (const pickLocal of schedule) {
          if ((pickLocal && l < local.length) || s >= fromStore.length) {
            if (l < local.length) steps.push({ kind: 'local', index: l++ });
          } else steps.push({ kind: 'store', index: s++ });
        }
        while (l < local.length) steps.push({ kind: 'local', index: l++ });
        while (s < fromStore.length) steps.push({ kind: 'store', index: s++ });
        for (const step of steps) {
          if (step.kind === 'store') order.fromStore(fromStore[step.index] as RecordedEvent);
          else {
            const event = local[step.index] as RecordedEvent;
            order.fromLocal(event, preceding(events, event));
          }
        }
        const delivered = new Set(fromStore.map((e) => e.eventId));
        for (const e of local) delivered.add(e.eventId);
        // Each once.
        expect(new Set(out.map((e) => e.eventId)).size).toBe(out.length);
        // Every event the store delivered, or this process committed after the feed started, went out.
        for (const e of fromStore) expect(out.map((o) => o.eventId)).toContain(e.eventId);
        // Per stream, strictly growing revisions with no gap after the first handed out.
        const byStream = new Map<string, bigint[]>();
        for (const e of out) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.streamRevision]);
        for (const revisions of byStream.values()) {
          revisions.forEach((r, i) => {
            if (i > 0) expect(r).toBe((revisions[i - 1] as bigint) + 1n);
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('holds a local commit that is ahead of another process\'s event until the store brings that event', () => {
    const events = history(1, [3], [0, 0, 0]);
    const out: string[] = [];
    const order = new StreamOrder((e) => out.push(e.eventId), 10);
    order.fromStore(events[0] as RecordedEvent);
    // Revision 2 was committed here, right after revision 1 by another process, which the feed has not brought yet.
    order.fromLocal(events[2] as RecordedEvent, preceding(events, events[2] as RecordedEvent));
    expect(out).toEqual(['e-0-0']);
    order.fromStore(events[1] as RecordedEvent);
    expect(out).toEqual(['e-0-0', 'e-0-1', 'e-0-2']);
    order.fromStore(events[2] as RecordedEvent);
    expect(out).toEqual(['e-0-0', 'e-0-1', 'e-0-2']);
  });

  it('sends a local commit at once when the one before it went out, and drops the store\'s later copy', () => {
    const events = history(1, [2], [0, 0]);
    const out: string[] = [];
    const order = new StreamOrder((e) => out.push(e.eventId), 10);
    order.fromLocal(events[0] as RecordedEvent, preceding(events, events[0] as RecordedEvent));
    order.fromLocal(events[1] as RecordedEvent, preceding(events, events[1] as RecordedEvent));
    expect(out).toEqual(['e-0-0', 'e-0-1']);
    order.fromStore(events[0] as RecordedEvent);
    order.fromStore(events[1] as RecordedEvent);
    expect(out).toEqual(['e-0-0', 'e-0-1']);
  });
});

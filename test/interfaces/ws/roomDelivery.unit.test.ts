import fc from 'fast-check';
import type { MessageView } from '../../../src/domain/room';
import type { ServerFrame } from '../../../src/interfaces/ws/frames';
import { RoomDelivery } from '../../../src/interfaces/ws/roomDelivery';

const ROOM = 'room-1';
const message = (seq: number): MessageView => ({
  roomId: ROOM,
  messageId: `m-${seq}`,
  erased: false,
  seq,
  senderId: 'lena',
  body: `message ${seq}`,
  clientMessageId: `c-${seq}`,
  sentAt: '2026-01-01T00:00:00.000Z',
  kind: 'text',
  hidden: false,
  safety: [],
  attachments: [],
});
const live = (delivery: RoomDelivery, seq: number) => delivery.deliver(ROOM, { seq, frame: { type: 'message', message: message(seq) }, kind: 'message' });
const seqsOf = (frames: ServerFrame[]) => frames.flatMap((f) => (f.type === 'message' || f.type === 'ack' ? [f.message.seq] : []));

/**
 * A client reconnects and resumes first thing: whatever the order in which live
 * messages, the resume frame, the replay's reads and its end meet, the client gets
 * every message after the one it had, in seq order, each once.
 */
describe('RoomDelivery: the replay/live boundary', () => {
  const scenario = fc
    .record({
      total: fc.integer({ min: 0, max: 25 }),
      afterSeq: fc.integer({ min: 0, max: 25 }),
      liveFrom: fc.integer({ min: 1, max: 26 }),
      // Interleaving: for each live message, after which step of the resume it arrives.
      timing: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 26, maxLength: 26 }),
      readExtra: fc.integer({ min: 0, max: 25 }),
      pageSize: fc.integer({ min: 1, max: 6 }),
    })
    .filter(({ total, afterSeq }) => afterSeq <= total);

  it('gives every message after afterSeq once, in order, however live messages and the replay interleave', () => {
    fc.assert(
      fc.property(scenario, ({ total, afterSeq, liveFrom, timing, readExtra, pageSize }) => {
        const frames: ServerFrame[] = [];
        const delivery = new RoomDelivery((f) => frames.push(f), { warming: true });
        const liveSeqs = Array.from({ length: Math.max(0, total - liveFrom + 1) }, (_, i) => liveFrom + i);
        // Steps: 0 before the resume frame arrives, 1 after it arrived (held), 2 after the replay
        // started, 3 while the replay reads (between pages), 4 after the resume was done. The
        // live side hands messages over in seq order: one can never overtake an earlier one.
        const due = liveSeqs.map((seq, i) => ({ seq, step: timing[i] ?? 4 }));
        let cursor = 0;
        const handOutUpTo = (step: number) => {
          while (due.length > 0 && (due[0] as { step: number }).step <= step) {
            const { seq } = due.shift() as { seq: number };
            live(delivery, seq);
            cursor = seq;
          }
        };
        handOutUpTo(0);
        delivery.hold(ROOM, 'resume');
        handOutUpTo(1);
        // What the live side had pushed (and older messages) is in the read model before the replay reads.
        const pushedBefore = Math.max(cursor, liveFrom - 1);
        const readUpTo = Math.min(total, Math.max(pushedBefore, afterSeq) + readExtra);
        delivery.startReplay(ROOM, afterSeq);
        handOutUpTo(2);
        for (let from = afterSeq + 1; from <= readUpTo; from += pageSize) {
          for (let seq = from; seq < from + pageSize && seq <= readUpTo; seq += 1) {
            if (delivery.takeReplayed(ROOM, seq)) frames.push({ type: 'message', message: message(seq) });
          }
          if (due[0] !== undefined && due[0].step === 3) handOutUpTo(3);
        }
        handOutUpTo(3);
        const lastSeq = delivery.finishReplay(ROOM);
        frames.push({ type: 'resumed', roomId: ROOM, lastSeq });
        delivery.release(ROOM, 'resume');
        handOutUpTo(4);

        const expected = Array.from({ length: total - afterSeq }, (_, i) => afterSeq + 1 + i);
        expect(seqsOf(frames)).toEqual(expected);
        // `resumed` names the last seq given before it.
        const resumedAt = frames.findIndex((f) => f.type === 'resumed');
        expect(lastSeq).toBe(seqsOf(frames.slice(0, resumedAt)).at(-1) ?? afterSeq);
      }),
      { numRuns: 1000 },
    );
  });

  it('sends a message that arrived live during the replay before `resumed`, and counts it in lastSeq', () => {
    const frames: ServerFrame[] = [];
    const delivery = new RoomDelivery((f) => frames.push(f), { warming: false });
    delivery.hold(ROOM, 'resume');
    delivery.startReplay(ROOM, 2);
    if (delivery.takeReplayed(ROOM, 3)) frames.push({ type: 'message', message: message(3) });
    live(delivery, 4); // pushed live while the replay reads: held
    expect(seqsOf(frames)).toEqual([3]);
    // As the dispatcher does: the replay ends, `resumed` goes out, then the resume's hold is released.
    const lastSeq = delivery.finishReplay(ROOM);
    frames.push({ type: 'resumed', roomId: ROOM, lastSeq });
    delivery.release(ROOM, 'resume');
    expect(frames.map((f) => (f.type === 'message' ? f.message.seq : f.type))).toEqual([3, 4, 'resumed']);
    expect(lastSeq).toBe(4);
  });

  it('holds live messages while warming up, and sends them in order when the warm-up ends', () => {
    const frames: ServerFrame[] = [];
    const delivery = new RoomDelivery((f) => frames.push(f), { warming: true });
    live(delivery, 4);
    live(delivery, 5);
    expect(frames).toEqual([]);
    delivery.endWarmup();
    expect(seqsOf(frames)).toEqual([4, 5]);
    live(delivery, 5);
    live(delivery, 6);
    expect(seqsOf(frames)).toEqual([4, 5, 6]);
  });

  it('keeps no state for a room whose resume was refused and that was never given anything', () => {
    const delivery = new RoomDelivery(() => undefined, { warming: false });
    for (let i = 0; i < 100; i += 1) {
      delivery.hold(`made-up-${i}`, 'resume');
      delivery.release(`made-up-${i}`, 'resume');
    }
    expect(delivery.size).toBe(0);
  });
});

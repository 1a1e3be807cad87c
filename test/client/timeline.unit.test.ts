import fc from 'fast-check';
import { backoffDelay, RoomTimeline, type Message } from '../../client/sdk/src';

const message = (seq: number): Message => ({
  messageId: `m${seq}`,
  roomId: 'room',
  erased: false,
  seq,
  senderId: 'lena',
  body: `message ${seq}`,
  sentAt: '2026-01-01T00:00:00.000Z',
  clientMessageId: `c${seq}`,
  kind: 'text',
  hidden: false,
  safety: [],
  attachments: [],
});

describe('a room timeline in the SDK', () => {
  it('hands on every message once, in seq order, whatever order and however often they arrive', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.shuffledSubarray(Array.from({ length: 3 * n }, (_, i) => (i % n) + 1), { minLength: 3 * n })),
        ),
        ([n, arrivals]) => {
          const timeline = new RoomTimeline(0);
          const delivered = arrivals.flatMap((seq) => timeline.accept(message(seq)).map((m) => m.seq));
          expect(delivered).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          expect(timeline.hasGap).toBe(false);
        },
      ),
    );
  });

  it('holds a message past a gap until the gap is filled, and drops what the app already has', () => {
    const timeline = new RoomTimeline(4);
    expect(timeline.accept(message(3))).toEqual([]);
    expect(timeline.accept(message(7))).toEqual([]);
    expect(timeline.hasGap).toBe(true);
    expect(timeline.accept(message(5)).map((m) => m.seq)).toEqual([5]);
    expect(timeline.accept(message(6)).map((m) => m.seq)).toEqual([6, 7]);
    expect(timeline.last).toBe(7);
  });
});

describe('reconnect backoff', () => {
  it('waits a random time below a ceiling that doubles per attempt up to the maximum', () => {
    const options = { initialMs: 500, maxMs: 30_000 };
    expect(backoffDelay(0, options, () => 0.999)).toBe(499);
    expect(backoffDelay(3, options, () => 0.999)).toBe(3_996);
    expect(backoffDelay(20, options, () => 0.999)).toBe(29_970);
    expect(backoffDelay(5, options, () => 0)).toBe(0);
  });
});

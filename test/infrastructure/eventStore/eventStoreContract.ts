/**
 * The event store contract: what every adapter promises (src/application/ports/eventStore.ts),
 * run by each adapter's *.int.test.ts against a real store.
 *
 * The store may be shared with other suites (EventStoreDB is), so every case writes to
 * streams of its own and a subscriber looks only at those streams.
 */
import { randomUUID } from 'node:crypto';
import {
  NO_PREVIOUS_HASH,
  WrongExpectedRevisionError,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type RecordedEvent,
  type SubscriptionStart,
} from '../../../src/application/ports/eventStore';
import { decodeEvent, evolveStored } from '../../../src/domain/events';
import { userStreamName } from '../../../src/domain/streams';
import { userDecider } from '../../../src/domain/user';

export interface EventStoreFixture {
  store: EventStore;
  /** Releases what the fixture made (connections, databases). */
  close(): Promise<void>;
}

export interface EventStoreContractOptions {
  /** `describe`, or `describe.skip` when the store cannot be had here. */
  describe?: jest.Describe;
  /**
   * Cases only some adapters can run (they need the store's internals, e.g. SQL access),
   * defined inside the contract's describe block, after the shared cases.
   */
  extraCases?: (fixture: () => EventStoreFixture) => void;
}

/** How long a subscriber may take to see what was committed. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** How long to keep listening after the last expected event, for duplicates or strays. */
const SETTLE_MS = 300;

export function eventStoreContract(
  name: string,
  makeFixture: () => Promise<EventStoreFixture>,
  options: EventStoreContractOptions = {},
): void {
  const describeFn = options.describe ?? describe;

  describeFn(`${name}: the event store contract`, () => {
    let fixture: EventStoreFixture | null = null;
    const current = (): EventStoreFixture => {
      if (fixture === null) throw new Error('the fixture is not ready');
      return fixture;
    };
    const store = (): EventStore => current().store;

    beforeAll(async () => {
      fixture = await makeFixture();
    });
    afterAll(async () => {
      await fixture?.close();
    });

    describe('appending', () => {
      it('creates a stream with no_stream, extends it at its exact revision or with any, and answers with the next revision and where the events landed', async () => {
        const stream = aStreamName('append');
        const [first, second, third, fourth] = [anEvent(), anEvent(), anEvent(), anEvent()];

        const created = await store().appendToStream(stream, [first], 'no_stream');
        expect(created.nextExpectedRevision).toBe(0n);
        expect(typeof created.globalPosition).toBe('bigint');

        const batch = await store().appendToStream(stream, [second, third], 0n);
        expect(batch.nextExpectedRevision).toBe(2n);
        expect(batch.globalPosition).toBeGreaterThanOrEqual(created.globalPosition);
        expect(batch.checkpoint > created.checkpoint).toBe(true);

        const anyWhere = await store().appendToStream(stream, [fourth], 'any');
        expect(anyWhere.nextExpectedRevision).toBe(3n);
        expect(anyWhere.checkpoint > batch.checkpoint).toBe(true);

        const read = await store().readStream(stream);
        expect(read.map((e) => e.streamRevision)).toEqual([0n, 1n, 2n, 3n]);
        expect(read.map((e) => e.eventId)).toEqual([first, second, third, fourth].map((e) => e.eventId));
        expect(read.map(({ type, data, metadata }) => ({ type, data, metadata }))).toEqual(
          [first, second, third, fourth].map(({ type, data, metadata }) => ({ type, data, metadata })),
        );
        expect(read.every((e) => e.streamId === stream)).toBe(true);
        // An append's answer names its last event exactly: a reader waiting for that
        // checkpoint is done as soon as it has seen the event.
        expect([created, batch, anyWhere].map((r) => [r.globalPosition, r.checkpoint])).toEqual(
          [read[0], read[2], read[3]].map((e) => [e?.globalPosition, e?.checkpoint]),
        );
      });

      it('refuses a wrong expected revision with WrongExpectedRevisionError and writes nothing', async () => {
        const stream = aStreamName('conflict');
        const missing = aStreamName('missing');
        await store().appendToStream(stream, [anEvent()], 'no_stream');
        const before = await store().readStream(stream);

        const attempts: Array<[string, ExpectedRevision, bigint | 'no_stream']> = [
          [stream, 'no_stream', 0n],
          [stream, 1n, 0n],
          [stream, 5n, 0n],
          [missing, 0n, 'no_stream'],
        ];
        for (const [streamId, expected, actual] of attempts) {
          const refused = store().appendToStream(streamId, [anEvent(), anEvent()], expected);
          await expect(refused).rejects.toBeInstanceOf(WrongExpectedRevisionError);
          await expect(refused).rejects.toMatchObject({ streamId, expected, actual });
        }

        expect(await store().readStream(stream)).toEqual(before);
        expect(await store().readStream(missing)).toEqual([]);
      });

      it('answers the retry of an append with its original expected revision as the original did, and writes nothing new', async () => {
        const stream = aStreamName('idempotent');
        const [a, b, c] = [anEvent(), anEvent(), anEvent()];
        const first = await store().appendToStream(stream, [a, b], 'no_stream');

        // The retry of a call whose answer was lost, exactly as it was made.
        expect(await store().appendToStream(stream, [a, b], 'no_stream')).toEqual(first);

        const next = await store().appendToStream(stream, [c], first.nextExpectedRevision);
        expect(next.nextExpectedRevision).toBe(2n);
        expect(await store().appendToStream(stream, [c], first.nextExpectedRevision)).toEqual(next);

        const read = await store().readStream(stream);
        expect(read.map((e) => e.eventId)).toEqual([a.eventId, b.eventId, c.eventId]);
      });

      it('answers a late retry, made after other writers moved the stream on, as the original did', async () => {
        const stream = aStreamName('late-retry');
        const [a, b, c, d] = [anEvent(), anEvent(), anEvent(), anEvent()];
        const opened = await store().appendToStream(stream, [a], 'no_stream');
        const batch = await store().appendToStream(stream, [b, c], opened.nextExpectedRevision);
        await store().appendToStream(stream, [d], batch.nextExpectedRevision);

        expect(await store().appendToStream(stream, [a], 'no_stream')).toEqual(opened);
        expect(await store().appendToStream(stream, [b, c], opened.nextExpectedRevision)).toEqual(batch);
        expect((await store().readStream(stream)).map((e) => e.eventId)).toEqual([a, b, c, d].map((e) => e.eventId));
      });

      it('refuses an append that repeats only some of the ids already in the stream, and writes nothing', async () => {
        const stream = aStreamName('half-repeat');
        const [a, b, fresh] = [anEvent(), anEvent(), anEvent()];
        await store().appendToStream(stream, [a], 'no_stream');
        await store().appendToStream(stream, [b], 0n);

        await expect(store().appendToStream(stream, [b, fresh], 0n)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        expect((await store().readStream(stream)).map((e) => e.eventId)).toEqual([a.eventId, b.eventId]);
      });

      it('refuses one of several appends made at once on its own: the others are written, the refused one writes nothing', async () => {
        const [ok1, refused, ok2] = [aStreamName('mixed-ok'), aStreamName('mixed-refused'), aStreamName('mixed-ok')];
        await store().appendToStream(refused, [anEvent()], 'no_stream');
        const [a, b, c] = [anEvent(), anEvent(), anEvent()];

        const outcomes = await Promise.allSettled([
          store().appendToStream(ok1, [a], 'no_stream'),
          store().appendToStream(refused, [b], 'no_stream'),
          store().appendToStream(ok2, [c], 'no_stream'),
        ]);

        expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevisionError);
        expect((await store().readStream(ok1)).map((e) => e.eventId)).toEqual([a.eventId]);
        expect((await store().readStream(ok2)).map((e) => e.eventId)).toEqual([c.eventId]);
        expect(await store().readStream(refused)).toHaveLength(1);
      });

      it('lets exactly one of 50 concurrent writers win each revision: revisions 0..49, no gap, every event once', async () => {
        const stream = aStreamName('race');
        const writers = Array.from({ length: 50 }, () => anEvent());
        let conflicts = 0;

        const wins = await Promise.all(
          writers.map(async (event) => {
            for (;;) {
              const last = (await store().readStream(stream)).at(-1);
              try {
                const result = await store().appendToStream(stream, [event], last?.streamRevision ?? 'no_stream');
                return result.nextExpectedRevision;
              } catch (error) {
                if (!(error instanceof WrongExpectedRevisionError)) throw error;
                conflicts += 1;
                await delay(Math.random() * 5);
              }
            }
          }),
        );

        expect([...wins].sort(compareBigInt)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
        const read = await store().readStream(stream);
        expect(read.map((e) => e.streamRevision)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
        expect(new Set(read.map((e) => e.eventId))).toEqual(new Set(writers.map((e) => e.eventId)));
        // Each writer's event landed at the revision its append reported.
        writers.forEach((event, i) => expect(read.find((e) => e.eventId === event.eventId)?.streamRevision).toBe(wins[i]));
        expect(conflicts).toBeGreaterThan(0);
      });
    });

    describe('reading', () => {
      it('reads a stream forward from a revision, up to maxCount; a stream that does not exist reads as empty', async () => {
        const stream = aStreamName('read');
        const events = Array.from({ length: 6 }, () => anEvent());
        await store().appendToStream(stream, events, 'no_stream');

        expect((await store().readStream(stream, { fromRevision: 2n })).map((e) => e.eventId)).toEqual(
          events.slice(2).map((e) => e.eventId),
        );
        expect((await store().readStream(stream, { fromRevision: 1n, maxCount: 3 })).map((e) => e.streamRevision)).toEqual([1n, 2n, 3n]);
        expect(await store().readStream(stream, { fromRevision: 6n })).toEqual([]);
        expect(await store().readStream(aStreamName('never-written'))).toEqual([]);
      });

      it('reads all committed events after a checkpoint in global order, at most maxCount at a time', async () => {
        const anchor = await store().appendToStream(aStreamName('anchor'), [anEvent()], 'no_stream');
        const [left, right] = [aStreamName('all-left'), aStreamName('all-right')];
        const appended: string[] = [];
        for (const [stream, expected] of [[left, 'no_stream'], [right, 'no_stream'], [left, 0n], [right, 0n], [left, 1n]] as const) {
          const event = anEvent();
          await store().appendToStream(stream, [event], expected);
          appended.push(event.eventId);
        }

        const mine: RecordedEvent[] = [];
        const checkpoints: string[] = [];
        let after = anchor.checkpoint;
        for (let pages = 0; mine.length < appended.length; pages += 1) {
          if (pages > 1000) throw new Error('readAll never reached the events just appended');
          const page = await store().readAll(after, 2);
          expect(page.length).toBeLessThanOrEqual(2);
          if (page.length === 0) break;
          for (const event of page) {
            checkpoints.push(event.checkpoint);
            if (event.streamId === left || event.streamId === right) mine.push(event);
          }
          after = (page.at(-1) as RecordedEvent).checkpoint;
        }

        expect(mine.map((e) => e.eventId)).toEqual(appended);
        expect(checkpoints[0]! > anchor.checkpoint).toBe(true);
        expectStrictlyIncreasing(checkpoints);
      });
    });

    describe('subscribing to all', () => {
      it('delivers every committed event once, in commit order within each stream, from the start', async () => {
        const streams = [aStreamName('sub-a'), aStreamName('sub-b'), aStreamName('sub-c')];
        const expected = new Map<string, string[]>(streams.map((s) => [s, []]));
        const appendTo = async (stream: string, count: number): Promise<void> => {
          for (let i = 0; i < count; i += 1) {
            const event = anEvent();
            const last = expected.get(stream) as string[];
            await store().appendToStream(stream, [event], last.length === 0 ? 'no_stream' : BigInt(last.length - 1));
            last.push(event.eventId);
          }
        };
        // Some before the subscriber starts, the rest while it runs, streams interleaved.
        await Promise.all(streams.map((s) => appendTo(s, 2)));
        const follower = follow(store(), { from: 'start' }, (e) => streams.includes(e.streamId));
        try {
          await Promise.all(streams.map((s) => appendTo(s, 10)));
          await follower.until(() => follower.mine.length >= 36, '36 events');
          await delay(SETTLE_MS);

          expect(follower.errors).toEqual([]);
          for (const stream of streams) {
            const seen = follower.mine.filter((e) => e.streamId === stream);
            expect(seen.map((e) => e.eventId)).toEqual(expected.get(stream));
            expect(seen.map((e) => e.streamRevision)).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(i)));
          }
          expectStrictlyIncreasing(follower.all.map((e) => e.checkpoint));
        } finally {
          await follower.stop();
        }
      });

      it('resumes from the last checkpoint after a stop: nothing appended while it was down is skipped, nothing is repeated', async () => {
        const stream = aStreamName('restart');
        const other = aStreamName('restart-other');
        const anchor = await store().appendToStream(aStreamName('restart-anchor'), [anEvent()], 'no_stream');
        const isMine = (e: RecordedEvent): boolean => e.streamId === stream || e.streamId === other;
        const ids: string[] = [];
        let revision: ExpectedRevision = 'no_stream';
        const appendOne = async (streamId: string, expectedRevision: ExpectedRevision): Promise<bigint> => {
          const event = anEvent();
          ids.push(event.eventId);
          return (await store().appendToStream(streamId, [event], expectedRevision)).nextExpectedRevision;
        };

        const before = follow(store(), { from: 'checkpoint', checkpoint: anchor.checkpoint }, isMine);
        for (let i = 0; i < 5; i += 1) revision = await appendOne(stream, revision);
        await before.until(() => before.mine.length >= 5, 'the first 5 events');
        await before.stop();
        const deliveredBeforeStop = before.all.length;
        const resumeFrom = (before.all.at(-1) as RecordedEvent).checkpoint;

        // Appended while nobody listens, one of them to a stream the subscriber has not seen.
        for (let i = 0; i < 5; i += 1) revision = await appendOne(stream, revision);
        await appendOne(other, 'no_stream');
        await delay(SETTLE_MS);
        expect(before.all.length).toBe(deliveredBeforeStop);

        const after = follow(store(), { from: 'checkpoint', checkpoint: resumeFrom }, isMine);
        try {
          await after.until(() => after.mine.length >= 6, 'the 6 events appended while stopped');
          await delay(SETTLE_MS);
          expect([...before.mine, ...after.mine].map((e) => e.eventId)).toEqual(ids);
          expect(after.all.every((e) => e.checkpoint > resumeFrom)).toBe(true);
          expect([...before.errors, ...after.errors]).toEqual([]);
        } finally {
          await after.stop();
        }
      });

      it('from the end, delivers only events appended after it started', async () => {
        const stream = aStreamName('end');
        const probes = aStreamName('end-probe');
        const beforeIds: string[] = [];
        for (let i = 0; i < 3; i += 1) {
          const event = anEvent();
          beforeIds.push(event.eventId);
          await store().appendToStream(stream, [event], i === 0 ? 'no_stream' : BigInt(i - 1));
        }

        const follower = follow(store(), { from: 'end' }, (e) => e.streamId === stream || e.streamId === probes);
        try {
          // The subscription has found the end once it sees a probe written after it started.
          const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
          while (!follower.mine.some((e) => e.streamId === probes)) {
            if (Date.now() > deadline) throw new Error('the subscription from the end never went live');
            await store().appendToStream(probes, [anEvent()], 'any');
            await delay(50);
          }
          const afterIds: string[] = [];
          for (let i = 3; i < 6; i += 1) {
            const event = anEvent();
            afterIds.push(event.eventId);
            await store().appendToStream(stream, [event], BigInt(i - 1));
          }
          await follower.until(() => follower.mine.filter((e) => e.streamId === stream).length >= 3, 'the 3 later events');
          await delay(SETTLE_MS);

          expect(follower.mine.filter((e) => e.streamId === stream).map((e) => e.eventId)).toEqual(afterIds);
          expect(follower.errors).toEqual([]);
        } finally {
          await follower.stop();
        }
      });

      it('tells onError when the handler fails, then delivers that event again and carries on, skipping and repeating nothing', async () => {
        const stream = aStreamName('handler-fails');
        const anchor = await store().appendToStream(aStreamName('handler-anchor'), [anEvent()], 'no_stream');
        const events = Array.from({ length: 5 }, () => anEvent());
        let failed = false;
        const follower = follow(store(), { from: 'checkpoint', checkpoint: anchor.checkpoint }, (e) => e.streamId === stream, {
          beforeDelivery: (event) => {
            if (!failed && event.eventId === events[2]?.eventId) {
              failed = true;
              throw new Error('the handler failed once');
            }
          },
        });
        try {
          await store().appendToStream(stream, events, 'no_stream');
          await follower.until(() => follower.mine.length >= 5, 'all 5 events');
          await delay(SETTLE_MS);

          expect(follower.errors).toHaveLength(1);
          expect(follower.mine.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
        } finally {
          await follower.stop();
        }
      });

      it('calls the handler no more once stop() has resolved', async () => {
        const stream = aStreamName('stop');
        const follower = follow(store(), { from: 'end' }, (e) => e.streamId === stream);
        const writing = (async () => {
          for (let i = 0; i < 20; i += 1) await store().appendToStream(stream, [anEvent()], 'any');
        })();
        await follower.until(() => follower.mine.length >= 1, 'a first event');
        await follower.stop();
        const delivered = follower.all.length;
        await writing;
        await delay(SETTLE_MS);
        expect(follower.all.length).toBe(delivered);
      });
    });

    describe("a user's erasure events", () => {
      it('keeps UserErasureRequested and UserErased in the user stream exactly as written, decoded and folded by the user decider', async () => {
        const userId = `contract-${randomUUID()}`;
        const stream = userStreamName(userId);
        const requested = {
          type: 'UserErasureRequested',
          data: { userId, erasureId: randomUUID(), requestedBy: randomUUID(), requestedAt: '2026-12-07T10:00:00.000Z' },
        };
        const erased = {
          type: 'UserErased',
          data: { ...requested.data, erasedAt: '2026-12-07T10:01:00.000Z', counts: { rooms: 3, messages: 4000 } },
        };
        const written = [anEvent(requested), anEvent(erased)];
        await store().appendToStream(stream, [written[0] as EventToAppend], 'no_stream');
        const last = await store().appendToStream(stream, [written[1] as EventToAppend], 0n);
        const read = await store().readStream(stream);
        expect(read.map(({ eventId, type, data, metadata }) => ({ eventId, type, data, metadata }))).toEqual(
          written.map(({ eventId, type, data, metadata }) => ({ eventId, type, data, metadata })),
        );
        const events = read.map((e) => decodeEvent(e));
        expect(events.map((e) => e?.type)).toEqual(['UserErasureRequested', 'UserErased']);
        const state = read.reduce((s, e) => evolveStored(userDecider.evolve, s, e), userDecider.initialState());
        expect(state.erasure).toEqual({
          erasureId: requested.data.erasureId,
          requestedBy: requested.data.requestedBy,
          requestedAt: requested.data.requestedAt,
          erasedAt: erased.data.erasedAt,
          counts: { rooms: 3, messages: 4000 },
        });
        expect(read.at(-1)?.checkpoint).toBe(last.checkpoint);
      });
    });

    options.extraCases?.(current);
  });
}

export interface Follower {
  /** Delivered events of the streams the case cares about. */
  mine: RecordedEvent[];
  /** Every delivered event, whoever wrote it. */
  all: RecordedEvent[];
  errors: unknown[];
  until(done: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A subscriber that records what it is given; `beforeDelivery` may throw to fail the handler. */
export function follow(
  store: EventStore,
  start: SubscriptionStart,
  isMine: (event: RecordedEvent) => boolean,
  options: { beforeDelivery?: (event: RecordedEvent) => void; slowHandlerMs?: number } = {},
): Follower {
  const follower: Follower = {
    mine: [],
    all: [],
    errors: [],
    until: async (done, what, timeoutMs = DELIVERY_TIMEOUT_MS) => {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (Date.now() > deadline) {
          throw new Error(`the subscriber did not get ${what} in ${timeoutMs} ms (got ${follower.mine.length} of ours, errors: ${follower.errors.map(String).join('; ')})`);
        }
        await delay(10);
      }
    },
    stop: async () => {
      await subscription.stop();
    },
  };
  const subscription = store.subscribeToAll(start, {
    onEvent: async (event) => {
      if (options.slowHandlerMs !== undefined) await delay(options.slowHandlerMs);
      if (isMine(event)) options.beforeDelivery?.(event);
      follower.all.push(event);
      if (isMine(event)) follower.mine.push(event);
    },
    onError: (error) => {
      follower.errors.push(error);
    },
  });
  return follower;
}

export function aStreamName(label: string): string {
  return `contract_${label}-${randomUUID()}`;
}

export function anEvent(overrides: Partial<EventToAppend> = {}): EventToAppend {
  const eventId = randomUUID();
  return {
    eventId,
    type: 'ContractTested',
    data: { eventId, text: 'héllo, wörld ✓', nested: { n: 1, list: [1, 'two', null] } },
    metadata: {
      actorId: 'user-contract',
      correlationId: randomUUID(),
      causationId: randomUUID(),
      recordedAt: '2025-03-01T10:00:00.000Z',
      prevHash: NO_PREVIOUS_HASH,
      hash: 'f'.repeat(64),
    },
    ...overrides,
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function compareBigInt(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function expectStrictlyIncreasing(checkpoints: string[]): void {
  const out = checkpoints.findIndex((c, i) => i > 0 && c <= (checkpoints[i - 1] as string));
  expect(out).toBe(-1);
}

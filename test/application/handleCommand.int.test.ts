import { migrateDatabase } from '../../src/infrastructure/migrations';
import { randomUUID } from 'node:crypto';
import { HASH_VERSION, verifyChain } from '../../src/application/audit/hashChain';
import { handleCommand, StreamCommandHandler, type CommandContext, type HandleCommandOptions } from '../../src/application/handleCommand';
import {
  NO_PREVIOUS_HASH,
  WrongExpectedRevisionError,
  type EventStore,
  type ReadStreamOptions,
  type RecordedEvent,
} from '../../src/application/ports/eventStore';
import { randomIds } from '../../src/application/ports/ids';
import { StreamStateCache } from '../../src/application/streamStateCache';
import type { SnapshotStore, StreamSnapshot } from '../../src/application/ports/snapshots';
import { type Command, type Decider, DomainError, type Event } from '../../src/domain/shared/decider';
import { PostgresEventStore } from '../../src/infrastructure/eventStore/postgresEventStore';
import { SqlSnapshotStore } from '../../src/infrastructure/snapshots/sqlSnapshotStore';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases';
import { eventually } from '../support/http';
import { ManualClock } from '../support/server';

/**
 * The command handler is generic over its decider, so it is tested with a small one of
 * its own: a tally that counts keys while it is open. The room's rules stay out of these
 * tests (they have theirs in test/domain/room), and what is left is what the handler
 * promises every decider: append what was decided, with its metadata and hash chain; decide
 * again on what is stored when another process wrote first; keep commands in order; load
 * from snapshots it can trust.
 */
type TallyEvent = Event<'Opened', { by: string }> | Event<'Closed', { by: string }> | Event<'Added', { key: string; n: number }>;
type TallyCommand =
  | Command<'Open', { by: string }>
  | Command<'Close', { by: string }>
  | Command<'Add', { key: string; times: number }>;
interface Tally {
  open: boolean;
  count: number;
  keys: string[];
}

class TallyClosedError extends DomainError {
  constructor() {
    super('closed', 'the tally is closed');
  }
}

const tally: Decider<Tally, TallyCommand, TallyEvent> = {
  initialState: () => ({ open: false, count: 0, keys: [] }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'Opened':
        return { ...state, open: true };
      case 'Closed':
        return { ...state, open: false };
      case 'Added':
        return { ...state, count: event.data.n, keys: [...state.keys, event.data.key] };
    }
  },
  decide: (command, state) => {
    switch (command.type) {
      case 'Open':
        return state.open ? [] : [{ type: 'Opened', data: { by: command.data.by } }];
      case 'Close':
        return state.open ? [{ type: 'Closed', data: { by: command.data.by } }] : [];
      case 'Add': {
        if (!state.open) throw new TallyClosedError();
        if (state.keys.includes(command.data.key)) return [];
        return Array.from({ length: command.data.times }, (_, i) => ({ type: 'Added', data: { key: command.data.key, n: state.count + i + 1 } }));
      }
    }
  },
};

const open: TallyCommand = { type: 'Open', data: { by: 'ann' } };
const close: TallyCommand = { type: 'Close', data: { by: 'bob' } };
const add = (key: string, times = 1): TallyCommand => ({ type: 'Add', data: { key, times } });
const context = (actorId = 'ann'): CommandContext => ({ actorId, correlationId: randomUUID(), causationId: randomUUID() });
const aStream = (): string => `tally-${randomUUID()}`;
const added = (events: readonly RecordedEvent[]) =>
  events.filter((e) => e.type === 'Added').map((e) => e.data as { key: string; n: number });

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}
const deferred = (): Deferred => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/**
 * The real store, seen through: how many appends were made and how many were in flight at
 * once, how many reads were made and how many events they handed back, and (optionally) something another process does
 * just before an append goes out.
 */
interface Watched extends EventStore {
  appends: number;
  inFlight: number;
  maxInFlight: number;
  eventsRead: number;
  reads: number;
}
function watched(inner: EventStore, options: { pipelines?: boolean; beforeAppend?: (n: number) => Promise<void> } = {}): Watched {
  const store: Watched = Object.assign(Object.create(inner) as EventStore, {
    appends: 0,
    inFlight: 0,
    maxInFlight: 0,
    eventsRead: 0,
    reads: 0,
    ...(options.pipelines === false ? { pipeline: undefined } : {}),
    appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
      store.appends += 1;
      store.inFlight += 1;
      store.maxInFlight = Math.max(store.maxInFlight, store.inFlight);
      try {
        await options.beforeAppend?.(store.appends);
        return await inner.appendToStream(...args);
      } finally {
        store.inFlight -= 1;
      }
    },
    readStream: async (streamId: string, readOptions?: ReadStreamOptions) => {
      store.reads += 1;
      const events = await inner.readStream(streamId, readOptions);
      store.eventsRead += events.length;
      return events;
    },
  });
  return store;
}

/**
 * An encoder as the room's is (it seals message bodies): the event's data is stored under a
 * named key, and `opening` gives reads the decided form back, as the store the room's
 * handler is given does.
 */
const sealedUnder = (keyId: string) => (event: TallyEvent): object => ({ keyId, sealed: Buffer.from(JSON.stringify(event.data)).toString('base64') });
function opening(inner: EventStore): EventStore {
  const open = (event: RecordedEvent): RecordedEvent => {
    const data = event.data as { sealed?: unknown };
    return typeof data.sealed === 'string' ? { ...event, data: JSON.parse(Buffer.from(data.sealed, 'base64').toString()) as object } : event;
  };
  return Object.assign(Object.create(inner) as EventStore, {
    readStream: async (streamId: string, readOptions?: ReadStreamOptions) => (await inner.readStream(streamId, readOptions)).map(open),
  });
}

/**
 * Under mutation testing (jest.stryker.config.js) one database is enough: the handler runs
 * the same adapter code on both, and each mutant costs PGlite's start-up again otherwise.
 */
const kinds = process.env.MUTATION_TEST_DATABASE === 'postgres' ? (['postgres'] as const) : databaseKinds;

describe.each(kinds)('the command handler on %s', (kind) => {
  let tdb: TestDatabase;
  let db: SqlDatabase;
  /** This process's store, and another process's (its own append queue, the same database). */
  let store: PostgresEventStore;
  let other: PostgresEventStore;
  const clock = new ManualClock(new Date('2026-02-01T09:00:00.000Z'));

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    db = await tdb.connect();
    await migrateDatabase(db);
    store = new PostgresEventStore(db);
    other = new PostgresEventStore(db);
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  const handler = (eventStore: EventStore = store, options: HandleCommandOptions<Tally, TallyEvent> = {}) =>
    new StreamCommandHandler({ eventStore, clock, ids: randomIds }, tally, options);

  describe('one command', () => {
    it('appends what the decider decided, with who asked, when, and a hash chain from the first event', async () => {
      const stream = aStream();
      const h = handler();
      const first = context('ann');
      const opened = await h.execute(stream, open, first);
      expect(opened).toMatchObject({ newEvents: [{ type: 'Opened', data: { by: 'ann' } }], repeated: false, state: { open: true, count: 0 } });
      expect(opened.appended?.nextExpectedRevision).toBe(0n);

      clock.advance(1000);
      const second = context('bob');
      const result = await h.execute(stream, add('a', 2), second);
      expect(result.newEvents).toEqual([
        { type: 'Added', data: { key: 'a', n: 1 } },
        { type: 'Added', data: { key: 'a', n: 2 } },
      ]);
      expect(result.state).toEqual({ open: true, count: 2, keys: ['a', 'a'] });
      expect(result.appended?.nextExpectedRevision).toBe(2n);
      expect(result.checkpoint).toBe(result.appended?.checkpoint);

      const events = await store.readStream(stream);
      expect(events.map((e) => [e.type, e.data])).toEqual([
        ['Opened', { by: 'ann' }],
        ['Added', { key: 'a', n: 1 }],
        ['Added', { key: 'a', n: 2 }],
      ]);
      expect(events[0]?.metadata).toMatchObject({ ...first, recordedAt: '2026-02-01T09:00:00.000Z', hashVersion: HASH_VERSION, prevHash: NO_PREVIOUS_HASH });
      for (const event of events.slice(1)) expect(event.metadata).toMatchObject({ ...second, recordedAt: '2026-02-01T09:00:01.000Z', hashVersion: HASH_VERSION });
      expect(events[1]?.metadata.prevHash).toBe(events[0]?.metadata.hash);
      expect(events[2]?.metadata.prevHash).toBe(events[1]?.metadata.hash);
      expect(verifyChain(events)).toBe(true);
      expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
      expect(result.checkpoint).toBe(events[2]?.checkpoint);
    });

    it('uses the event id the caller derives from the request, and a fresh random one where it derives none', async () => {
      const stream = aStream();
      const idOf = new Map([['a', randomUUID()]]);
      const h = handler(store, { eventIdFor: (event) => (event.type === 'Added' ? idOf.get(event.data.key) : undefined) });
      await h.execute(stream, open, context());
      await h.execute(stream, add('a'), context());
      await h.execute(stream, add('b'), context());
      const [openedEvent, a, b] = await store.readStream(stream);
      expect(a?.eventId).toBe(idOf.get('a'));
      for (const random of [openedEvent?.eventId, b?.eventId]) expect(random).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
      expect(b?.eventId).not.toBe(openedEvent?.eventId);
    });

    it('writes nothing when the decider decides nothing, and answers with the stream as it is', async () => {
      const stream = aStream();
      const h = handler();
      expect(await h.execute(stream, close, context())).toEqual({
        newEvents: [],
        state: { open: false, count: 0, keys: [] },
        appended: null,
        repeated: false,
        checkpoint: null,
      });
      const opened = await h.execute(stream, open, context());
      expect(await h.execute(stream, open, context())).toEqual({
        newEvents: [],
        state: { open: true, count: 0, keys: [] },
        appended: null,
        repeated: false,
        checkpoint: opened.checkpoint,
      });
      expect(await store.readStream(stream)).toHaveLength(1);
    });

    it("refuses with the decider's own error and writes nothing", async () => {
      const stream = aStream();
      await expect(handler().execute(stream, add('a'), context())).rejects.toBeInstanceOf(TallyClosedError);
      expect(await store.readStream(stream)).toEqual([]);
    });

    it('writes nothing when the store already holds the decided events under their ids, and names the originals', async () => {
      const stream = aStream();
      const idOf = new Map([['late', randomUUID()]]);
      const eventIdFor = (event: TallyEvent) => (event.type === 'Added' ? idOf.get(event.data.key) : undefined);
      const here = handler(store, { eventIdFor });
      await here.execute(stream, open, context());
      // Another process, whose answer was lost, wrote 'early' and then 'late'.
      const there = handler(other, { eventIdFor });
      await there.execute(stream, add('early'), context());
      const original = await there.execute(stream, add('late'), context());

      const retried = await here.execute(stream, add('late'), context());
      expect(retried).toMatchObject({ newEvents: [], repeated: true, appended: original.appended, checkpoint: original.checkpoint });
      expect(added(await store.readStream(stream)).map((e) => e.key)).toEqual(['early', 'late']);
    });

    it('tells the caller about a single committed event, with where the stream was before it, and not about a batch', async () => {
      const stream = aStream();
      const committed: Array<{ event: RecordedEvent; preceding: { revision: bigint | 'no_stream'; checkpoint: string | null } }> = [];
      const h = handler(store, { onCommitted: (event, preceding) => committed.push({ event, preceding }) });
      const opened = await h.execute(stream, open, context());
      await h.execute(stream, add('a'), context());
      await h.execute(stream, add('b', 2), context());
      await h.execute(stream, open, context());
      const stored = await store.readStream(stream);
      expect(committed).toEqual([
        { event: stored[0], preceding: { revision: 'no_stream', checkpoint: null } },
        { event: stored[1], preceding: { revision: 0n, checkpoint: opened.checkpoint } },
      ]);
    });

    it('stores what the encoder made of each event, hashed as stored, and answers and tells the caller with the decided form', async () => {
      const stream = aStream();
      const committed: RecordedEvent[] = [];
      let made = 0;
      const h = handler(opening(store), {
        encoderFor: async () => sealedUnder(`key-${(made += 1)}`),
        onCommitted: (event) => committed.push(event),
      });
      await h.execute(stream, open, context());
      // Refused by `admit`: no key is made for it.
      await expect(h.execute(stream, add('x'), context(), () => Promise.reject(new Error('not a member')))).rejects.toThrow('not a member');
      const result = await h.execute(stream, add('a'), context());
      expect(made).toBe(2);
      expect(result.newEvents).toEqual([{ type: 'Added', data: { key: 'a', n: 1 } }]);

      const stored = await store.readStream(stream);
      expect(stored.map((e) => e.data)).toEqual([
        sealedUnder('key-1')({ type: 'Opened', data: { by: 'ann' } }),
        sealedUnder('key-2')({ type: 'Added', data: { key: 'a', n: 1 } }),
      ]);
      expect(verifyChain(stored)).toBe(true);
      expect(committed.map((e) => e.data)).toEqual([{ by: 'ann' }, { key: 'a', n: 1 }]);
      // A process new to the stream reads it opened, and decides on what was decided.
      expect((await handler(opening(other)).execute(stream, add('b'), context())).newEvents).toEqual([{ type: 'Added', data: { key: 'b', n: 2 } }]);
    });

    it('makes the encoder again after losing a race, and stores the event as the new one made it', async () => {
      const stream = aStream();
      let made = 0;
      const h = handler(opening(store), { encoderFor: async () => sealedUnder(`key-${(made += 1)}`) });
      await h.execute(stream, open, context());
      await handler(opening(other)).execute(stream, add('theirs'), context());
      // Decided on the cached state, refused, decided again on what is stored: under a key made again.
      const result = await h.execute(stream, add('mine'), context());
      expect(result.newEvents).toEqual([{ type: 'Added', data: { key: 'mine', n: 2 } }]);
      expect(made).toBe(3);
      expect((await store.readStream(stream)).at(-1)?.data).toEqual(sealedUnder('key-3')({ type: 'Added', data: { key: 'mine', n: 2 } }));
    });

    it('lets `admit` refuse a command in its turn: nothing is written and the next command goes on', async () => {
      const stream = aStream();
      const h = handler();
      await h.execute(stream, open, context());
      const refusal = new Error('not a member');
      await expect(h.execute(stream, add('a'), context(), () => Promise.reject(refusal))).rejects.toBe(refusal);
      await h.execute(stream, add('b'), context(), () => undefined);
      expect(added(await store.readStream(stream))).toEqual([{ key: 'b', n: 1 }]);
    });

    it('fails a command at once when the store fails for another reason than a lost race, and the stream goes on', async () => {
      const stream = aStream();
      const w = watched(store);
      const h = handler(w);
      await h.execute(stream, open, context());
      // PostgreSQL's jsonb cannot hold a NUL character: the store refuses the append.
      const failing = h.execute(stream, add('\u0000'), context());
      await expect(failing).rejects.toThrow();
      await expect(failing).rejects.not.toBeInstanceOf(WrongExpectedRevisionError);
      expect(w.appends).toBe(2);
      expect((await h.execute(stream, add('next'), context())).newEvents).toEqual([{ type: 'Added', data: { key: 'next', n: 1 } }]);
      expect(added(await store.readStream(stream))).toEqual([{ key: 'next', n: 1 }]);
    });

    it('runs one command through a handler of its own, reading the stream first', async () => {
      const stream = aStream();
      await handler(other).execute(stream, open, context());
      await handler(other).execute(stream, add('a'), context());
      const result = await handleCommand({ eventStore: store, clock, ids: randomIds }, stream, tally, add('b'), context());
      expect(result.newEvents).toEqual([{ type: 'Added', data: { key: 'b', n: 2 } }]);
    });

    it('shows the state it holds for a stream without loading one it does not hold', async () => {
      const stream = aStream();
      const h = handler();
      expect(h.peek(stream)).toBeUndefined();
      await h.execute(stream, open, context());
      await h.execute(stream, add('a'), context());
      expect(h.peek(stream)).toEqual({ open: true, count: 1, keys: ['a'] });
      expect(h.peek(aStream())).toBeUndefined();
    });
  });

  it("shows a command's decision while its append is still on the way", async () => {
    const stream = aStream();
    let whileAppending: Tally | undefined;
    const w = watched(store, {
      beforeAppend: async (n) => {
        // The handler carries on to its bookkeeping as soon as the append is handed over.
        await null;
        if (n === 2) whileAppending = h.peek(stream);
      },
    });
    const h = handler(w);
    await h.execute(stream, open, context());
    await h.execute(stream, add('a'), context());
    expect(whileAppending).toEqual({ open: true, count: 1, keys: ['a'] });
  });

  describe('another process wrote the stream meanwhile', () => {
    it('decides again on the newer events after losing the race, and appends after them', async () => {
      const stream = aStream();
      const w = watched(store);
      const here = handler(w);
      await here.execute(stream, open, context());
      await here.execute(stream, add('x'), context());
      await handler(other).execute(stream, add('y'), context());
      const result = await here.execute(stream, add('z'), context());
      expect(result.newEvents).toEqual([{ type: 'Added', data: { key: 'z', n: 3 } }]);
      expect(result.state).toEqual({ open: true, count: 3, keys: ['x', 'y', 'z'] });
      expect(w.appends).toBe(4);
      // What it holds now is what is stored: the next command needs no second try.
      await here.execute(stream, add('w'), context());
      expect(w.appends).toBe(5);
      expect(added(await store.readStream(stream))).toEqual([
        { key: 'x', n: 1 },
        { key: 'y', n: 2 },
        { key: 'z', n: 3 },
        { key: 'w', n: 4 },
      ]);
    });

    it('does not refuse on a cached state another process has moved past', async () => {
      const stream = aStream();
      const here = handler();
      await here.execute(stream, open, context());
      await here.execute(stream, close, context());
      await handler(other).execute(stream, open, context());
      expect((await here.execute(stream, add('k'), context())).newEvents).toEqual([{ type: 'Added', data: { key: 'k', n: 1 } }]);
    });

    it('does not answer "nothing to do" on a cached state another process has moved past', async () => {
      const stream = aStream();
      const here = handler();
      await here.execute(stream, open, context());
      await handler(other).execute(stream, close, context());
      expect((await here.execute(stream, open, context())).newEvents).toEqual([{ type: 'Opened', data: { by: 'ann' } }]);
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['Opened', 'Closed', 'Opened']);
    });

    it('gives up after maxAttempts races lost in a row, having written nothing of its own', async () => {
      const stream = aStream();
      const rival = handler(other);
      await rival.execute(stream, open, context());
      let rivalAdds = 0;
      const racing = (maxAttempts?: number) => {
        const w = watched(store, { beforeAppend: async () => void (await rival.execute(stream, add(`theirs-${(rivalAdds += 1)}`), context())) });
        return { w, h: handler(w, maxAttempts === undefined ? {} : { maxAttempts }) };
      };

      const three = racing(3);
      await expect(three.h.execute(stream, add('mine'), context())).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      expect(three.w.appends).toBe(3);

      const byDefault = racing();
      await expect(byDefault.h.execute(stream, add('mine'), context())).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      expect(byDefault.w.appends).toBe(25);

      const keys = added(await store.readStream(stream)).map((e) => e.key);
      expect(keys).toHaveLength(28);
      expect(keys).not.toContain('mine');
    });
  });

  describe('commands on one stream at once', () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

    it('appends them in the order they came, each deciding on the ones before it, several in flight at once', async () => {
      const stream = aStream();
      const w = watched(store);
      const h = handler(w);
      await h.execute(stream, open, context());
      const results = await Promise.all(keys(20).map((key) => h.execute(stream, add(key), context())));
      expect(results.map((r) => r.newEvents[0]?.data)).toEqual(keys(20).map((key, i) => ({ key, n: i + 1 })));
      expect(added(await store.readStream(stream))).toEqual(keys(20).map((key, i) => ({ key, n: i + 1 })));
      expect(w.maxInFlight).toBeGreaterThan(1);
      expect(w.appends).toBe(21);
    });

    it('keeps a later command behind one still being admitted', async () => {
      const stream = aStream();
      const h = handler();
      await h.execute(stream, open, context());
      let letIn!: () => void;
      const admitted = new Promise<void>((resolve) => (letIn = resolve));
      const first = h.execute(stream, add('first'), context(), () => admitted);
      const second = h.execute(stream, add('second'), context());
      // Give the second every chance to overtake before the first is let in.
      for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
      letIn();
      await Promise.all([first, second]);
      expect(added(await store.readStream(stream))).toEqual([
        { key: 'first', n: 1 },
        { key: 'second', n: 2 },
      ]);
    });

    it('keeps a command that comes once an earlier one has finished behind one still being admitted', async () => {
      const stream = aStream();
      const h = handler();
      await h.execute(stream, open, context());
      const admittedSecond = deferred();
      const first = h.execute(stream, add('first'), context());
      const second = h.execute(stream, add('second'), context(), () => admittedSecond.promise);
      await first;
      // The first has left; the second is still in the stream's lane, being admitted.
      const third = h.execute(stream, add('third'), context());
      for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
      admittedSecond.resolve();
      await Promise.all([second, third]);
      expect(added(await store.readStream(stream)).map((e) => e.key)).toEqual(['first', 'second', 'third']);
    });

    it('makes a refusal final only once every append in flight before it has settled', async () => {
      const stream = aStream();
      const held = [deferred(), deferred()];
      // Appends 2 and 3 (the add and the close) wait on their way to the store until let go.
      const w = watched(store, { beforeAppend: async (n) => void (n === 2 || n === 3 ? await held[n - 2]?.promise : undefined) });
      const h = handler(w);
      await h.execute(stream, open, context());
      const adding = h.execute(stream, add('x'), context());
      const closing = h.execute(stream, close, context());
      // Decided on "closed, once those two land": a refusal that must wait for both.
      const late = h.execute(stream, add('y'), context());
      await eventually(async () => w.inFlight === 2, 5_000, 'two appends in flight');
      (held[0] as Deferred).resolve();
      await adding;
      // With the add stored and the close still on its way, the late add must not slip in.
      for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
      (held[1] as Deferred).resolve();
      await closing;
      await expect(late).rejects.toThrow(TallyClosedError);
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['Opened', 'Added', 'Closed']);
      expect(w.appends).toBe(3);
      // The first load, and the late command's one read once both had settled: no reading in a loop meanwhile.
      expect(w.reads).toBe(2);
    });

    it('with a store that does not pipeline, appends them one at a time, in the order they came', async () => {
      const stream = aStream();
      const w = watched(store, { pipelines: false });
      const h = handler(w);
      await h.execute(stream, open, context());
      await Promise.all(keys(8).map((key) => h.execute(stream, add(key), context())));
      expect(added(await store.readStream(stream))).toEqual(keys(8).map((key, i) => ({ key, n: i + 1 })));
      expect(w.maxInFlight).toBe(1);
      expect(w.appends).toBe(9);
    });

    it('decides them all again, in their order, when another process wrote before the first of them', async () => {
      const stream = aStream();
      const w = watched(store);
      const h = handler(w);
      await h.execute(stream, open, context());
      await handler(other).execute(stream, add('theirs'), context());
      const results = await Promise.all(keys(8).map((key) => h.execute(stream, add(key), context())));
      const expected = keys(8).map((key, i) => ({ key, n: i + 2 }));
      expect(results.map((r) => r.newEvents[0]?.data)).toEqual(expected);
      expect(added(await store.readStream(stream))).toEqual([{ key: 'theirs', n: 1 }, ...expected]);
      expect(h.peek(stream)).toMatchObject({ count: 9 });
    });
  });

  describe('loading a stream', () => {
    it('reads a stream it does not hold once, however many commands on it arrive at once', async () => {
      const stream = aStream();
      await handler(other).execute(stream, open, context());
      await handler(other).execute(stream, add('a', 5), context());
      const w = watched(store);
      const h = handler(w);
      const results = await Promise.all(['b', 'c', 'd', 'e'].map((key) => h.execute(stream, add(key), context())));
      expect(results.map((r) => r.newEvents[0]?.data)).toEqual(['b', 'c', 'd', 'e'].map((key, i) => ({ key, n: 6 + i })));
      expect(w.eventsRead).toBe(6);
    });

    it('keeps deciding right when it holds fewer streams than it is asked about, reading a dropped one again', async () => {
      const streams = [aStream(), aStream(), aStream()];
      const w = watched(store);
      // Room for one stream only (the default without a cache).
      const h = handler(w);
      for (const stream of streams) await h.execute(stream, open, context());
      for (const stream of streams) await h.execute(stream, add('a'), context());
      await Promise.all(streams.map((stream) => h.execute(stream, add('b'), context())));
      for (const stream of streams) expect(added(await store.readStream(stream))).toEqual([{ key: 'a', n: 1 }, { key: 'b', n: 2 }]);
      // Each later command found its stream dropped and read it again, but for the one held last:
      // the second round read one event per stream, the third two for each of the first two.
      expect(w.eventsRead).toBe(3 * 1 + 2 * 2);
      const roomy = handler(store, { cache: new StreamStateCache(3) });
      for (const stream of streams) await roomy.execute(stream, add('c'), context());
      for (const stream of streams) expect(roomy.peek(stream)).toMatchObject({ count: 3 });
    });

    it('folds a stream longer than one read, every event once', async () => {
      const stream = aStream();
      const h = handler();
      await h.execute(stream, open, context());
      await h.execute(stream, add('a', 600), context());
      await h.execute(stream, add('b', 600), context());
      const w = watched(store);
      const result = await handler(w).execute(stream, add('c'), context());
      expect(result.newEvents).toEqual([{ type: 'Added', data: { key: 'c', n: 1201 } }]);
      expect(w.eventsRead).toBe(1201);
      // Decided on the whole stream at once, not on its first page and then again after a lost race.
      expect(w.appends).toBe(1);
    });

    describe('from a snapshot', () => {
      /** The snapshots store, noting the revision of each save as it is asked for. */
      const noting = (inner: SnapshotStore): SnapshotStore & { saved: bigint[] } => {
        const saved: bigint[] = [];
        return { saved, load: (id) => inner.load(id), save: (id, snapshot: StreamSnapshot) => (saved.push(snapshot.revision), inner.save(id, snapshot)) };
      };
      const snapshotting = (eventStore: EventStore, snapshots: SnapshotStore, options: { version?: string; every?: number } = {}) =>
        handler(eventStore, {
          snapshots: { store: snapshots, every: options.every ?? 3, version: options.version ?? 'v1', onError: (error) => { throw error; } },
        });
      /** A process new to the stream, which writes no snapshot of its own. */
      const reader = (eventStore: EventStore, version = 'v1') => snapshotting(eventStore, new SqlSnapshotStore(db), { version, every: 1000 });
      /** A stream of seven events (revisions 0–6), written with snapshots every 3 events. */
      const aSnapshottedStream = async () => {
        const stream = aStream();
        const snapshots = noting(new SqlSnapshotStore(db));
        const h = snapshotting(store, snapshots);
        await h.execute(stream, open, context());
        for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) await h.execute(stream, add(key), context());
        await eventually(async () => (await new SqlSnapshotStore(db).load(stream))?.revision === 5n, 10_000, 'the snapshot at revision 5');
        return { stream, saved: snapshots.saved };
      };

      it('writes one every `every` events, and a process new to the stream reads only what came after it', async () => {
        const { stream, saved } = await aSnapshottedStream();
        expect(saved).toEqual([2n, 5n]);
        const w = watched(store);
        const result = await reader(w).execute(stream, add('g'), context());
        expect(result.newEvents).toEqual([{ type: 'Added', data: { key: 'g', n: 7 } }]);
        expect(result.state.keys).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
        // The snapshot's own last event, read again to check it, and the one after it.
        expect(w.eventsRead).toBe(2);
      });

      it('ignores a snapshot of another version, or one that does not match its stream, and folds the events instead', async () => {
        const { stream } = await aSnapshottedStream();
        const foldedFromStart = async (version: string) => {
          const w = watched(store);
          const result = await reader(w, version).execute(stream, add(randomUUID()), context());
          return { read: w.eventsRead, count: result.state.count };
        };
        expect(await foldedFromStart('v2')).toEqual({ read: 7, count: 7 });

        await db.query(`UPDATE stream_snapshots SET last_hash = 'x', state = jsonb_set(state, '{count}', '100') WHERE stream_id = $1`, [stream]);
        // The snapshot's last event is read, found not to match, and then the whole stream.
        expect(await foldedFromStart('v1')).toEqual({ read: 1 + 8, count: 8 });

        // A snapshot past the end of its stream (the stream was restored from an older backup, say).
        const last = (await store.readStream(stream)).at(-1);
        await db.query(`UPDATE stream_snapshots SET revision = 100, last_hash = $2 WHERE stream_id = $1`, [stream, last?.metadata.hash]);
        expect(await foldedFromStart('v1')).toEqual({ read: 9, count: 9 });
      });

      it('reports a snapshot store that fails, and goes on without it: only the load is slower', async () => {
        const errors: unknown[] = [];
        const stream = aStream();
        const h = handler(store, { snapshots: { store: new SqlSnapshotStore(db), every: 1, version: 'v1', onError: (error) => errors.push(error) } });
        // The snapshots' table is gone (a botched migration, say) while the command runs.
        await db.query(`ALTER TABLE stream_snapshots RENAME TO stream_snapshots_away`);
        try {
          expect((await h.execute(stream, open, context())).newEvents).toHaveLength(1);
          // The load before the command, and the save after it.
          await eventually(async () => errors.length === 2, 10_000, 'both failures reported');
        } finally {
          await db.query(`ALTER TABLE stream_snapshots_away RENAME TO stream_snapshots`);
        }
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['Opened']);
      });
    });
  });
});

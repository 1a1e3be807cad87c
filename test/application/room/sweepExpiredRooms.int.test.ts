import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';
import { silentLogger, type Logger } from '../../../src/application/ports/logger';
import type { ExpiryCandidate } from '../../../src/application/ports/readModels';
import type { Actor, RoomCommands } from '../../../src/application/room/roomCommands';
import { sweepExpiredRooms, type SweepOptions, type SweepResult } from '../../../src/application/room/sweepExpiredRooms';
import { roomStreamName } from '../../../src/domain/room';
import { databaseKinds } from '../../support/databases';
import { openRoomHarness, ttl, type RoomHarness } from '../../support/roomHarness';

/**
 * One expiry sweep over the real room commands and the real read-model queries, on a
 * real database: paging through the candidates, going on past a room that fails, keeping
 * a room whose stream moved on after it was nominated, concurrency, and stopping.
 * Every test starts from a store where nothing is due (see beforeEach).
 */
describe.each(databaseKinds)('sweepExpiredRooms on %s', (kind) => {
  let l: RoomHarness;
  beforeAll(async () => {
    l = await openRoomHarness(kind);
  });
  afterAll(async () => {
    await l?.close();
  });
  beforeEach(async () => {
    // Whatever an earlier test left due is expired now, so each test sees only its own rooms.
    await l.settle();
    await l.sweep();
    await l.settle();
  });

  /**
   * `count` fresh rooms with no message, all due once the clock has moved by the empty TTL.
   * They were opened at the same instant, so the read model offers them in room id order, as returned.
   */
  async function dueRooms(count: number): Promise<Array<{ roomId: string; borrower: Actor }>> {
    const rooms: Array<{ roomId: string; borrower: Actor }> = [];
    for (let i = 0; i < count; i += 1) rooms.push(await l.anOpenRoom());
    l.clock.advance(ttl.emptyTtlMs);
    await l.settle();
    return rooms.map(({ roomId, borrower }) => ({ roomId, borrower })).sort((a, b) => (a.roomId < b.roomId ? -1 : 1));
  }

  /** The real queries, with each call's arguments noted; `afterPage` runs once a page has been read. */
  function recordedQueries(afterPage: (page: ExpiryCandidate[]) => Promise<void> = async () => undefined) {
    const calls: Array<{ now: string; limit: number; after: string | null }> = [];
    const queries = {
      findExpiryCandidates: async (...args: Parameters<RoomHarness['queries']['findExpiryCandidates']>) => {
        const [now, , , limit, after] = args;
        calls.push({ now: now.toISOString(), limit, after: after?.roomId ?? null });
        const page = await l.queries.findExpiryCandidates(...args);
        await afterPage(page);
        return page;
      },
    };
    return { queries, calls };
  }

  const sweep = (
    deps: { queries?: ReturnType<typeof recordedQueries>['queries']; commands?: Pick<RoomCommands, 'expireRoom'>; logger?: Logger },
    options: Omit<SweepOptions, 'ttl'>,
  ): Promise<SweepResult> =>
    sweepExpiredRooms(
      { queries: deps.queries ?? l.queries, commands: deps.commands ?? l.commands, clock: l.clock, ids: randomIds, logger: deps.logger ?? silentLogger },
      { ttl, ...options },
    );

  const expiries = async (roomId: string) => (await l.events(roomId)).filter((e) => e.type === 'RoomExpired');

  it('pages through every due room once, with one `now` for every page, and expires each under the sweep\u2019s correlation id', async () => {
    const rooms = (await dueRooms(25)).map((r) => r.roomId);
    const { queries, calls } = recordedQueries();

    const result = await sweep({ queries }, { pageSize: 10 });

    expect(result).toMatchObject({ examined: 25, expired: 25, kept: 0, failed: 0, aborted: false });
    expect(calls.map((c) => c.after === null)).toEqual([true, false, false]);
    expect(new Set(calls.map((c) => c.now))).toEqual(new Set([l.clock.now().toISOString()]));
    for (const roomId of rooms) {
      const expired = await expiries(roomId);
      expect(expired).toHaveLength(1);
      expect(expired[0]?.metadata.correlationId).toBe(result.correlationId);
    }
  });

  it('asks for one more page when the last one was exactly full, and stops on the empty one', async () => {
    await dueRooms(20);
    const { queries, calls } = recordedQueries();
    const result = await sweep({ queries }, { pageSize: 10 });
    expect(result).toMatchObject({ examined: 20, expired: 20 });
    expect(calls).toHaveLength(3);
  });

  it('keeps a nominated room whose stream moved on, goes on past a room that fails (logged), and counts each', async () => {
    const rooms = await dueRooms(12);
    // The first two are on the first page (pageSize 5), so nothing later could see them change.
    const [written, expiredElsewhere] = rooms as [{ roomId: string; borrower: Actor }, { roomId: string; borrower: Actor }];
    const failing = new Set([rooms[6]?.roomId, rooms[10]?.roomId] as string[]);
    // Once the read model has nominated them: a message in one room, another expired by someone else.
    let interfered = false;
    const { queries } = recordedQueries(async () => {
      if (interfered) return;
      interfered = true;
      await l.send(written.roomId, written.borrower);
      expect((await l.commands.expireRoom(expiredElsewhere.roomId, ttl, randomUUID())).expired).toBe(true);
    });
    // The store refuses appends to two rooms' streams, as an unreachable shard would.
    const unavailable = Object.assign(Object.create(l.store) as EventStore, {
      appendToStream: (...args: Parameters<EventStore['appendToStream']>) =>
        [...failing].some((roomId) => args[0] === roomStreamName(roomId)) ? Promise.reject(new Error('store unavailable')) : l.store.appendToStream(...args),
    });
    const warnings: Array<{ fields: object; message: string }> = [];
    const logger: Logger = { ...silentLogger, warn: (fields, message) => warnings.push({ fields, message }) };

    const result = await sweep({ queries, commands: l.commandsOver(unavailable), logger }, { pageSize: 5, concurrency: 2 });

    expect(result).toMatchObject({ examined: 12, expired: 8, kept: 2, failed: 2, aborted: false });
    expect(warnings.map((w) => (w.fields as { roomId: string }).roomId).sort()).toEqual([...failing].sort());
    expect(warnings.every((w) => (w.fields as { correlationId: string }).correlationId === result.correlationId)).toBe(true);
    expect((await l.events(written.roomId)).map((e) => e.type)).toEqual(['RoomOpened', 'MessageSent']);
    const elsewhere = await expiries(expiredElsewhere.roomId);
    expect(elsewhere).toHaveLength(1);
    expect(elsewhere[0]?.metadata.correlationId).not.toBe(result.correlationId);
    for (const roomId of failing) expect(await expiries(roomId)).toEqual([]);
    // The next sweep tries the failed rooms again.
    await l.settle();
    const again = await sweep({}, { pageSize: 5 });
    expect(again).toMatchObject({ examined: 2, expired: 2, failed: 0 });
  });

  it('decides at most `concurrency` rooms at once', async () => {
    await dueRooms(30);
    let inFlight = 0;
    let most = 0;
    const counted: Pick<RoomCommands, 'expireRoom'> = {
      expireRoom: async (...args) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await l.commands.expireRoom(...args);
        } finally {
          inFlight -= 1;
        }
      },
    };
    const result = await sweep({ commands: counted }, { pageSize: 10, concurrency: 3 });
    expect(result.expired).toBe(30);
    expect(most).toBe(3);
  });

  it('stops between rooms when its signal fires, and says so; the rooms it did not reach stay open', async () => {
    const rooms = (await dueRooms(15)).map((r) => r.roomId);
    const abort = new AbortController();
    let calls = 0;
    const aborting: Pick<RoomCommands, 'expireRoom'> = {
      expireRoom: async (...args) => {
        calls += 1;
        if (calls === 4) abort.abort();
        return l.commands.expireRoom(...args);
      },
    };

    const result = await sweep({ commands: aborting }, { pageSize: 10, concurrency: 1, signal: abort.signal });

    expect(result).toMatchObject({ aborted: true, examined: 4, expired: 4 });
    const expired = await Promise.all(rooms.map(async (roomId) => (await expiries(roomId)).length));
    expect(expired.filter((n) => n === 1)).toHaveLength(4);
    expect(expired.filter((n) => n === 0)).toHaveLength(11);
  });

  it('with nothing due, reads one page and records nothing', async () => {
    await l.anOpenRoom();
    const head = await l.store.headCheckpoint();
    const { queries, calls } = recordedQueries();
    const result = await sweep({ queries }, {});
    expect(result).toMatchObject({ examined: 0, expired: 0, kept: 0, failed: 0, aborted: false });
    expect(calls).toHaveLength(1);
    expect(await l.store.headCheckpoint()).toBe(head);
  });
});

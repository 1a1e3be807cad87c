import type { Logger } from '../../../src/application/ports/logger';
import { silentLogger } from '../../../src/application/ports/logger';
import type { ExpiryCandidate } from '../../../src/application/ports/readModels';
import { sweepExpiredRooms, type SweepExpiredRoomsDeps } from '../../../src/application/room/sweepExpiredRooms';
import { ManualClock } from '../../support/server';

type Outcome = 'expire' | 'keep' | 'fail';

const ttl = { emptyTtlMs: 60_000, idleTtlMs: 3_600_000 };

/** A read model holding `outcomes.size` candidates, and an expireRoom that answers from `outcomes`. */
function fakes(outcomes: Map<string, Outcome>, options: { onExpire?: (roomId: string) => void } = {}) {
  const candidates: ExpiryCandidate[] = [...outcomes.keys()].map((roomId, i) => ({
    roomId,
    lastActivityAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  }));
  const queryCalls: { now: Date; limit: number; after: ExpiryCandidate | null }[] = [];
  const expireCalls: { roomId: string; correlationId: string }[] = [];
  const warnings: { fields: object; message: string }[] = [];
  const logger: Logger = { ...silentLogger, warn: (fields, message) => warnings.push({ fields, message }) };
  const clock = new ManualClock(new Date('2026-03-01T12:00:00.000Z'));
  let nextId = 0;
  const deps: SweepExpiredRoomsDeps = {
    clock,
    ids: { newId: () => `id-${(nextId += 1)}` },
    logger,
    queries: {
      async findExpiryCandidates(now, emptyTtlMs, idleTtlMs, limit, after = null) {
        expect({ emptyTtlMs, idleTtlMs }).toEqual(ttl);
        queryCalls.push({ now, limit, after });
        // Like the SQL: keyset on (lastActivityAt, roomId), whatever happened to the rooms meanwhile.
        const start = after === null ? 0 : candidates.findIndex((c) => c.roomId === after.roomId) + 1;
        return candidates.slice(start, start + limit);
      },
    },
    commands: {
      async expireRoom(roomId, givenTtl, correlationId) {
        expect(givenTtl).toEqual(ttl);
        expireCalls.push({ roomId, correlationId });
        options.onExpire?.(roomId);
        await new Promise((resolve) => setImmediate(resolve));
        const outcome = outcomes.get(roomId);
        if (outcome === 'fail') throw new Error(`store unavailable for ${roomId}`);
        return { expired: outcome === 'expire', checkpoint: null };
      },
    },
  };
  return { deps, queryCalls, expireCalls, warnings, clock };
}

const rooms = (n: number, outcome: (i: number) => Outcome) =>
  new Map(Array.from({ length: n }, (_, i) => [`room-${String(i).padStart(3, '0')}`, outcome(i)] as const));

describe('sweepExpiredRooms', () => {
  it('pages through every candidate once, with one `now` for every page', async () => {
    const { deps, queryCalls, expireCalls } = fakes(rooms(25, () => 'expire'));

    const result = await sweepExpiredRooms(deps, { ttl, pageSize: 10 });

    expect(result).toMatchObject({ examined: 25, expired: 25, kept: 0, failed: 0, aborted: false });
    expect(expireCalls.map((c) => c.roomId).sort()).toEqual([...rooms(25, () => 'expire').keys()]);
    expect(queryCalls.map((c) => c.after?.roomId ?? null)).toEqual([null, 'room-009', 'room-019']);
    expect(new Set(queryCalls.map((c) => c.now.toISOString()))).toEqual(new Set(['2026-03-01T12:00:00.000Z']));
  });

  it('asks for one more page when the last one was exactly full, and stops on the empty one', async () => {
    const { deps, queryCalls } = fakes(rooms(20, () => 'expire'));
    const result = await sweepExpiredRooms(deps, { ttl, pageSize: 10 });
    expect(result.examined).toBe(20);
    expect(queryCalls).toHaveLength(3);
  });

  it('goes on past a room that fails, logs it, and counts it', async () => {
    const { deps, warnings } = fakes(rooms(12, (i) => (i === 3 || i === 7 ? 'fail' : i % 2 === 0 ? 'expire' : 'keep')));

    const result = await sweepExpiredRooms(deps, { ttl, pageSize: 5, concurrency: 2 });

    expect(result).toMatchObject({ examined: 12, expired: 6, kept: 4, failed: 2, aborted: false });
    expect(warnings.map((w) => (w.fields as { roomId: string }).roomId).sort()).toEqual(['room-003', 'room-007']);
    expect(warnings[0]?.fields).toMatchObject({ correlationId: result.correlationId });
  });

  it('records one correlation id for the whole sweep', async () => {
    const { deps, expireCalls } = fakes(rooms(7, () => 'expire'));
    const result = await sweepExpiredRooms(deps, { ttl, pageSize: 3 });
    expect(new Set(expireCalls.map((c) => c.correlationId))).toEqual(new Set([result.correlationId]));
  });

  it('decides at most `concurrency` rooms at once', async () => {
    let inFlight = 0;
    let most = 0;
    const { deps } = fakes(rooms(30, () => 'keep'));
    const expire = deps.commands.expireRoom;
    deps.commands = {
      expireRoom: async (...args) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await expire(...args);
        } finally {
          inFlight -= 1;
        }
      },
    };
    await sweepExpiredRooms(deps, { ttl, pageSize: 10, concurrency: 3 });
    expect(most).toBe(3);
  });

  it('stops between rooms when its signal fires, and says so', async () => {
    const abort = new AbortController();
    const { deps, expireCalls } = fakes(rooms(50, () => 'expire'), {
      onExpire: () => {
        if (expireCalls.length === 4) abort.abort();
      },
    });

    const result = await sweepExpiredRooms(deps, { ttl, pageSize: 10, concurrency: 1, signal: abort.signal });

    expect(result).toMatchObject({ aborted: true, examined: 4, expired: 4 });
    expect(expireCalls).toHaveLength(4);
  });

  it('with nothing due, reads one page and changes nothing', async () => {
    const { deps, expireCalls } = fakes(new Map());
    const result = await sweepExpiredRooms(deps, { ttl });
    expect(result).toMatchObject({ examined: 0, expired: 0, kept: 0, failed: 0, aborted: false });
    expect(expireCalls).toHaveLength(0);
  });
});

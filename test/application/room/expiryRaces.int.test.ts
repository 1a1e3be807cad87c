import { randomUUID } from 'node:crypto';
import type { MessageSent, RoomExpired } from '../../../src/domain/room';
import { RoomExpiredError } from '../../../src/domain/room';
import type { EventStore } from '../../../src/application/ports/eventStore';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { silentLogger } from '../../../src/application/ports/logger';
import { UnavailableError } from '../../../src/application/unavailable';
import { randomIds } from '../../../src/application/ports/ids';
import { sweepExpiredRooms, type SweepResult } from '../../../src/application/room/sweepExpiredRooms';
import type { RoomCommands } from '../../../src/application/room/roomCommands';
import { databaseKinds } from '../../support/databases';
import { openRoomHarness, type RoomHarness, ttl } from '../../support/roomHarness';

/**
 * The expiry decision is made on each room's stream with optimistic concurrency. These
 * suites race it against what could break it: a send at the same moment, and other
 * sweeps (on PostgreSQL, over separate connection pools, as other processes would).
 */
describe.each(databaseKinds)('expiry under concurrency on %s', (kind) => {
  let l: RoomHarness;
  /** Room commands as a second process would run them: its own connections (PostgreSQL). */
  let other: RoomCommands;
  beforeAll(async () => {
    l = await openRoomHarness(kind);
    // PGlite is embedded: one process owns its data directory, so "another process" shares it.
    other = kind === 'pglite' ? l.commandsOver(l.store) : l.commandsOver(new PostgresEventStore(await l.tdb.connect()));
  });
  afterAll(async () => {
    await l?.close();
  });

  const sweepWith = (commands: RoomCommands, pageSize: number): Promise<SweepResult> =>
    sweepExpiredRooms(
      { queries: l.queries, commands, clock: l.clock, ids: randomIds, logger: silentLogger },
      { ttl, pageSize, concurrency: 3 },
    );
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /**
   * A send as a client makes it: one the store sheds (`unavailable`: its commit queue's
   * 500 ms deadline passed, nothing was written) is sent again with the same
   * clientMessageId, as the contract says. On PGlite every query of the sweeps, the
   * projector and the commands goes through one connection, so on a loaded machine an
   * append can wait past the deadline; that is the store working, not the race failing.
   */
  let shed = 0;
  const sendAsClient = async (commands: RoomCommands, ...args: Parameters<RoomCommands['sendMessage']>): ReturnType<RoomCommands['sendMessage']> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await commands.sendMessage(...args);
      } catch (error) {
        if (!(error instanceof UnavailableError) || attempt === 20) throw error;
        shed += 1;
        await pause(20 + Math.random() * 30);
      }
    }
  };

  it('a send racing the sweep either lands and keeps the room open, or is refused with room_expired; never both, never half', async () => {
    const ROOMS = 15;
    const tally = { sendWon: 0, expiryWon: 0 };
    const conflictsBefore = l.conflicts;
    const shedBefore = shed;
    // The sends spread over 40 ms; the sweep starts `sweepDelay` ms in. It moves each round
    // towards the side that lost every race, so both outcomes occur on a fast or a slow machine.
    let sweepDelay = 15;
    let round = 0;
    for (; round < 12 && (round < 4 || tally.sendWon === 0 || tally.expiryWon === 0); round += 1) {
      const rooms = await Promise.all(Array.from({ length: ROOMS }, () => l.anOpenRoom()));
      l.clock.advance(ttl.emptyTtlMs);
      await l.settle();

      // Every room is due. Half of the sends go through the other process's connections.
      const sweeping = pause(sweepDelay).then(() => sweepWith(l.commands, 4));
      const sends = rooms.map(async (room, i) => {
        await pause(Math.floor(Math.random() * 40));
        const sender = i % 2 === 0 ? room.borrower : room.lender;
        const commands = i % 3 === 0 ? other : l.commands;
        return sendAsClient(commands, { roomId: room.roomId, clientMessageId: randomUUID(), body: `race ${round}/${i}` }, sender).then(
          (sent) => ({ ok: true as const, seq: sent.message.seq }),
          (error: unknown) => ({ ok: false as const, error }),
        );
      });
      const [swept, ...outcomes] = await Promise.all([sweeping, ...sends]);
      expect(swept.failed).toBe(0);

      const won = outcomes.filter((o) => o.ok).length;
      if (won === 0) sweepDelay += 10;
      if (won === ROOMS) sweepDelay = Math.max(0, sweepDelay - 10);

      for (const [i, room] of rooms.entries()) {
        const outcome = outcomes[i];
        const events = await l.events(room.roomId);
        const types = events.map((e) => e.type);
        if (outcome?.ok) {
          tally.sendWon += 1;
          expect(types).toEqual(['RoomOpened', 'MessageSent']);
          expect(outcome.seq).toBe(1);
        } else {
          tally.expiryWon += 1;
          expect(outcome?.error).toBeInstanceOf(RoomExpiredError);
          expect(types).toEqual(['RoomOpened', 'RoomExpired']);
          expect((events[1]?.data as RoomExpired['data']).reason).toBe('empty');
        }
      }

      // The read side agrees with the streams: open rooms hold their message, expired ones none.
      await l.settle();
      for (const [i, room] of rooms.entries()) {
        const view = await l.queries.getRoom(room.roomId, room.lender.userId);
        const messages = (await l.queries.getMessages(room.roomId, { limit: 10 })).messages;
        if (outcomes[i]?.ok) {
          expect(view?.status).toBe('open');
          expect(messages.map((m) => m.body)).toEqual([`race ${round}/${i}`]);
        } else {
          expect(view?.status).toBe('expired');
          expect(messages).toEqual([]);
        }
      }
    }
    process.stdout.write(`[${kind}] send vs sweep in ${round} rounds: the send won ${tally.sendWon}, the expiry won ${tally.expiryWon}; ${l.conflicts - conflictsBefore} appends lost a race and were decided again; ${shed - shedBefore} sends shed and sent again\n`);
    expect(tally.sendWon + tally.expiryWon).toBe(round * ROOMS);
    expect(tally.sendWon).toBeGreaterThan(0);
    expect(tally.expiryWon).toBeGreaterThan(0);
  });

  /** A store whose next append waits, after the command has read and decided, until released. */
  const gated = () => {
    let reached!: () => void;
    let release!: () => void;
    const atAppend = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    const store = Object.assign(Object.create(l.store) as EventStore, {
      appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
        if (first) {
          first = false;
          reached();
          await released;
        }
        return l.store.appendToStream(...args);
      },
    });
    return { commands: l.commandsOver(store), atAppend, release };
  };

  it('a send that decided on a stream the sweep then expired is decided again, and refused with room_expired', async () => {
    const { roomId, borrower } = await l.anOpenRoom();
    l.clock.advance(ttl.emptyTtlMs);
    const slow = gated();
    const conflictsBefore = l.conflicts;

    const sending = slow.commands.sendMessage({ roomId, clientMessageId: randomUUID(), body: 'just in time?' }, borrower);
    await slow.atAppend;
    expect((await l.commands.expireRoom(roomId, ttl, randomUUID())).expired).toBe(true);
    slow.release();

    await expect(sending).rejects.toBeInstanceOf(RoomExpiredError);
    expect(l.conflicts - conflictsBefore).toBe(1);
    expect(await l.types(roomId)).toEqual(['RoomOpened', 'RoomExpired']);
  });

  it('an expiry that decided on a stream a send then extended is decided again, and keeps the room open', async () => {
    const { roomId, borrower } = await l.anOpenRoom();
    l.clock.advance(ttl.emptyTtlMs);
    const slow = gated();
    const conflictsBefore = l.conflicts;

    const expiring = slow.commands.expireRoom(roomId, ttl, randomUUID());
    await slow.atAppend;
    await l.send(roomId, borrower, 'still interested!');
    slow.release();

    expect((await expiring).expired).toBe(false);
    expect(l.conflicts - conflictsBefore).toBe(1);
    expect(await l.types(roomId)).toEqual(['RoomOpened', 'MessageSent']);
  });

  it('an idle room racing a burst of sends is either expired with every send refused, or kept with every send recorded; both happen', async () => {
    const ROOMS = 8;
    const SENDS = 5;
    const tally = { expired: 0, kept: 0 };
    // How much later than the first send the sweeps start (negative: earlier). It moves each round
    // towards the side that lost every race, so both outcomes occur on a fast or a slow machine.
    let sweepLead = 0;
    let round = 0;
    const shedBefore = shed;
    for (; round < 10 && (round < 2 || tally.expired === 0 || tally.kept === 0); round += 1) {
      const rooms = await Promise.all(Array.from({ length: ROOMS }, () => l.anOpenRoom()));
      // Each room has one message, then stays quiet until its idle TTL is exactly up.
      await Promise.all(rooms.map((room) => l.send(room.roomId, room.borrower)));
      l.clock.advance(ttl.idleTtlMs);
      await l.settle();

      const sweeps = pause(Math.max(0, sweepLead)).then(() => Promise.all([sweepWith(l.commands, 3), sweepWith(other, 5)]));
      const sends = rooms.map((room) =>
        Promise.all(
          Array.from({ length: SENDS }, async (_, j) => {
            await pause(Math.max(0, -sweepLead) + j * 7);
            const sender = j % 2 === 0 ? room.lender : room.borrower;
            const commands = j % 2 === 0 ? other : l.commands;
            return sendAsClient(commands, { roomId: room.roomId, clientMessageId: randomUUID(), body: `burst ${j}` }, sender).then(
              () => 'sent' as const,
              (error: unknown) => (error instanceof RoomExpiredError ? ('refused' as const) : error),
            );
          }),
        ),
      );
      const [[a, b], ...outcomes] = await Promise.all([sweeps, ...sends]);
      expect(a.failed + b.failed).toBe(0);

      let expiredThisRound = 0;
      for (const [i, room] of rooms.entries()) {
        const events = await l.events(room.roomId);
        const seqs = events.filter((e) => e.type === 'MessageSent').map((e) => (e.data as MessageSent['data']).seq);
        if (events.some((e) => e.type === 'RoomExpired')) {
          expiredThisRound += 1;
          // Expired on its first message's idle TTL: nothing after RoomExpired, and every send was told room_expired.
          expect(events.map((e) => e.type)).toEqual(['RoomOpened', 'MessageSent', 'RoomExpired']);
          expect((events[2]?.data as RoomExpired['data']).reason).toBe('idle');
          expect(outcomes[i]).toEqual(Array(SENDS).fill('refused'));
        } else {
          // A send landed first, so the room was active again and no sweep could expire it: every send is recorded, in order.
          expect(seqs).toEqual(Array.from({ length: SENDS + 1 }, (_, k) => k + 1));
          expect(outcomes[i]).toEqual(Array(SENDS).fill('sent'));
        }
      }
      tally.expired += expiredThisRound;
      tally.kept += ROOMS - expiredThisRound;
      if (expiredThisRound === ROOMS) sweepLead += 10;
      if (expiredThisRound === 0) sweepLead -= 10;
    }
    process.stdout.write(`[${kind}] burst vs two sweeps in ${round} rounds: ${tally.expired} rooms expired, ${tally.kept} kept; ${shed - shedBefore} sends shed and sent again\n`);
    expect(tally.expired).toBeGreaterThan(0);
    expect(tally.kept).toBeGreaterThan(0);
  });

  it('two sweeps at once record exactly one RoomExpired per room', async () => {
    const conflictsBefore = l.conflicts;
    for (let round = 0; round < 3; round += 1) {
      const rooms = await Promise.all(Array.from({ length: 25 }, () => l.anOpenRoom()));
      l.clock.advance(ttl.emptyTtlMs);
      await l.settle();
      const before = await l.store.headCheckpoint();

      const [a, b] = await Promise.all([sweepWith(l.commands, 7), sweepWith(other, 4)]);

      expect(a.failed + b.failed).toBe(0);
      for (const room of rooms) {
        expect((await l.types(room.roomId)).filter((t) => t === 'RoomExpired')).toHaveLength(1);
      }
      // Across the whole store (earlier tests' rooms may be due too): one RoomExpired per
      // stream, and as many as the two sweeps say they recorded between them.
      await l.settle();
      const appended = (await l.store.readAll(before, 100_000)).filter((e) => e.type === 'RoomExpired');
      const perStream = new Map<string, number>();
      for (const e of appended) perStream.set(e.streamId, (perStream.get(e.streamId) ?? 0) + 1);
      expect([...perStream.values()].every((n) => n === 1)).toBe(true);
      expect(appended).toHaveLength(a.expired + b.expired);
      expect(a.expired + b.expired).toBeGreaterThanOrEqual(rooms.length);
      // The stream judged each candidate: what one sweep expired, the other kept.
      expect(new Set(appended.map((e) => e.metadata.correlationId))).toEqual(
        new Set([a, b].filter((sweep) => sweep.expired > 0).map((sweep) => sweep.correlationId)),
      );
    }
    process.stdout.write(`[${kind}] two sweeps: ${l.conflicts - conflictsBefore} appends lost a race and were decided again\n`);
  });

  it('two reopens at once record one RoomReopened; one caller is told it reopened the room', async () => {
    for (let round = 0; round < 5; round += 1) {
      const { roomId, postId, borrower } = await l.anOpenRoom();
      l.clock.advance(ttl.emptyTtlMs);
      expect((await l.commands.expireRoom(roomId, ttl, randomUUID())).expired).toBe(true);

      const results = await Promise.all([l.commands.openRoom(postId, borrower), other.openRoom(postId, borrower)]);

      expect(results.map((r) => r.opened).sort()).toEqual([false, true]);
      expect(results.map((r) => r.room.status)).toEqual(['open', 'open']);
      expect(await l.types(roomId)).toEqual(['RoomOpened', 'RoomExpired', 'RoomReopened']);
    }
  });

  it('keeps a room the read model nominates when its stream has a newer message the read model has not caught up with', async () => {
    const { roomId, borrower } = await l.anOpenRoom();
    l.clock.advance(ttl.emptyTtlMs);
    await l.send(roomId, borrower);
    const stale = { findExpiryCandidates: async () => [{ roomId, lastActivityAt: new Date(0).toISOString() }] };

    const result = await sweepExpiredRooms(
      { queries: stale, commands: l.commands, clock: l.clock, ids: randomIds, logger: silentLogger },
      { ttl, pageSize: 10 },
    );

    expect(result).toMatchObject({ examined: 1, expired: 0, kept: 1, failed: 0 });
    expect(await l.types(roomId)).toEqual(['RoomOpened', 'MessageSent']);
  });
});

import { randomUUID } from 'node:crypto';
import type { MessageSent, RoomExpired } from '../../../src/domain/room';
import { BlockedError, OwnPostError, RoomExpiredError } from '../../../src/domain/room';
import { databaseKinds } from '../../support/databases';
import { actor, openRoomHarness, type RoomHarness, ttl } from '../../support/roomHarness';
import { DAY, HOUR, MINUTE } from '../../support/time';

/**
 * A room's life through the use cases, on a real database: expiry by the sweep (time
 * driven by a manual clock), what an expired room looks like to its participants,
 * reopening, and blocking. HTTP and WebSocket suites check the same over the wire.
 */
describe.each(databaseKinds)('expiry, reopening and blocking through the room use cases on %s', (kind) => {
  let l: RoomHarness;
  beforeAll(async () => {
    l = await openRoomHarness(kind);
  });
  afterAll(async () => {
    await l?.close();
  });

  /** Sweep as the scheduler would: on what the read model holds now. */
  const sweep = async () => {
    await l.settle();
    return l.sweep();
  };
  const expiredEvents = async (roomId: string) =>
    (await l.events(roomId)).filter((e) => e.type === 'RoomExpired').map((e) => ({ data: e.data as RoomExpired['data'], metadata: e.metadata }));
  const listed = async (userId: string) => (await l.queries.listRooms(userId, 50, null)).rooms.map((r) => r.roomId);

  describe('expiry', () => {
    it('expires a room with no message when the empty TTL has passed, and not a millisecond before', async () => {
      const { roomId } = await l.anOpenRoom();
      const openedAt = l.clock.now();

      l.clock.advance(ttl.emptyTtlMs - 1);
      await sweep();
      expect(await l.types(roomId)).toEqual(['RoomOpened']);
      expect((await l.commands.expireRoom(roomId, ttl, randomUUID())).expired).toBe(false);

      l.clock.advance(1);
      const result = await sweep();

      expect(result.expired).toBeGreaterThanOrEqual(1);
      const [expired, ...more] = await expiredEvents(roomId);
      expect(more).toEqual([]);
      expect(expired?.data).toEqual({
        roomId,
        reason: 'empty',
        expiredAt: new Date(openedAt.getTime() + ttl.emptyTtlMs).toISOString(),
      });
      expect(expired?.metadata).toMatchObject({ actorId: 'system:scheduler', correlationId: result.correlationId });
    });

    it('keeps a room with a message past the empty TTL, then expires it when the idle TTL has passed since the last message', async () => {
      const { roomId, lender, borrower } = await l.anOpenRoom();
      l.clock.advance(59 * MINUTE);
      await l.send(roomId, borrower);
      l.clock.advance(10 * MINUTE);
      const last = await l.send(roomId, lender);

      l.clock.advance(2 * HOUR);
      await sweep();
      expect(await l.types(roomId)).not.toContain('RoomExpired');

      l.clock.set(new Date(Date.parse(last.message.sentAt) + ttl.idleTtlMs - 1));
      await sweep();
      expect(await l.types(roomId)).not.toContain('RoomExpired');

      l.clock.advance(1);
      await sweep();
      expect((await expiredEvents(roomId)).map((e) => e.data.reason)).toEqual(['idle']);
    });

    it('counts only messages as activity: reading and blocking do not keep a room open', async () => {
      const { roomId, lender, borrower } = await l.anOpenRoom();
      const sent = await l.send(roomId, borrower);
      l.clock.advance(29 * DAY);
      await l.commands.markRead(roomId, sent.message.seq, lender);
      await l.commands.block(roomId, lender);
      await l.commands.unblock(roomId, lender);

      l.clock.set(new Date(Date.parse(sent.message.sentAt) + ttl.idleTtlMs));
      await sweep();

      expect((await expiredEvents(roomId)).map((e) => e.data.reason)).toEqual(['idle']);
    });

    it('takes an expired room out of both participants\u2019 room lists, but the room itself still reads as expired', async () => {
      const { roomId, lender, borrower } = await l.anOpenRoom();
      await l.send(roomId, borrower, 'is it free on Saturday?');
      await l.settle();
      expect(await listed(lender.userId)).toContain(roomId);
      expect(await listed(borrower.userId)).toContain(roomId);

      l.clock.advance(ttl.idleTtlMs);
      await sweep();
      await l.settle();

      expect(await listed(lender.userId)).not.toContain(roomId);
      expect(await listed(borrower.userId)).not.toContain(roomId);
      expect(await l.queries.getRoom(roomId, borrower.userId)).toMatchObject({ status: 'expired' });
      expect((await l.queries.getMessages(roomId, { limit: 50 })).messages.map((m) => m.body)).toEqual(['is it free on Saturday?']);
    });

    it('refuses sends from either participant in an expired room with room_expired, but answers a retry of an earlier send', async () => {
      const { roomId, lender, borrower } = await l.anOpenRoom();
      const clientMessageId = randomUUID();
      const first = await l.commands.sendMessage({ roomId, clientMessageId, body: 'hello' }, borrower);
      l.clock.advance(ttl.idleTtlMs);
      await sweep();

      for (const sender of [borrower, lender]) {
        await expect(l.send(roomId, sender)).rejects.toMatchObject({ constructor: RoomExpiredError, code: 'room_expired' });
      }
      const retry = await l.commands.sendMessage({ roomId, clientMessageId, body: 'hello' }, borrower);
      expect(retry).toMatchObject({ created: false, message: first.message });
      expect((await l.types(roomId)).filter((t) => t === 'MessageSent')).toHaveLength(1);
    });
  });

  describe('reopening', () => {
    it('reopens an expired room when its borrower opens the same post again: same room, history intact, seq goes on', async () => {
      const { roomId, postId, lender, borrower } = await l.anOpenRoom();
      await l.send(roomId, borrower, 'one');
      await l.send(roomId, lender, 'two');
      l.clock.advance(ttl.idleTtlMs);
      await sweep();

      l.clock.advance(5 * MINUTE);
      const reopened = await l.commands.openRoom(postId, borrower);

      expect(reopened).toMatchObject({ opened: true, room: { roomId, status: 'open', lastSeq: 2 } });
      const events = await l.events(roomId);
      expect(events.at(-1)).toMatchObject({
        type: 'RoomReopened',
        data: { roomId, reopenedBy: borrower.userId, reopenedAt: l.clock.now().toISOString() },
        metadata: { actorId: borrower.userId },
      });
      const three = await l.send(roomId, lender, 'three');
      expect(three.message.seq).toBe(3);

      await l.settle();
      expect((await l.queries.getMessages(roomId, { limit: 50 })).messages.map((m) => [m.seq, m.body])).toEqual([
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ]);
      expect(await listed(lender.userId)).toContain(roomId);
      expect(await listed(borrower.userId)).toContain(roomId);
      expect(await l.queries.getRoom(roomId, lender.userId)).toMatchObject({ status: 'open', lastMessage: { seq: 3 } });
    });

    it('counts messages since the reopening by seq, not by timestamp, so servers\u2019 clock skew cannot keep a reopened room open', async () => {
      const { roomId, postId, borrower } = await l.anOpenRoom();
      const sent = await l.send(roomId, borrower);
      l.clock.advance(ttl.idleTtlMs);
      await sweep();
      // The server that takes the reopen runs a minute behind the one that stamped the message.
      l.clock.set(new Date(Date.parse(sent.message.sentAt) - MINUTE));
      await l.commands.openRoom(postId, borrower);

      l.clock.advance(ttl.emptyTtlMs);
      await sweep();

      expect((await expiredEvents(roomId)).map((e) => e.data.reason)).toEqual(['idle', 'empty']);
    });

    it('leaves an open room as it is when its borrower opens it again', async () => {
      const { roomId, postId, borrower } = await l.anOpenRoom();
      const again = await l.commands.openRoom(postId, borrower);
      expect(again).toMatchObject({ opened: false, room: { roomId, status: 'open' } });
      expect(await l.types(roomId)).toEqual(['RoomOpened']);
    });

    it('does not let the lender open (or reopen) a chat on their own post, nor another borrower reach this room', async () => {
      const { roomId, postId, lender } = await l.anOpenRoom();
      l.clock.advance(ttl.emptyTtlMs);
      await sweep();

      await expect(l.commands.openRoom(postId, lender)).rejects.toBeInstanceOf(OwnPostError);
      const other = await l.commands.openRoom(postId, actor(`borrower-${randomUUID()}`));
      expect(other.room.roomId).not.toBe(roomId);
      expect((await l.events(roomId)).at(-1)?.type).toBe('RoomExpired');
    });

    it('expires a reopened room again, on the empty TTL counted from the reopening, then on the idle TTL once it has a new message', async () => {
      const { roomId, postId, lender, borrower } = await l.anOpenRoom();
      await l.send(roomId, borrower, 'before');
      l.clock.advance(ttl.idleTtlMs);
      await sweep();

      l.clock.advance(DAY);
      await l.commands.openRoom(postId, borrower);
      // Old messages do not count: with nothing said since the reopening, the empty TTL applies.
      l.clock.advance(ttl.emptyTtlMs - 1);
      await sweep();
      expect((await l.events(roomId)).at(-1)?.type).toBe('RoomReopened');
      l.clock.advance(1);
      await sweep();

      l.clock.advance(DAY);
      await l.commands.openRoom(postId, borrower);
      l.clock.advance(ttl.emptyTtlMs - MINUTE);
      const after = await l.send(roomId, lender, 'after');
      expect(after.message.seq).toBe(2);
      l.clock.advance(ttl.emptyTtlMs);
      await sweep();
      expect((await l.events(roomId)).at(-1)?.type).toBe('MessageSent');
      l.clock.set(new Date(Date.parse(after.message.sentAt) + ttl.idleTtlMs));
      await sweep();

      expect(await l.types(roomId)).toEqual([
        'RoomOpened',
        'MessageSent',
        'RoomExpired',
        'RoomReopened',
        'RoomExpired',
        'RoomReopened',
        'MessageSent',
        'RoomExpired',
      ]);
      expect((await expiredEvents(roomId)).map((e) => e.data.reason)).toEqual(['idle', 'empty', 'idle']);
      const seqs = (await l.events(roomId)).filter((e) => e.type === 'MessageSent').map((e) => (e.data as MessageSent['data']).seq);
      expect(seqs).toEqual([1, 2]);
      await l.settle();
      expect(await l.queries.getRoom(roomId, borrower.userId)).toMatchObject({ status: 'expired', lastMessage: { seq: 2, body: 'after' } });
    });
  });

  describe('blocking', () => {
    const sides = [
      { blocker: 'lender', blocked: 'borrower' },
      { blocker: 'borrower', blocked: 'lender' },
    ] as const;

    it.each(sides)('when the $blocker blocks the $blocked, the $blocked\u2019s sends fail with blocked until unblocked; the $blocker can still send', async ({ blocker, blocked }) => {
      const room = await l.anOpenRoom();
      const { roomId } = room;
      const who = { blocker: room[blocker], blocked: room[blocked] };
      await l.send(roomId, who.blocked, 'before the block');

      expect((await l.commands.block(roomId, who.blocker)).changed).toBe(true);

      await expect(l.send(roomId, who.blocked)).rejects.toMatchObject({ constructor: BlockedError, code: 'blocked' });
      const fromBlocker = await l.send(roomId, who.blocker, 'the blocker may still write');
      expect(fromBlocker.message.seq).toBe(2);

      expect((await l.commands.unblock(roomId, who.blocker)).changed).toBe(true);
      const afterUnblock = await l.send(roomId, who.blocked, 'after the unblock');
      expect(afterUnblock.message.seq).toBe(3);

      const events = await l.events(roomId);
      expect(events.filter((e) => e.type === 'RoomBlocked' || e.type === 'RoomUnblocked').map((e) => [e.type, e.data, e.metadata.actorId])).toEqual([
        ['RoomBlocked', { roomId, blockerId: who.blocker.userId, blockedId: who.blocked.userId, blockedAt: expect.any(String) }, who.blocker.userId],
        ['RoomUnblocked', { roomId, blockerId: who.blocker.userId, unblockedId: who.blocked.userId, unblockedAt: expect.any(String) }, who.blocker.userId],
      ]);
      expect(events.filter((e) => e.type === 'MessageSent')).toHaveLength(3);
    });

    it.each(sides)('the $blocked cannot lift the $blocker\u2019s block', async ({ blocker, blocked }) => {
      const room = await l.anOpenRoom();
      await l.commands.block(room.roomId, room[blocker]);
      expect((await l.commands.unblock(room.roomId, room[blocked])).changed).toBe(false);
      await expect(l.send(room.roomId, room[blocked])).rejects.toBeInstanceOf(BlockedError);
    });

    it('blocking twice, or unblocking when not blocked, records nothing', async () => {
      const { roomId, lender, borrower } = await l.anOpenRoom();
      expect((await l.commands.unblock(roomId, lender)).changed).toBe(false);
      expect((await l.commands.block(roomId, lender)).changed).toBe(true);
      expect((await l.commands.block(roomId, lender)).changed).toBe(false);
      expect((await l.commands.unblock(roomId, borrower)).changed).toBe(false);
      expect(await l.types(roomId)).toEqual(['RoomOpened', 'RoomBlocked']);
    });

    it('when both block each other neither can send; each unblock restores only the other side', async () => {
      const { roomId, lender, borrower } = await l.anOpenRoom();
      await l.commands.block(roomId, lender);
      await l.commands.block(roomId, borrower);
      await expect(l.send(roomId, lender)).rejects.toBeInstanceOf(BlockedError);
      await expect(l.send(roomId, borrower)).rejects.toBeInstanceOf(BlockedError);

      await l.commands.unblock(roomId, lender);
      await expect(l.send(roomId, lender)).rejects.toBeInstanceOf(BlockedError);
      expect((await l.send(roomId, borrower)).message.seq).toBe(1);
    });

    it('a block outlives expiry and reopening; in an expired room room_expired is what a blocked sender hears', async () => {
      const { roomId, postId, lender, borrower } = await l.anOpenRoom();
      await l.commands.block(roomId, lender);
      l.clock.advance(ttl.emptyTtlMs);
      await sweep();

      await expect(l.send(roomId, borrower)).rejects.toBeInstanceOf(RoomExpiredError);
      // The blocked borrower may still reopen the room (the post is still theirs to ask about) ...
      expect((await l.commands.openRoom(postId, borrower)).opened).toBe(true);
      // ... but the lender's block still holds.
      await expect(l.send(roomId, borrower)).rejects.toBeInstanceOf(BlockedError);
      expect((await l.send(roomId, lender)).message.seq).toBe(1);
    });

    it('can block and unblock in an expired room', async () => {
      const { roomId, borrower } = await l.anOpenRoom();
      l.clock.advance(ttl.emptyTtlMs);
      await sweep();
      expect((await l.commands.block(roomId, borrower)).changed).toBe(true);
      expect((await l.commands.unblock(roomId, borrower)).changed).toBe(true);
    });
  });
});

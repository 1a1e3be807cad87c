import type { EventStore } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';
import { silentLogger } from '../../../src/application/ports/logger';
import { OutboxFeeder } from '../../../src/infrastructure/notifications/outboxFeeder';
import { databaseKinds } from '../../support/databases';
import { openRoomHarness, type RoomHarness } from '../../support/roomHarness';
import { HOUR } from '../../support/time';

/**
 * The notification feeder on its own, over a real store: which events become webhook
 * deliveries in the outbox, and how many times.
 */
describe.each(databaseKinds)('the notification feeder on %s', (kind) => {
  let l: RoomHarness;
  beforeEach(async () => {
    l = await openRoomHarness(kind);
  });
  afterEach(async () => {
    await l.close();
  });

  const WINDOW = HOUR;
  const feeder = (eventStore: EventStore = l.store) =>
    new OutboxFeeder({
      db: l.db,
      eventStore,
      ids: randomIds,
      logger: silentLogger,
      webhooks: { urls: ['https://marketplace.example/hooks/chat'], includeBody: false, retryForMs: WINDOW },
      push: null,
      historyWindowMs: WINDOW,
      now: () => l.clock.now(),
    });
  /** The webhook deliveries in the outbox, as `type messageId-or-room` lines, oldest first. */
  const deliveries = async () =>
    (
      await l.db.query<{ type: string; event_id: string }>(`SELECT type, event_id::text FROM notify_outbox WHERE channel = 'webhook' ORDER BY id`)
    ).rows;
  const messageCreated = async (messageId: string) =>
    (await l.db.query(`SELECT 1 FROM notify_outbox WHERE type = 'message.created' AND body::jsonb -> 'data' ->> 'messageId' = $1`, [messageId])).rows.length;

  it('passes over history older than the window on its very first run only: after a long outage every event is still delivered', async () => {
    const { roomId, lender } = await l.anOpenRoom();
    const old = await l.send(roomId, lender);
    // Webhooks turned on for a store whose history is older than the window: no history is sent.
    l.clock.advance(2 * WINDOW);
    await feeder().catchUp();
    expect(await messageCreated(old.message.messageId)).toBe(0);

    // From now on the feeder has a checkpoint: a message recorded while every process was
    // down for longer than the window is delivered when they come back, however late.
    const missed = await l.send(roomId, lender);
    l.clock.advance(2 * WINDOW);
    await feeder().catchUp();
    expect(await messageCreated(missed.message.messageId)).toBe(1);
  });

  it('feeds nothing twice: an event at the checkpoint another process reached while this one was reading is passed over', async () => {
    const { roomId, lender, borrower } = await l.anOpenRoom();
    await l.send(roomId, lender);
    await l.send(roomId, borrower);
    // This process reads its batch from the start; before it writes, another process feeds
    // the very same events and moves the checkpoint to the last of them.
    const other = feeder();
    let raced = false;
    const readingBeforeTheOther: EventStore = Object.assign(Object.create(l.store) as EventStore, {
      readAll: async (after: string | null, maxCount: number) => {
        const events = await l.store.readAll(after, maxCount);
        if (!raced) {
          raced = true;
          await other.catchUp();
        }
        return events;
      },
    });
    await feeder(readingBeforeTheOther).catchUp();
    expect(raced).toBe(true);

    const fed = await deliveries();
    expect(fed.map((d) => d.type)).toEqual(['room.opened', 'message.created', 'message.created']);
    expect(new Set(fed.map((d) => d.event_id)).size).toBe(fed.length);
  });
});

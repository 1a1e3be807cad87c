/**
 * The erasure's scrub of the webhook outbox (docs/privacy.md, step `outbox`), on a real
 * server and PostgreSQL, with a real receiver: deliveries of the erased user's messages —
 * a dead letter, one waiting to be tried again, one waiting behind it — hold their words
 * before the erasure and none after. They stay, marked erased (the marketplace still
 * learns that a message was sent), and the other user's waiting delivery keeps its text.
 */
import { randomUUID } from 'node:crypto';
import { withConnection } from '../../support/databases';
import { dumpDatabase } from '../../support/erasure';
import { as, eventually, openRoom, unique } from '../../support/http';
import type { TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { startServerWithWebhooks, type HttpReceiver } from '../../support/webhookReceiver';

interface Delivery {
  deliveryId: string;
  status: string;
  attempts: number;
  leased: boolean;
  body: string;
}

describe('an erasure and the webhook deliveries of the erased user’s messages, on PostgreSQL', () => {
  let server: TestServer;
  let receiver: HttpReceiver;
  let stop: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    // The retry window (WEBHOOK_RETRY_FOR) is the default day: a delivery the receiver asks to call back in an hour stays waiting.
    ({ server, receiver, stop } = await startServerWithWebhooks('postgres', { WEBHOOK_TIMEOUT: '2s' }));
  });
  afterAll(() => stop());

  /** The room's message.created deliveries as the outbox holds them, by seq. */
  const deliveriesOf = (roomId: string) =>
    withConnection(server.database, async (db) => {
      const result = await db.query<Delivery & { seq: number }>(
        `SELECT delivery_id::text AS "deliveryId", status, attempts, lease_owner IS NOT NULL AS leased, body, ((body::jsonb) -> 'data' ->> 'seq')::int AS seq
           FROM notify_outbox WHERE channel = 'webhook' AND type = 'message.created' AND (body::jsonb) -> 'data' ->> 'roomId' = $1`,
        [roomId],
      );
      return new Map(result.rows.map(({ seq, ...delivery }) => [seq, delivery]));
    });
  const dataOf = (delivery: Delivery | undefined): Record<string, unknown> => JSON.parse(delivery?.body ?? '{}').data;

  it('leaves none of their words in the dead letters or the waiting deliveries, and keeps the deliveries, marked erased', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(server.url, lena, bob);
    const marker = randomUUID().slice(0, 8);
    const said = [
      { seq: 1, by: bob, body: `bobsecret${marker}x1 my address is 12 Elm Street` },
      { seq: 2, by: bob, body: `bobsecret${marker}x2 call me on 010-2222-3333` },
      { seq: 3, by: lena, body: `lenareply${marker} see you Saturday` },
      { seq: 4, by: bob, body: `bobsecret${marker}x4 bring cash` },
    ];
    // Seq 1 refused for good (a dead letter at once), seq 2 to be called back in an hour;
    // the room's later deliveries wait behind it, in order.
    receiver.answer = (r) => {
      if (r.json?.data?.roomId !== room.roomId || r.json.type !== 'message.created') return { status: 200 };
      return r.json.data.seq === 1 ? { status: 422 } : { status: 503, headers: { 'retry-after': '3600' } };
    };
    for (const { by, body } of said) {
      expect((await as(server.url, tokenFor(by)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body })).status).toBe(201);
    }
    let before = new Map<number, Delivery>();
    await eventually(async () => {
      before = await deliveriesOf(room.roomId);
      const retrying = before.get(2);
      return before.size === 4 && before.get(1)?.status === 'dead' && retrying !== undefined && retrying.attempts === 1 && !retrying.leased;
    }, 20_000, 'a dead letter and three waiting deliveries');
    for (const { seq, body } of said) expect(dataOf(before.get(seq))).toMatchObject({ seq, body });

    const asked = await as(server.url, TEST_INTERNAL_TOKEN).post(`/api/internal/users/${bob}/erasure`);
    expect(asked.status).toBe(202);
    await eventually(async () => {
      const read = await as(server.url, TEST_INTERNAL_TOKEN).get(`/api/internal/erasures/${asked.body.erasure.erasureId}`);
      return read.body.erasure.status === 'done';
    }, 60_000, 'the erasure to be done');

    const after = await deliveriesOf(room.roomId);
    expect([...after.entries()].map(([seq, d]) => [seq, d.deliveryId, d.status]).sort()).toEqual(
      [...before.entries()].map(([seq, d]) => [seq, d.deliveryId, d.status]).sort(),
    );
    for (const { seq, by, body } of said) {
      const data = dataOf(after.get(seq));
      if (by === bob) {
        expect(data).toMatchObject({ seq, senderId: bob, erased: true });
        expect(data).not.toHaveProperty('body');
      } else {
        expect(data).toMatchObject({ seq, senderId: lena, body });
      }
    }
    // What the operator's dead-letter list shows.
    const deadLetters = await as(server.url, TEST_INTERNAL_TOKEN).get('/api/internal/webhooks/dead-letters?limit=500');
    const dead = deadLetters.body.deadLetters.find((d: { deliveryId: string }) => d.deliveryId === before.get(1)?.deliveryId);
    expect(dead?.payload.data).toMatchObject({ seq: 1, erased: true });
    expect(dead?.payload.data).not.toHaveProperty('body');

    const dump = await dumpDatabase(server.database);
    expect(dump).toContain(`lenareply${marker}`);
    expect(dump).not.toContain(`bobsecret${marker}`);
  }, 120_000);
});

import { AnchorKeyRing } from '../../../src/application/audit/anchorKeys';
import { randomUUID } from 'node:crypto';
import { anchorMac, AnchorLedger, AuditAnchorer } from '../../../src/application/audit/anchors';
import { eventHash } from '../../../src/application/audit/hashChain';
import { sealEvents, type ChainTail } from '../../../src/application/audit/sealing';
import { NO_PREVIOUS_HASH, type EventMetadata, type EventToAppend } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';
import { silentLogger } from '../../../src/application/ports/logger';
import { ANCHOR_STREAM } from '../../../src/domain/streams';
import type { SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { openRoomHarness, type RoomHarness } from '../../support/roomHarness';
import { tamperWithEvents } from '../../support/tamper';
import { TEST_AUDIT_ANCHOR_KEY } from '../../support/tokens';

/**
 * The anchor stream is a chain of MACs: each anchor's MAC covers the previous one's. What
 * someone with write access and no key can do to it must show in `audit verify`.
 */
describe('the anchor stream, edited without the key', () => {
  let l: RoomHarness;
  beforeEach(async () => {
    l = await openRoomHarness('postgres');
  });
  afterEach(async () => {
    await l.close();
  });

  /** Anchor 1 removed, anchor 2 moved into its place, the hash chain made whole again. */
  const deleteMiddleAnchor = () =>
    tamperWithEvents(l.db, async (tx) => {
      await tx.query(`DELETE FROM events WHERE stream_id = $1 AND stream_revision = 1`, [ANCHOR_STREAM]);
      await tx.query(`UPDATE events SET stream_revision = 1 WHERE stream_id = $1 AND stream_revision = 2`, [ANCHOR_STREAM]);
      await recomputeHashes(tx, ANCHOR_STREAM, 1);
    });

  it('reports a middle anchor deleted, even with the later anchors renumbered and every keyless hash recomputed', async () => {
    const anchorer = new AuditAnchorer({ eventStore: l.store, clock: l.clock, ids: randomIds, keys: new AnchorKeyRing([TEST_AUDIT_ANCHOR_KEY]), logger: silentLogger });
    const { roomId, lender } = await l.anOpenRoom();
    for (let i = 0; i < 3; i += 1) {
      await l.send(roomId, lender);
      expect(await anchorer.anchorNow()).not.toBeNull();
    }
    const untouched = new AnchorLedger(l.store, new AnchorKeyRing([TEST_AUDIT_ANCHOR_KEY]));
    await untouched.refresh();
    expect(untouched.problem).toBeNull();
    expect(untouched.anchors).toBe(3);

    await deleteMiddleAnchor();

    const ledger = new AnchorLedger(l.store, new AnchorKeyRing([TEST_AUDIT_ANCHOR_KEY]));
    await ledger.refresh();
    expect(ledger.problem).toMatchObject({ revision: 1, kind: 'anchor_mac' });
    expect(ledger.problem?.detail).toContain('prevMac');
  });

  it('reports a middle anchor deleted from anchors written before they named the hash of the one before (prevMac is all that chains them)', async () => {
    // Three anchors as releases before prevAnchorHash and key ids wrote them: each MAC covers the previous MAC only.
    let tail: ChainTail | null = null;
    let prevMac = NO_PREVIOUS_HASH;
    for (let i = 0; i < 3; i += 1) {
      const anchoredAt = l.clock.now().toISOString();
      const unsigned = { anchoredAt, through: String(i).padStart(20, '0'), heads: [], prevMac };
      const mac = anchorMac(TEST_AUDIT_ANCHOR_KEY, unsigned);
      const context = { actorId: 'system:audit-anchor', correlationId: randomUUID(), causationId: randomUUID() };
      const sealed: EventToAppend[] = sealEvents(tail, [{ type: 'AuditAnchored', data: { ...unsigned, mac } }], context, anchoredAt, randomIds);
      const event = sealed[0];
      if (event === undefined) throw new Error('nothing sealed');
      const appended = await l.store.appendToStream(ANCHOR_STREAM, [event], tail === null ? 'no_stream' : tail.revision);
      tail = { revision: appended.nextExpectedRevision, hash: event.metadata.hash };
      prevMac = mac;
    }
    const untouched = new AnchorLedger(l.store, new AnchorKeyRing([TEST_AUDIT_ANCHOR_KEY]));
    await untouched.refresh();
    expect(untouched.problem).toBeNull();
    expect(untouched.anchors).toBe(3);

    await deleteMiddleAnchor();

    const ledger = new AnchorLedger(l.store, new AnchorKeyRing([TEST_AUDIT_ANCHOR_KEY]));
    await ledger.refresh();
    expect(ledger.problem).toMatchObject({ revision: 1, kind: 'anchor_mac' });
    expect(ledger.problem?.detail).toContain('prevMac');
  });
});

/** Rewrites the stream's hash chain from `fromRevision` so every keyless hash matches again. */
async function recomputeHashes(db: SqlExecutor, streamId: string, fromRevision: number): Promise<void> {
  const rows = await db.query<{ revision: string; event_id: string; event_type: string; data: unknown; metadata: EventMetadata }>(
    `SELECT stream_revision::text AS revision, event_id::text, event_type, data, metadata FROM events
      WHERE stream_id = $1 AND stream_revision >= $2 - 1 ORDER BY stream_revision`,
    [streamId, fromRevision],
  );
  let prevHash = (rows.rows[0] as { metadata: EventMetadata }).metadata.hash;
  for (const row of rows.rows.slice(1)) {
    const hash = eventHash(prevHash, { eventId: row.event_id, type: row.event_type, data: row.data, metadata: row.metadata });
    await db.query(`UPDATE events SET metadata = metadata || jsonb_build_object('prevHash', $3::text, 'hash', $4::text) WHERE stream_id = $1 AND stream_revision = $2`, [
      streamId,
      row.revision,
      prevHash,
      hash,
    ]);
    prevHash = hash;
  }
}

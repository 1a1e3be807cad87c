import { randomUUID } from 'node:crypto';
import { runCli } from '../../support/auditCli';
import { databaseKinds, withConnection } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { startTestServer } from '../../support/server';
import { tamperWithEvents } from '../../support/tamper';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

describe.each(databaseKinds)('the audit anchor on its schedule, on %s', (kind) => {
  it('anchors a room\'s head on AUDIT_ANCHOR_CRON, so deleting its newest event afterwards is caught', async () => {
    const server = await startTestServer(kind, { env: { AUDIT_ANCHOR_CRON: '* * * * * *' } });
    let roomId: string;
    try {
      const postId = `post-${randomUUID().slice(0, 8)}`;
      await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: 'lena', title: 'Drill' });
      roomId = (await as(server.url, tokenFor('bob')).post('/api/rooms', { postId })).body.room.roomId;
      await as(server.url, tokenFor('bob')).post(`/api/rooms/${roomId}/messages`, { clientMessageId: 'c1', body: 'Hello' });
      // No anchor was asked for: the schedule records one that holds the room at revision 1.
      const auditor = as(server.url, tokenFor('auditor-1', { roles: ['auditor'] }));
          await eventually(async () => {
        const [verdict] = (await auditor.get(`/api/audit/verify?room=${roomId}&format=jsonl`)).text.split('\n').map((l) => (l ? JSON.parse(l) : null));
        return verdict.verified === true && verdict.anchoredRevision === 1;
      }, 15_000, 'an anchor of the room at revision 1');
    } finally {
      await server.close();
    }
    // As the table's owner could, with the append-only trigger switched off.
    await withConnection(server.database, (owner) => tamperWithEvents(owner, (db) =>
      db.query(`DELETE FROM events WHERE stream_id = $1 AND stream_revision = 1`, [`room-${roomId}`]),
    ));
    const result = await runCli(server.database, ['verify', '--room', roomId]);
    expect(result.stdout).toContain(`FAIL room ${roomId} at revision 1: missing_tail`);
    expect(result.code).toBe(1);
    await server.database.drop();
  });
});

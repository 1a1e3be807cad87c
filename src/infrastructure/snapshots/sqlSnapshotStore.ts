import type { SnapshotStore, StreamSnapshot } from '../../application/ports/snapshots';
import type { SqlDatabase } from '../sql/sqlDatabase';

/**
 * Stream snapshots in a table beside the read models (PostgreSQL or PGlite), whatever
 * store holds the events. One row per stream, the newest kept.
 */
export class SqlSnapshotStore implements SnapshotStore {
  constructor(private readonly db: SqlDatabase) {}

  async load(streamId: string): Promise<StreamSnapshot | null> {
    const result = await this.db.query<{ revision: string; last_hash: string; version: string; state: unknown }>(
      `SELECT revision::text, last_hash, version, state FROM stream_snapshots WHERE stream_id = $1`,
      [streamId],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    const state = typeof row.state === 'string' ? (JSON.parse(row.state) as unknown) : row.state;
    return { revision: BigInt(row.revision), lastHash: row.last_hash, version: row.version, state };
  }

  async save(streamId: string, snapshot: StreamSnapshot): Promise<void> {
    await this.db.query(
      `INSERT INTO stream_snapshots (stream_id, revision, last_hash, version, state) VALUES ($1, $2::bigint, $3, $4, $5::jsonb)
       ON CONFLICT (stream_id) DO UPDATE
         SET revision = excluded.revision, last_hash = excluded.last_hash, version = excluded.version, state = excluded.state, taken_at = now()
       WHERE stream_snapshots.revision < excluded.revision OR stream_snapshots.version <> excluded.version`,
      [streamId, snapshot.revision.toString(), snapshot.lastHash, snapshot.version, JSON.stringify(snapshot.state)],
    );
  }
}

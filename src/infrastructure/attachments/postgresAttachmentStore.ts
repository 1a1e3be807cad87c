import type { AttachmentStore, ImageType } from '../../application/ports/attachments';
import type { SqlExecutor } from '../sql/sqlDatabase';

/**
 * Attachment bytes in PostgreSQL (`attachment_blobs`, bytea): the default, so a single
 * process on embedded PGlite has photos with nothing else to run. Images are at most
 * ATTACHMENT_MAX_BYTES after re-encoding, well within what bytea holds.
 */
export class PostgresAttachmentStore implements AttachmentStore {
  readonly kind = 'postgres';

  constructor(private readonly db: SqlExecutor) {}

  async put(key: string, data: Buffer, contentType: ImageType): Promise<void> {
    await this.db.query(
      `INSERT INTO attachment_blobs (key, content_type, data) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET content_type = EXCLUDED.content_type, data = EXCLUDED.data`,
      [key, contentType, data],
    );
  }

  async get(key: string): Promise<{ data: Buffer; contentType: string } | null> {
    const { rows } = await this.db.query<{ content_type: string; data: Uint8Array }>(
      `SELECT content_type, data FROM attachment_blobs WHERE key = $1`,
      [key],
    );
    const row = rows[0];
    if (row === undefined) return null;
    // pg gives a Buffer, PGlite a Uint8Array: one shape for the caller.
    const data = Buffer.isBuffer(row.data) ? row.data : Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength);
    return { data, contentType: row.content_type };
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query(`DELETE FROM attachment_blobs WHERE key = ANY($1::text[])`, [keys]);
  }
}

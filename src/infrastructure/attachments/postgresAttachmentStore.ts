import type { AttachmentStore, ImageType } from '../../application/ports/attachments';
import type { SqlDatabase } from '../sql/sqlDatabase';

/**
 * Attachment bytes in PostgreSQL (`attachment_blobs`, bytea): the default, so a single
 * process on embedded PGlite has photos with nothing else to run. Images are at most
 * ATTACHMENT_MAX_BYTES after re-encoding, well within what bytea holds.
 *
 * `pg` sends a Buffer as a binary parameter and reads bytea back cheaply. PGlite
 * converts bytea to and from hex text in JavaScript, seconds for a few megabytes on the
 * event loop; base64 text (encoded and decoded natively, by Node and by PostgreSQL) is
 * ten to forty times faster there, so PGlite gets that.
 */
export class PostgresAttachmentStore implements AttachmentStore {
  readonly kind = 'postgres';
  private readonly base64: boolean;

  constructor(private readonly db: SqlDatabase) {
    this.base64 = db.kind === 'pglite';
  }

  async put(key: string, data: Buffer, contentType: ImageType): Promise<void> {
    await this.db.query(
      `INSERT INTO attachment_blobs (key, content_type, data) VALUES ($1, $2, ${this.base64 ? `decode($3, 'base64')` : '$3'})
       ON CONFLICT (key) DO UPDATE SET content_type = EXCLUDED.content_type, data = EXCLUDED.data`,
      [key, contentType, this.base64 ? data.toString('base64') : data],
    );
  }

  async get(key: string): Promise<{ data: Buffer; contentType: string } | null> {
    const { rows } = await this.db.query<{ content_type: string; data: Uint8Array | string }>(
      `SELECT content_type, ${this.base64 ? `encode(data, 'base64') AS data` : 'data'} FROM attachment_blobs WHERE key = $1`,
      [key],
    );
    const row = rows[0];
    if (row === undefined) return null;
    const data =
      typeof row.data === 'string'
        ? Buffer.from(row.data, 'base64')
        : Buffer.isBuffer(row.data)
          ? row.data
          : Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength);
    return { data, contentType: row.content_type };
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query(`DELETE FROM attachment_blobs WHERE key = ANY($1::text[])`, [keys]);
  }
}

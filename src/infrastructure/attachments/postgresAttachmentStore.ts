import { randomUUID } from 'node:crypto';
import type { AttachmentStore, ImageType } from '../../application/ports/attachments';
import type { SqlDatabase } from '../sql/sqlDatabase';

/** The most bytes one statement carries, either way. */
export const PART_BYTES = 256 * 1024;

/**
 * Part statements in flight at once, for all puts and gets of this store together: twenty
 * uploads storing at once would otherwise take every connection of the pool (PGlite has
 * one) and the chat's statements would queue behind their parts.
 */
const PARTS_AT_ONCE = 2;

/** A count of turns: at most `limit` holders at once, the others wait in order. */
class Turns {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.held >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.held += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The turn passes straight to the next waiter, or is given back.
      if (next !== undefined) next();
      else this.held -= 1;
    }
  }
}

interface Manifest {
  content_type: string;
  /** Null: the bytes are inline in `attachment_blobs.data` (stored before parts). */
  generation: string | null;
  bytes: string;
}

/**
 * Attachment bytes in PostgreSQL: the default, so a single process on embedded PGlite has
 * photos with nothing else to run. Images are at most ATTACHMENT_MAX_BYTES after
 * re-encoding, well within what bytea holds.
 *
 * Each rendition is written and read in parts of at most PART_BYTES (256 KiB), one
 * statement a part, at most PARTS_AT_ONCE of them in flight for the whole store, so no
 * statement carries megabytes: a photo of several megabytes in one statement held a pool
 * connection (PGlite's only one, so every chat statement behind it) and the server's event
 * loop while megabytes were encoded, copied and sent. The
 * parts go to `attachment_blob_parts` under a fresh generation; then one small statement
 * makes the row of `attachment_blobs` name that generation (a reader sees the old bytes
 * or the new, never half), and the generation it replaced is deleted. Rows stored before
 * parts existed keep their bytes inline in `attachment_blobs.data` and are read a slice
 * at a time (`substring` of an uncompressed, EXTERNAL column reads only that slice).
 *
 * `pg` sends a Buffer as a binary parameter and reads bytea back cheaply. PGlite
 * converts bytea to and from hex text in JavaScript; base64 text (encoded and decoded
 * natively, by Node and by PostgreSQL) is ten to forty times faster there, so PGlite
 * gets that.
 */
export class PostgresAttachmentStore implements AttachmentStore {
  readonly kind = 'postgres';
  private readonly base64: boolean;
  private readonly parts = new Turns(PARTS_AT_ONCE);

  constructor(private readonly db: SqlDatabase) {
    this.base64 = db.kind === 'pglite';
  }

  async put(key: string, data: Buffer, contentType: ImageType): Promise<void> {
    const generation = randomUUID();
    try {
      for (let part = 0; part * PART_BYTES < data.length; part += 1) {
        const slice = data.subarray(part * PART_BYTES, (part + 1) * PART_BYTES);
        await this.parts.run(() =>
          this.db.query(`INSERT INTO attachment_blob_parts (key, generation, part, data) VALUES ($1, $2, $3, ${this.bytesParam(4)})`, [
            key,
            generation,
            part,
            this.bytesValue(slice),
          ]),
        );
      }
      // One statement names the new generation and answers the one it replaced, if any.
      const { rows } = await this.db.query<{ replaced: string | null }>(
        `WITH before AS (SELECT generation FROM attachment_blobs WHERE key = $1),
              named AS (
                INSERT INTO attachment_blobs (key, content_type, data, generation, bytes) VALUES ($1, $2, NULL, $3, $4)
                ON CONFLICT (key) DO UPDATE SET content_type = EXCLUDED.content_type, data = NULL, generation = EXCLUDED.generation, bytes = EXCLUDED.bytes
                RETURNING 1)
         SELECT (SELECT generation::text FROM before) AS replaced, (SELECT count(*) FROM named) AS named`,
        [key, contentType, generation, data.length],
      );
      const replaced = rows[0]?.replaced ?? null;
      if (replaced !== null) await this.db.query(`DELETE FROM attachment_blob_parts WHERE key = $1 AND generation = $2`, [key, replaced]);
    } catch (error) {
      // Parts no row names would stay forever: take back what this put wrote.
      await this.db.query(`DELETE FROM attachment_blob_parts WHERE key = $1 AND generation = $2`, [key, generation]).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string): Promise<{ data: Buffer; contentType: string } | null> {
    // A put replacing these bytes meanwhile deletes the parts being read: read the new ones then.
    for (let attempt = 0; ; attempt += 1) {
      const { rows } = await this.db.query<Manifest>(
        `SELECT content_type, generation::text AS generation, coalesce(bytes, octet_length(data))::text AS bytes FROM attachment_blobs WHERE key = $1`,
        [key],
      );
      const manifest = rows[0];
      if (manifest === undefined) return null;
      const data = await this.readParts(key, manifest);
      if (data !== null) return { data, contentType: manifest.content_type };
      if (attempt >= 2) throw new Error(`the stored bytes of ${key} changed while being read, three times over`);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    // The rows first: from then on nobody reads the parts.
    await this.db.query(`DELETE FROM attachment_blobs WHERE key = ANY($1::text[])`, [keys]);
    await this.db.query(`DELETE FROM attachment_blob_parts WHERE key = ANY($1::text[])`, [keys]);
  }

  /** The bytes a manifest names, a part at a time; null when a part is gone (replaced or deleted meanwhile). */
  private async readParts(key: string, manifest: Manifest): Promise<Buffer | null> {
    const total = Number(manifest.bytes);
    const data = Buffer.allocUnsafe(total);
    for (let part = 0; part * PART_BYTES < total; part += 1) {
      const generation = manifest.generation;
      const { rows } = await this.parts.run(() =>
        generation === null
          ? this.db.query<{ data: Uint8Array | string | null }>(
              // substring counts from 1.
              `SELECT ${this.bytesColumn(`substring(data FROM $2 FOR $3)`)} AS data FROM attachment_blobs WHERE key = $1 AND generation IS NULL`,
              [key, part * PART_BYTES + 1, PART_BYTES],
            )
          : this.db.query<{ data: Uint8Array | string | null }>(
              `SELECT ${this.bytesColumn('data')} AS data FROM attachment_blob_parts WHERE key = $1 AND generation = $2 AND part = $3`,
              [key, generation, part],
            ),
      );
      const slice = rows[0]?.data;
      if (slice === undefined || slice === null) return null;
      const bytes = this.fromColumn(slice);
      if (bytes.length !== Math.min(PART_BYTES, total - part * PART_BYTES)) return null;
      bytes.copy(data, part * PART_BYTES);
    }
    return data;
  }

  private bytesParam(index: number): string {
    return this.base64 ? `decode($${index}, 'base64')` : `$${index}`;
  }

  private bytesValue(data: Buffer): Buffer | string {
    return this.base64 ? data.toString('base64') : data;
  }

  private bytesColumn(expression: string): string {
    return this.base64 ? `encode(${expression}, 'base64')` : expression;
  }

  private fromColumn(value: Uint8Array | string): Buffer {
    if (typeof value === 'string') return Buffer.from(value, 'base64');
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
}

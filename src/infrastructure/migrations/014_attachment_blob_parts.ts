import type { Migration } from './runner';

/**
 * Attachment bytes in parts (docs/attachments.md, "Storage"): a photo of several megabytes
 * in one statement held a database connection (PGlite's only one) and the server's event
 * loop for as long as megabytes took to encode and send. Each rendition is now stored as
 * parts of at most 256 KiB in `attachment_blob_parts`, under a generation named by its
 * row in `attachment_blobs`, which keeps its content type and size. Rows stored before
 * (`data` inline, no generation) stay as they are and still read, a part at a time.
 */
export const attachmentBlobParts: Migration = {
  version: 14,
  name: 'attachment bytes stored in parts of at most 256 KiB',
  async up(tx) {
    await tx.query(`ALTER TABLE attachment_blobs ALTER COLUMN data DROP NOT NULL`);
    await tx.query(`ALTER TABLE attachment_blobs ADD COLUMN generation uuid`);
    await tx.query(`ALTER TABLE attachment_blobs ADD COLUMN bytes bigint`);
    // Either the bytes inline (stored before parts) or a generation of parts with its size.
    await tx.query(`ALTER TABLE attachment_blobs ADD CONSTRAINT attachment_blobs_inline_or_parts
      CHECK ((data IS NULL) = (generation IS NOT NULL AND bytes IS NOT NULL))`);
    await tx.query(`
      CREATE TABLE attachment_blob_parts (
        key text NOT NULL,
        generation uuid NOT NULL,
        part integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (key, generation, part)
      )`);
    // Sealed bytes do not compress: PostgreSQL's own compression would only cost time.
    await tx.query(`ALTER TABLE attachment_blob_parts ALTER COLUMN data SET STORAGE EXTERNAL`);
  },
};

import type { Migration } from './runner';

/**
 * Photo attachments (docs/attachments.md): the catalog (what is known of each upload,
 * whichever store holds its bytes) and the bytes themselves when ATTACHMENT_STORE=postgres.
 * Neither is a read model: a read-model rebuild leaves them alone.
 */
export const attachments: Migration = {
  version: 7,
  name: 'photo attachments: the catalog and the bytes',
  async up(tx) {
    await tx.query(`
      CREATE TABLE attachments (
        attachment_id uuid PRIMARY KEY,
        room_id text NOT NULL,
        uploader_id text NOT NULL,
        image jsonb NOT NULL,
        thumbnail jsonb NOT NULL,
        uploaded_at timestamptz NOT NULL,
        sent_client_message_id text
      )`);
    // The orphan sweep reads the unsent ones by age.
    await tx.query(`CREATE INDEX attachments_unsent ON attachments (uploaded_at) WHERE sent_client_message_id IS NULL`);
    await tx.query(`
      CREATE TABLE attachment_blobs (
        key text PRIMARY KEY,
        content_type text NOT NULL,
        data bytea NOT NULL
      )`);
    // Photos are compressed already: PostgreSQL's own compression of them would only cost time.
    await tx.query(`ALTER TABLE attachment_blobs ALTER COLUMN data SET STORAGE EXTERNAL`);
  },
};

import type { Migration } from './runner';

/** The photos of a message in the read model (null: none), as its MessageSent recorded them. */
export const messageAttachments: Migration = {
  version: 9,
  name: 'rm_messages.attachments: the photos sent with a message',
  async up(tx) {
    await tx.query(`ALTER TABLE rm_messages ADD COLUMN IF NOT EXISTS attachments jsonb`);
  },
};

import type { Migration } from './runner';

/** A message's kind in the read model: `text` (a participant's) or `notice` (the marketplace's). */
export const messageKind: Migration = {
  version: 4,
  name: 'rm_messages.kind: text or notice',
  async up(tx) {
    await tx.query(`ALTER TABLE rm_messages ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'text'`);
  },
};

import type { Migration } from './runner';

/**
 * The outbox's fair key: whose share of the delivery slots a delivery takes (a push
 * recipient, `user:<id>`; null: its target, the webhook URL or endpoint). See
 * OutboxStore.claim and docs/webhooks.md, "Fair to every receiver". Rows queued before
 * it have none and count as their target's, as before.
 */
export const outboxFairKey: Migration = {
  version: 2,
  name: 'notify_outbox.fair_key: delivery slots shared fairly per receiver',
  async up(tx) {
    await tx.query(`ALTER TABLE notify_outbox ADD COLUMN IF NOT EXISTS fair_key text`);
  },
};

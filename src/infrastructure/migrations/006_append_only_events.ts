import { APPEND_ONLY_TRIGGER } from '../eventStore/appendOnly';
import type { Migration } from './runner';

/**
 * Makes the events table refuse UPDATE, DELETE and TRUNCATE, whoever asks: privileges
 * do not bind a table's owner (the role the service runs as), a trigger does. It is a
 * statement trigger, so even an UPDATE that matches no row is refused, and it is
 * enabled ALWAYS, so it also fires with `session_replication_role = replica`, the
 * setting a superuser would otherwise use to skip it without a trace in the catalog.
 * The owner or a superuser can still drop or disable it: a deliberate schema change,
 * visible in `pg_trigger` (`npm run audit -- append-only`), and what it lets through is
 * what the hash chain and the anchors detect (docs/audit.md, "Append-only").
 */
export const appendOnlyEvents: Migration = {
  version: 6,
  name: 'the events table refuses UPDATE, DELETE and TRUNCATE',
  async up(tx) {
    await tx.query(`
      CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'events is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Events are never changed or deleted; see docs/audit.md, "Append-only".';
      END
      $$`);
    await tx.query(`
      CREATE TRIGGER ${APPEND_ONLY_TRIGGER}
        BEFORE UPDATE OR DELETE OR TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()`);
    await tx.query(`ALTER TABLE events ENABLE ALWAYS TRIGGER ${APPEND_ONLY_TRIGGER}`);
  },
};

import type { SqlDatabase } from '../sql/sqlDatabase';

/**
 * The trigger that keeps the events table append-only (made by migration 6,
 * `migrations/006_append_only_events.ts`); docs/audit.md shows auditors how to check it.
 */
export const APPEND_ONLY_TRIGGER = 'events_append_only';

/**
 * What an auditor asks the catalog (docs/audit.md, "Append-only", prints this query):
 * the events table's own triggers, whether each is enabled (`A`: always, `O`: in
 * normal sessions only, `D`: disabled) and what it runs.
 */
export const APPEND_ONLY_CATALOG_QUERY = `SELECT t.tgname AS name, t.tgenabled AS enabled, pg_get_triggerdef(t.oid) AS definition
  FROM pg_trigger t
 WHERE t.tgrelid = 'events'::regclass AND NOT t.tgisinternal`;

export interface AppendOnlyCheck {
  /** The append-only trigger as the catalog has it; null when it is missing. */
  trigger: { enabled: string; definition: string } | null;
  /** What the database answered to an UPDATE and a DELETE that match no row, each rolled back. */
  refuses: { update: boolean; delete: boolean };
  /** Present, enabled always, covering UPDATE, DELETE and TRUNCATE, and seen refusing. */
  appendOnly: boolean;
}

/**
 * Checks that the events table is append-only, by the catalog and by trying: an UPDATE
 * and a DELETE that match no row (harmless even if they went through), each in a
 * transaction that is rolled back. TRUNCATE is not tried (it would lock the table); the
 * trigger's definition shows it. Never changes the table or the trigger, so run it
 * without migrating first.
 */
export async function checkAppendOnly(db: SqlDatabase): Promise<AppendOnlyCheck> {
  const triggers = await db.query<{ name: string; enabled: string; definition: string }>(APPEND_ONLY_CATALOG_QUERY);
  const row = triggers.rows.find((t) => t.name === APPEND_ONLY_TRIGGER);
  const trigger = row === undefined ? null : { enabled: row.enabled, definition: row.definition };
  const refuses = {
    update: await refused(db, `UPDATE events SET event_type = event_type WHERE false`),
    delete: await refused(db, `DELETE FROM events WHERE false`),
  };
  const covers = trigger !== null && /BEFORE (?=.*\bUPDATE\b)(?=.*\bDELETE\b)(?=.*\bTRUNCATE\b).* FOR EACH STATEMENT /.test(trigger.definition);
  return { trigger, refuses, appendOnly: trigger?.enabled === 'A' && covers && refuses.update && refuses.delete };
}

class RollBack extends Error {}

async function refused(db: SqlDatabase, statement: string): Promise<boolean> {
  try {
    await db.transaction(async (tx) => {
      await tx.query(statement);
      throw new RollBack();
    });
  } catch (error) {
    if (error instanceof RollBack) return false;
    if (/append-only/.test((error as Error).message)) return true;
    throw error;
  }
  return false;
}

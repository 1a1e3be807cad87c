import { APPEND_ONLY_TRIGGER } from '../../src/infrastructure/eventStore/appendOnly';
import type { SqlDatabase, SqlExecutor } from '../../src/infrastructure/sql/sqlDatabase';

/**
 * Edits the events table as only its owner or a superuser still can: the append-only
 * trigger is switched off for one transaction and on again before it commits, so the
 * catalog shows nothing afterwards. What the edit leaves behind is for the hash chain
 * and the anchors to catch, which is what the tamper tests prove.
 */
export function tamperWithEvents<T>(db: SqlDatabase, edit: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(`ALTER TABLE events DISABLE TRIGGER ${APPEND_ONLY_TRIGGER}`);
    const result = await edit(tx);
    await tx.query(`ALTER TABLE events ENABLE ALWAYS TRIGGER ${APPEND_ONLY_TRIGGER}`);
    return result;
  });
}

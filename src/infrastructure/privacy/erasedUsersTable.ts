import { ErasedUsers } from '../../application/privacy/erasedUsers';
import type { SqlExecutor } from '../sql/sqlDatabase';

/** The users whose erasure has been asked for, from the erasures table: what a process knows at start. */
export async function loadErasedUsers(db: SqlExecutor): Promise<ErasedUsers> {
  const erased = new ErasedUsers();
  const exists = await db.query<{ found: boolean }>(`SELECT to_regclass('user_erasures') IS NOT NULL AS found`);
  if (exists.rows[0]?.found !== true) return erased;
  const result = await db.query<{ user_id: string }>(`SELECT user_id FROM user_erasures`);
  for (const row of result.rows) erased.add(row.user_id);
  return erased;
}

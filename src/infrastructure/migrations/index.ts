import type { SqlDatabase } from '../sql/sqlDatabase';
import { initial } from './001_initial';
import { outboxFairKey } from './002_outbox_fair_key';
import { userProfiles } from './003_user_profiles';
import { messageKind } from './004_message_kind';
import { rateBucketLeases } from './005_rate_bucket_leases';
import { appendOnlyEvents } from './006_append_only_events';
import { attachments } from './007_attachments';
import { reports } from './008_reports';
import { messageAttachments } from './009_message_attachments';
import { dataKeys } from './010_data_keys';
import { userErasures } from './011_user_erasures';
import { roomRetention } from './012_room_retention';
import { appendEventsFunction } from './013_append_events_function';
import { attachmentBlobParts } from './014_attachment_blob_parts';
import { runMigrations, type Migration, type MigrationReport } from './runner';

/**
 * Every change to the schema, in order: one file a migration (`NNN_what.ts`), numbered
 * 1, 2, 3… To change the schema, add the next file and append it here (the recipe is in
 * docs/architecture.md, "Schema migrations").
 */
export const migrations: readonly Migration[] = [
  initial,
  outboxFairKey,
  userProfiles,
  messageKind,
  rateBucketLeases,
  appendOnlyEvents,
  attachments,
  reports,
  messageAttachments,
  dataKeys,
  userErasures,
  roomRetention,
  appendEventsFunction,
  attachmentBlobParts,
];

/**
 * Brings the database's schema up to date: applies the migrations it has not recorded
 * yet. Run at start-up before anything is built on the database (and by the tools that
 * open one); several processes may run it at once (runner.ts).
 */
export function migrateDatabase(db: SqlDatabase): Promise<MigrationReport> {
  return runMigrations(db, migrations);
}

export type { Migration, MigrationReport };

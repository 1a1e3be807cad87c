/**
 * The tables the projection keeps; all of them can be rebuilt from the events. They are
 * created and changed by the schema migrations (src/infrastructure/migrations).
 */
export const readModelTables = ['rm_posts', 'rm_rooms', 'rm_room_members', 'rm_messages', 'rm_reports', 'rm_suspensions'] as const;

/** The primary key of each read-model table: rows compare by it. */
export const readModelKeys: Record<(typeof readModelTables)[number], string[]> = {
  rm_posts: ['post_id'],
  rm_rooms: ['room_id'],
  rm_room_members: ['room_id', 'user_id'],
  rm_messages: ['room_id', 'seq'],
  rm_reports: ['report_id'],
  rm_suspensions: ['user_id'],
};

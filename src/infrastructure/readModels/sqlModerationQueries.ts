import type { ModerationQueries, ReportPage, ReportView } from '../../application/ports/moderation';
import { defaultMessageViewOptions, toMessageView, type MessageView, type MessageViewOptions, type ReportReason, type ResolutionAction } from '../../domain/room';
import { DomainError } from '../../domain/shared/decider';
import type { SqlExecutor } from '../sql/sqlDatabase';
import { messageColumns, messageOfRow, type MessageRow } from './messageRows';

interface ReportRow {
  report_id: string;
  room_id: string;
  seq: number;
  reporter_id: string;
  reported_user_id: string;
  reason: string;
  note: string;
  status: 'open' | 'resolved';
  created_at: Date | string;
  action: string | null;
  resolution_note: string | null;
  moderator_id: string | null;
  resolved_at: Date | string | null;
}

const iso = (value: Date | string): string => new Date(value).toISOString();

function toReport(row: ReportRow): ReportView {
  return {
    reportId: row.report_id,
    roomId: row.room_id,
    seq: Number(row.seq),
    reporterId: row.reporter_id,
    reportedUserId: row.reported_user_id,
    reason: row.reason as ReportReason,
    note: row.note,
    status: row.status,
    createdAt: iso(row.created_at),
    resolution:
      row.status === 'resolved' && row.resolved_at !== null
        ? {
            action: row.action as ResolutionAction,
            note: row.resolution_note ?? '',
            moderatorId: row.moderator_id ?? '',
            resolvedAt: iso(row.resolved_at),
          }
        : null,
  };
}

const reportColumns = `report_id, room_id, seq, reporter_id, reported_user_id, reason, note, status, created_at,
  action, resolution_note, moderator_id, resolved_at`;

/** The reports read model (rm_reports) and the messages around a report (rm_messages). */
export class SqlModerationQueries implements ModerationQueries {
  constructor(
    private readonly db: SqlExecutor,
    private readonly messageOptions: MessageViewOptions = defaultMessageViewOptions,
  ) {}

  async getReport(reportId: string): Promise<ReportView | null> {
    const result = await this.db.query<ReportRow>(`SELECT ${reportColumns} FROM rm_reports WHERE report_id = $1`, [reportId]);
    const row = result.rows[0];
    return row === undefined ? null : toReport(row);
  }

  async findReport(roomId: string, seq: number, reporterId: string): Promise<ReportView | null> {
    const result = await this.db.query<ReportRow>(
      `SELECT ${reportColumns} FROM rm_reports WHERE room_id = $1 AND seq = $2 AND reporter_id = $3`,
      [roomId, seq, reporterId],
    );
    const row = result.rows[0];
    return row === undefined ? null : toReport(row);
  }

  async listReports(status: 'open' | 'resolved', limit: number, cursor: string | null): Promise<ReportPage> {
    const after = cursor === null ? null : decodeCursor(cursor);
    if (cursor !== null && after === null) throw new DomainError('bad_request', 'cursor: not a cursor this service made');
    const params: unknown[] = [status, limit + 1];
    let page = '';
    if (after !== null) {
      params.push(after.createdAt, after.reportId);
      page = `AND (created_at, report_id) < ($3::timestamptz, $4::text)`;
    }
    const result = await this.db.query<ReportRow>(
      `SELECT ${reportColumns} FROM rm_reports WHERE status = $1 ${page} ORDER BY created_at DESC, report_id DESC LIMIT $2`,
      params,
    );
    const rows = result.rows.slice(0, limit);
    const last = rows.at(-1);
    const nextCursor =
      result.rows.length > limit && last !== undefined ? encodeCursor({ createdAt: iso(last.created_at), reportId: last.report_id }) : null;
    return { reports: rows.map(toReport), nextCursor };
  }

  async messageFacts(roomId: string, seq: number): Promise<{ senderId: string; kind: 'text' | 'notice' } | null> {
    const result = await this.db.query<{ sender_id: string; kind: string }>(
      `SELECT sender_id, kind FROM rm_messages WHERE room_id = $1 AND seq = $2`,
      [roomId, seq],
    );
    const row = result.rows[0];
    return row === undefined ? null : { senderId: row.sender_id, kind: row.kind === 'notice' ? 'notice' : 'text' };
  }

  /** The messages around `seq`, as a moderator sees them: a hidden one is marked, with its body and photos still shown. */
  async context(roomId: string, seq: number, around: number): Promise<MessageView[]> {
    const result = await this.db.query<MessageRow>(
      `SELECT ${messageColumns} FROM rm_messages WHERE room_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`,
      [roomId, seq - around, seq + around],
    );
    return result.rows.map((row) => ({ ...toMessageView(messageOfRow(row), this.messageOptions), hidden: row.hidden === true }));
  }
}

function encodeCursor(cursor: { createdAt: string; reportId: string }): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.reportId]), 'utf8').toString('base64url');
}

function decodeCursor(text: string): { createdAt: string; reportId: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [createdAt, reportId] = value as unknown[];
    if (typeof createdAt !== 'string' || typeof reportId !== 'string' || Number.isNaN(Date.parse(createdAt))) return null;
    return { createdAt, reportId };
  } catch {
    return null;
  }
}

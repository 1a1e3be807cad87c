import type { MessageView, ReportReason, ResolutionAction } from '../../domain/room';

/** A report as the contract shows it. */
export interface ReportView {
  reportId: string;
  roomId: string;
  seq: number;
  reporterId: string;
  reportedUserId: string;
  reason: ReportReason;
  note: string;
  status: 'open' | 'resolved';
  createdAt: string;
  resolution: { action: ResolutionAction; note: string; moderatorId: string; resolvedAt: string } | null;
}

export interface ReportPage {
  reports: ReportView[];
  nextCursor: string | null;
}

/** The reports read model and what moderators read around a report. */
export interface ModerationQueries {
  getReport(reportId: string): Promise<ReportView | null>;
  /** The report `reporterId` made of the message at (roomId, seq), if any. */
  findReport(roomId: string, seq: number, reporterId: string): Promise<ReportView | null>;
  /** Reports of one status, newest first; `cursor` comes from the previous page. */
  listReports(status: 'open' | 'resolved', limit: number, cursor: string | null): Promise<ReportPage>;
  /** Who sent the message at (roomId, seq) and its kind; null when there is none (yet). */
  messageFacts(roomId: string, seq: number): Promise<{ senderId: string; kind: 'text' | 'notice' } | null>;
  /**
   * The messages from `seq - around` to `seq + around`, ascending. A hidden message keeps
   * its text here (with `hidden: true`): a moderator reads what was said, and each such
   * read is recorded.
   */
  context(roomId: string, seq: number, around: number): Promise<MessageView[]>;
}

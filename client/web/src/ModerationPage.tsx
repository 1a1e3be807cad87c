import { useCallback, useEffect, useState } from 'react';
import type { ChatClient, Report, ReportWithContext, ResolutionAction } from '../../sdk/src';

const time = (iso: string) => new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });

/**
 * The moderators' page: the queue of open reports; one report with the messages around it
 * (each opening is recorded by the service); and the three resolutions.
 */
export function ModerationPage({ client }: { client: ChatClient }) {
  const [reports, setReports] = useState<Report[]>([]);
  const [open, setOpen] = useState<ReportWithContext | null>(null);
  const [note, setNote] = useState('');
  const [suspendFor, setSuspendFor] = useState('7d');
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setReports((await client.reports({ status: 'open', limit: 100 })).reports);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [client]);
  useEffect(() => void load(), [load]);

  const show = async (reportId: string) => {
    try {
      setOpen(await client.reportWithContext(reportId));
      setNote('');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const resolve = async (action: ResolutionAction) => {
    if (open === null) return;
    try {
      await client.resolveReport(open.report.reportId, { action, note, ...(action === 'suspend_sender' ? { suspendFor } : {}) });
      setOpen(null);
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <section className="moderation" aria-labelledby="reports-heading">
      <h1 id="reports-heading">Reports</h1>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {reports.length === 0 && <p className="hint">No open reports.</p>}
      <ul aria-label="Open reports" className="report-list">
        {reports.map((r) => (
          <li key={r.reportId}>
            <button type="button" className="link" onClick={() => void show(r.reportId)}>
              {r.reason}: {r.reporterId} reported {r.reportedUserId}
            </button>{' '}
            <span className="muted">{time(r.createdAt)}</span>
          </li>
        ))}
      </ul>
      {open !== null && (
        <article className="report" aria-label={`Report ${open.report.reportId}`}>
          <h2>
            {open.report.reason} — reported by {open.report.reporterId}
          </h2>
          {open.report.note !== '' && <p className="report-note">“{open.report.note}”</p>}
          <ol aria-label="Reported message in context">
            {open.context.map((m) => (
              <li key={m.seq} className={m.seq === open.report.seq ? 'reported' : undefined} aria-current={m.seq === open.report.seq ? 'true' : undefined}>
                <strong>{m.senderId}</strong>: {m.body}
                {m.hidden && <em> (hidden)</em>}
              </li>
            ))}
          </ol>
          <label>
            Note <input value={note} maxLength={1000} onChange={(e) => setNote(e.target.value)} />
          </label>
          <label>
            Suspend for{' '}
            <select value={suspendFor} onChange={(e) => setSuspendFor(e.target.value)}>
              <option value="1d">1 day</option>
              <option value="7d">7 days</option>
              <option value="30d">30 days</option>
            </select>
          </label>
          <div className="actions">
            <button type="button" className="secondary" onClick={() => void resolve('dismiss')}>
              Dismiss
            </button>
            <button type="button" onClick={() => void resolve('hide_message')}>
              Hide message
            </button>
            <button type="button" className="danger" onClick={() => void resolve('suspend_sender')}>
              Suspend sender
            </button>
          </div>
        </article>
      )}
    </section>
  );
}

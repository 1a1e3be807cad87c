import { useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import type { Attachment, Message, OutgoingMessage, ReportReason } from '../../sdk/src';
import { PhotoDialog, photoRefusal, Thumbnails, UnsentPhoto } from './Photos';
import { dayKey, dayLabel, withLinks } from './richText';

/** Refusals of the photo itself: sending it again cannot help, so the message offers Dismiss, not Retry. */
const PHOTO_REFUSALS: ReadonlySet<string> = new Set(['payload_too_large', 'unsupported_media_type', 'bad_request']);

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * The conversation's messages: delivered ones by seq with day separators, then this user's
 * unsent ones (Sending… / Not sent with Retry). Scrolled to the bottom for new messages,
 * kept in place when older ones load (asked for when scrolled near the top).
 */
export function MessageList(props: {
  me: string;
  messages: Message[];
  unsent: OutgoingMessage[];
  hasMore: boolean;
  loading: boolean;
  online: boolean;
  /** How far the other participant has read (their `lastReadSeq`). */
  otherRead: number;
  /** Shown when there is no message at all; null: nothing. */
  empty: ReactNode;
  onLoadOlder: () => void;
  onRetry: (clientMessageId: string) => void;
  onDiscard: (clientMessageId: string) => void;
  /** Previews (data: URLs) of the photos this page is sending, by clientMessageId. */
  previews: ReadonlyMap<string, string>;
  /** How a user is named (the room's participants). */
  nameOf: (userId: string) => string;
  /** A server URL (an attachment's) as the page loads it. */
  resolve: (url: string) => string;
  onReport: (seq: number, reason: ReportReason) => Promise<boolean>;
}) {
  const { me, messages, unsent, hasMore, loading } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const fromBottom = useRef(0);
  const firstSeq = useRef<number | null>(null);
  const unsentCount = useRef(unsent.length);

  // Keep the view where the reader is: at the bottom for new messages, in place when older ones load.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    const first = messages[0]?.seq ?? null;
    // The user just sent one: show it, wherever they had scrolled.
    if (unsent.length > unsentCount.current) stickToBottom.current = true;
    unsentCount.current = unsent.length;
    if (firstSeq.current !== null && first !== null && first < firstSeq.current) el.scrollTop = el.scrollHeight - fromBottom.current;
    else if (stickToBottom.current) el.scrollTop = el.scrollHeight;
    firstSeq.current = first;
    fromBottom.current = el.scrollHeight - el.scrollTop;
  }, [messages, unsent]);

  const onScroll = () => {
    const el = scroller.current;
    if (el === null) return;
    fromBottom.current = el.scrollHeight - el.scrollTop;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (el.scrollTop < 40 && hasMore && !loading) props.onLoadOlder();
  };

  const lastMine = [...messages].reverse().find((m) => m.senderId === me);
  // One report form at a time; a message reported stays marked so.
  const [reporting, setReporting] = useState<number | null>(null);
  const [reported, setReported] = useState<ReadonlySet<number>>(new Set());
  const [opened, setOpened] = useState<{ attachment: Attachment; from: string } | null>(null);
  const report = async (seq: number, reason: ReportReason) => {
    if (!(await props.onReport(seq, reason))) return;
    setReported((old) => new Set(old).add(seq));
    setReporting(null);
  };

  return (
    <div className="messages" ref={scroller} onScroll={onScroll}>
      {hasMore && (
        <button type="button" className="older" onClick={props.onLoadOlder} disabled={loading}>
          {loading ? 'Loading…' : 'Older messages'}
        </button>
      )}
      {!loading && messages.length === 0 && unsent.length === 0 && props.empty}
      <ol aria-label="Message history">
        {messages.flatMap((m, index) => [
          ...(index === 0 || dayKey(messages[index - 1]!.sentAt) !== dayKey(m.sentAt)
            ? [
                <li key={`day-${m.seq}`} className="day" role="separator">
                  <span>{dayLabel(m.sentAt)}</span>
                </li>,
              ]
            : []),
          <MessageItem
            key={m.seq}
            message={m}
            me={me}
            readByOther={m === lastMine && props.otherRead >= m.seq}
            reporting={reporting === m.seq}
            reported={reported.has(m.seq)}
            onReporting={(open) => setReporting(open ? m.seq : null)}
            onReport={(reason) => void report(m.seq, reason)}
            photos={
              m.attachments.length === 0 ? null : (
                <Thumbnails attachments={m.attachments} from={props.nameOf(m.senderId)} resolve={props.resolve} onOpen={(attachment) => setOpened({ attachment, from: props.nameOf(m.senderId) })} />
              )
            }
          />,
        ])}
        {unsent.map((u) => (
          <li key={u.clientMessageId} className={`mine ${u.status}`} aria-label={u.status === 'failed' ? 'Not sent' : 'Sending'}>
            <UnsentPhoto item={u} preview={props.previews.get(u.clientMessageId)} />
            {u.body !== '' && <p className="body">{u.body}</p>}
            <p className="meta">
              {u.status === 'pending' ? (
                <span>{u.photo !== undefined && u.photo.attachment === null ? 'Uploading photo…' : props.online ? 'Sending…' : 'Waiting for connection…'}</span>
              ) : u.photo !== undefined && PHOTO_REFUSALS.has(u.error?.code ?? '') ? (
                <>
                  <span className="error" role="alert">
                    Photo not sent: {photoRefusal(u)}
                  </span>{' '}
                  <button type="button" className="link" onClick={() => props.onDiscard(u.clientMessageId)}>
                    Dismiss
                  </button>
                </>
              ) : (
                <>
                  <span className="error">Not sent: {u.error?.message ?? 'failed'}</span>{' '}
                  <button type="button" className="link" onClick={() => props.onRetry(u.clientMessageId)}>
                    Retry
                  </button>
                </>
              )}
            </p>
          </li>
        ))}
      </ol>
      {opened !== null && <PhotoDialog attachment={opened.attachment} from={opened.from} resolve={props.resolve} onClose={() => setOpened(null)} />}
    </div>
  );
}

/** One delivered message: a marketplace notice, or a participant's (deleted, hidden or shown), with Report on the other's. */
function MessageItem({
  message: m,
  me,
  readByOther,
  reporting,
  reported,
  onReporting,
  onReport,
  photos,
}: {
  message: Message;
  me: string;
  readByOther: boolean;
  reporting: boolean;
  reported: boolean;
  onReporting: (open: boolean) => void;
  onReport: (reason: ReportReason) => void;
  /** The message's photos (thumbnails), when it has any. */
  photos: ReactNode;
}) {
  const [reason, setReason] = useState<ReportReason>('scam');

  if (m.kind === 'notice') {
    return (
      <li className="notice" aria-label="Notice from the marketplace">
        <p className="body">{withLinks(m.body)}</p>
        <p className="meta">
          <time dateTime={m.sentAt}>{time(m.sentAt)}</time>
        </p>
      </li>
    );
  }
  const erased = m.erased === true;
  return (
    <li className={`${m.senderId === me ? 'mine' : 'theirs'}${m.hidden ? ' hidden-message' : ''}${erased ? ' erased' : ''}`}>
      {erased ? (
        <p className="body deleted">Message deleted</p>
      ) : m.hidden ? (
        <p className="body">
          <em>This message was hidden by a moderator.</em>
        </p>
      ) : (
        <>
          {photos}
          {m.body !== '' && <p className="body">{withLinks(m.body)}</p>}
        </>
      )}
      {m.senderId !== me && m.safety.includes('contact_info') && (
        <p className="safety-warning" role="note">
          Careful: this message shares contact or payment details. Keep talking and paying on the marketplace, where we can help.
        </p>
      )}
      <p className="meta">
        <time dateTime={m.sentAt}>{time(m.sentAt)}</time>
        {readByOther && <span className="read"> · Read</span>}
        {m.senderId !== me && !m.hidden && !erased && !reported && !reporting && (
          <>
            {' · '}
            <button type="button" className="link" onClick={() => onReporting(true)}>
              Report
            </button>
          </>
        )}
        {reported && <span> · Reported</span>}
      </p>
      {reporting && (
        <form
          className="report-form"
          aria-label="Report this message"
          onSubmit={(e) => {
            e.preventDefault();
            onReport(reason);
          }}
        >
          <label>
            Reason{' '}
            <select value={reason} onChange={(e) => setReason(e.target.value as ReportReason)}>
              <option value="scam">Scam</option>
              <option value="spam">Spam</option>
              <option value="abuse">Abuse</option>
              <option value="other">Other</option>
            </select>
          </label>{' '}
          <button type="submit">Send report</button>{' '}
          <button type="button" className="link" onClick={() => onReporting(false)}>
            Cancel
          </button>
        </form>
      )}
    </li>
  );
}

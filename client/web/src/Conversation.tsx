import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { markErased, type ChatClient, type Message, type OutgoingMessage, type ReportReason, type Room } from '../../sdk/src';
import { counterpartOf } from './ConversationList';
import { Avatar, displayName } from './people';
import { dayKey, dayLabel, withLinks } from './richText';

const TYPING_SHOWN_MS = 4000;
const PAGE = 30;

function mergeBySeq(existing: Message[], incoming: Message[]): Message[] {
  const bySeq = new Map(existing.map((m) => [m.seq, m]));
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * One conversation: history (older pages on scrolling up), live messages, the outbox's
 * pending and failed messages, typing, read marks, block, and the expired banner with Reopen.
 */
export function Conversation(props: {
  client: ChatClient;
  me: string;
  roomId: string;
  room: Room | null;
  onRoom: (room: Room) => void;
  online: boolean;
}) {
  const { client, me, roomId, onRoom } = props;
  const [room, setRoom] = useState<Room | null>(props.room);
  const [messages, setMessages] = useState<Message[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [unsent, setUnsent] = useState<OutgoingMessage[]>(() => client.unsent(roomId));
  const [typingUntil, setTypingUntil] = useState(0);
  const [draft, setDraft] = useState('');
  const [, tick] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
  const keepFromBottom = useRef<number | null>(null);
  const stickToBottom = useRef(true);

  useEffect(() => {
    if (props.room !== null) setRoom(props.room);
  }, [props.room]);

  // The latest page, then everything after it live from the SDK.
  useEffect(() => {
    let cancelled = false;
    const offs = [
      client.on('message', (m) => {
        if (m.roomId !== roomId) return;
        setMessages((old) => mergeBySeq(old, [m]));
        if (m.senderId !== me) setTypingUntil(0);
      }),
      client.on('outbox', () => setUnsent(client.unsent(roomId))),
      client.on('messageHidden', (h) => {
        if (h.roomId !== roomId) return;
        setMessages((old) => old.map((m) => (m.seq === h.seq ? { ...m, hidden: true, body: '', safety: [] } : m)));
      }),
      client.on('erased', (erasure) => {
        if (erasure.roomId === roomId) setMessages((old) => markErased(old, erasure));
      }),
      client.on('typing', (t) => {
        if (t.roomId === roomId && t.userId !== me) setTypingUntil(Date.now() + TYPING_SHOWN_MS);
      }),
      client.on('room', (r) => {
        if (r.roomId === roomId) setRoom(r);
      }),
      client.on('read', (r) => {
        if (r.roomId !== roomId) return;
        setRoom((old) => (old === null ? old : { ...old, lastReadSeq: { ...old.lastReadSeq, [r.userId]: r.upToSeq } }));
      }),
    ];
    void (async () => {
      try {
        const [current, page] = await Promise.all([client.room(roomId), client.history(roomId, { limit: PAGE })]);
        if (cancelled) return;
        setRoom(current);
        onRoom(current);
        setMessages((old) => mergeBySeq(old, page.messages));
        setHasMore(page.hasMore);
        client.follow(roomId, page.messages.at(-1)?.seq ?? 0);
      } catch (e) {
        if (!cancelled) setError(e instanceof Error ? e.message : String(e));
      } finally {
        if (!cancelled) setLoading(false);
      }
    })();
    return () => {
      cancelled = true;
      for (const off of offs) off();
    };
  }, [client, roomId, me, onRoom]);

  // Read up to the newest message while the conversation is on screen.
  const lastSeq = messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (lastSeq === 0) return;
    const mark = () => {
      if (document.visibilityState === 'visible') void client.markRead(roomId, lastSeq).catch(() => undefined);
    };
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [client, roomId, lastSeq]);

  useEffect(() => {
    if (typingUntil === 0) return;
    const timer = setTimeout(() => tick((n) => n + 1), Math.max(0, typingUntil - Date.now()) + 50);
    return () => clearTimeout(timer);
  }, [typingUntil]);

  // Keep the view where the reader is: at the bottom for new messages, in place when older ones load.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    if (keepFromBottom.current !== null) {
      el.scrollTop = el.scrollHeight - keepFromBottom.current;
      keepFromBottom.current = null;
    } else if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [messages, unsent]);

  const loadOlder = useCallback(async () => {
    const first = messages[0];
    if (!hasMore || loading || first === undefined) return;
    setLoading(true);
    try {
      const page = await client.history(roomId, { before: first.seq, limit: PAGE });
      const el = scroller.current;
      if (el !== null) keepFromBottom.current = el.scrollHeight - el.scrollTop;
      setMessages((old) => mergeBySeq(old, page.messages));
      setHasMore(page.hasMore);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoading(false);
    }
  }, [client, roomId, messages, hasMore, loading]);

  const onScroll = () => {
    const el = scroller.current;
    if (el === null) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (el.scrollTop < 40) void loadOlder();
  };

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    if (draft.trim() === '') return;
    client.send(roomId, draft);
    setDraft('');
    stickToBottom.current = true;
    setUnsent(client.unsent(roomId));
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a new line; never while an IME (Korean, Japanese…) is composing.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
  };

  // Who blocked whom is the room's own (`blockedByMe`, `blockedMe`), the same on every device.
  const blocked = room?.blockedByMe === true;
  const blockedMe = room?.blockedMe === true;
  const toggleBlock = async () => {
    try {
      if (blocked) await client.unblock(roomId);
      else await client.block(roomId);
      const current = await client.room(roomId);
      setRoom(current);
      onRoom(current);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const reopen = async () => {
    try {
      const reopened = await client.reopenRoom(roomId);
      setRoom(reopened);
      onRoom(reopened);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const [reporting, setReporting] = useState<number | null>(null);
  const [reason, setReason] = useState<ReportReason>('scam');
  const [reported, setReported] = useState<ReadonlySet<number>>(new Set());
  const report = async (seq: number) => {
    try {
      await client.report(roomId, seq, reason);
      setReported((old) => new Set(old).add(seq));
      setReporting(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const other = room === null ? null : counterpartOf(room, me);
  const otherName = other === null ? null : displayName(room, other);
  const otherRead = room === null || other === null ? 0 : (room.lastReadSeq[other] ?? 0);
  const lastMine = [...messages].reverse().find((m) => m.senderId === me);
  const shownUnsent = unsent.filter((u) => !messages.some((m) => m.clientMessageId === u.clientMessageId && m.senderId === me));

  return (
    <section className="conversation-view" aria-label={room === null ? 'Conversation' : `Conversation with ${other} about ${room.postTitle}`}>
      <header className="conversation-head">
        <a href="#/rooms" className="back" aria-label="Back to conversations">
          ‹
        </a>
        {other !== null && <Avatar room={room} userId={other} />}
        <div className="title">
          <h1>{otherName ?? '…'}</h1>
          <p>{room?.postTitle ?? ''}</p>
        </div>
        <button type="button" onClick={() => void toggleBlock()} className="secondary">
          {blocked ? 'Unblock' : 'Block'}
        </button>
      </header>
      {room?.status === 'expired' && (
        <div className="banner" role="region" aria-label="Expired">
          <span>This conversation expired after a quiet spell. Reopen it to write again.</span>
          <button type="button" onClick={() => void reopen()}>
            Reopen
          </button>
        </div>
      )}
      {blocked && <p className="banner muted">You blocked {otherName}: you won’t receive their messages until you unblock.</p>}
      {blockedMe && (
        <p className="banner" role="status">
          {otherName} isn’t accepting messages from you in this conversation: what you write won’t be sent.
        </p>
      )}
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="messages" ref={scroller} onScroll={onScroll}>
        {hasMore && (
          <button type="button" className="older" onClick={() => void loadOlder()} disabled={loading}>
            {loading ? 'Loading…' : 'Older messages'}
          </button>
        )}
        {!loading && messages.length === 0 && shownUnsent.length === 0 && room !== null && (
          <p className="hint empty-conversation">
            No messages yet. Say hello to {otherName} about “{room.postTitle}”: when you could pick it up, for how long, any questions.
          </p>
        )}
        <ol aria-label="Message history">
          {messages.flatMap((m, index) => [
            ...(index === 0 || dayKey(messages[index - 1]!.sentAt) !== dayKey(m.sentAt)
              ? [
                  <li key={`day-${m.seq}`} className="day" role="separator">
                    <span>{dayLabel(m.sentAt)}</span>
                  </li>,
                ]
              : []),
            m.kind === 'notice' ? (
              <li key={m.seq} className="notice" aria-label="Notice from the marketplace">
                <p className="body">{withLinks(m.body)}</p>
                <p className="meta">
                  <time dateTime={m.sentAt}>{time(m.sentAt)}</time>
                </p>
              </li>
            ) : (
              <li
                key={m.seq}
                className={`${m.senderId === me ? 'mine' : 'theirs'}${m.hidden ? ' hidden-message' : ''}${m.erased === true ? ' erased' : ''}`}
              >
                {m.erased === true ? (
                  <p className="body deleted">Message deleted</p>
                ) : m.hidden ? (
                  <p className="body">
                    <em>This message was hidden by a moderator.</em>
                  </p>
                ) : (
                  <p className="body">{withLinks(m.body)}</p>
                )}
                {m.senderId !== me && m.safety.includes('contact_info') && (
                  <p className="safety-warning" role="note">
                    Careful: this message shares contact or payment details. Keep talking and paying on the marketplace, where we can help.
                  </p>
                )}
                <p className="meta">
                  <time dateTime={m.sentAt}>{time(m.sentAt)}</time>
                  {m === lastMine && otherRead >= m.seq && <span className="read"> · Read</span>}
                  {m.senderId !== me && !m.hidden && m.erased !== true && !reported.has(m.seq) && reporting !== m.seq && (
                    <>
                      {' · '}
                      <button type="button" className="link" onClick={() => setReporting(m.seq)}>
                        Report
                      </button>
                    </>
                  )}
                  {reported.has(m.seq) && <span> · Reported</span>}
                </p>
                {reporting === m.seq && (
                  <form
                    className="report-form"
                    aria-label="Report this message"
                    onSubmit={(e) => {
                      e.preventDefault();
                      void report(m.seq);
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
                    <button type="button" className="link" onClick={() => setReporting(null)}>
                      Cancel
                    </button>
                  </form>
                )}
              </li>
            ),
          ])}
          {shownUnsent.map((u) => (
            <li key={u.clientMessageId} className={`mine ${u.status}`} aria-label={u.status === 'failed' ? 'Not sent' : 'Sending'}>
              <p className="body">{u.body}</p>
              <p className="meta">
                {u.status === 'pending' ? (
                  <span>{props.online ? 'Sending…' : 'Waiting for connection…'}</span>
                ) : (
                  <>
                    <span className="error">Not sent: {u.error?.message ?? 'failed'}</span>{' '}
                    <button type="button" className="link" onClick={() => client.retry(u.clientMessageId)}>
                      Retry
                    </button>
                  </>
                )}
              </p>
            </li>
          ))}
        </ol>
      </div>
      <p className="typing" aria-live="polite">
        {typingUntil > Date.now() && other !== null ? `${otherName} is typing…` : ''}
      </p>
      <form className="composer" onSubmit={send}>
        <label htmlFor="message-box" className="visually-hidden">
          Message
        </label>
        <textarea
          id="message-box"
          rows={1}
          value={draft}
          maxLength={4000}
          disabled={blockedMe}
          placeholder={
            blockedMe ? `${otherName} isn’t accepting your messages` : room?.status === 'expired' ? 'Reopen the conversation to write' : 'Write a message'
          }
          onChange={(e) => {
            setDraft(e.target.value);
            if (e.target.value !== '') client.typing(roomId);
          }}
          onKeyDown={onKeyDown}
        />
        <button type="submit" disabled={blockedMe}>
          Send
        </button>
      </form>
    </section>
  );
}

import { useState, type FormEvent, type KeyboardEvent } from 'react';

/**
 * Where a message is written: Enter sends, Shift+Enter is a new line (never while an IME is
 * composing); typing tells the other side. Disabled, saying why, when the other participant
 * does not accept this user's messages.
 */
export function Composer(props: { disabled: boolean; placeholder: string; onSend: (body: string) => void; onTyping: () => void }) {
  const [draft, setDraft] = useState('');

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    if (draft.trim() === '') return;
    props.onSend(draft);
    setDraft('');
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a new line; never while an IME (Korean, Japanese…) is composing.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
  };

  return (
    <form className="composer" onSubmit={send}>
      <label htmlFor="message-box" className="visually-hidden">
        Message
      </label>
      <textarea
        id="message-box"
        rows={1}
        value={draft}
        maxLength={4000}
        disabled={props.disabled}
        placeholder={props.placeholder}
        onChange={(e) => {
          setDraft(e.target.value);
          if (e.target.value !== '') props.onTyping();
        }}
        onKeyDown={onKeyDown}
      />
      <button type="submit" disabled={props.disabled}>
        Send
      </button>
    </form>
  );
}

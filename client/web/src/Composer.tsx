import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

/** The photo types the service takes (it decides from the bytes; the picker offers these). */
const PHOTO_TYPES = 'image/jpeg,image/png,image/webp';

/** A data: URL of the file, for the preview (the page's CSP allows data: images, not blob:). */
function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(file);
  });
}

/**
 * Where a message is written: Enter sends, Shift+Enter is a new line (never while an IME is
 * composing); typing tells the other side. **Attach photo** picks a photo, previewed above
 * the box (with **Remove photo**) until Send, which sends it with the text as its caption.
 * Disabled, saying why, when the other participant does not accept this user's messages.
 */
export function Composer(props: {
  disabled: boolean;
  placeholder: string;
  onSend: (body: string) => void;
  onSendPhoto: (file: File, body: string, preview: string | null) => void;
  onTyping: () => void;
}) {
  const [draft, setDraft] = useState('');
  const [photo, setPhoto] = useState<{ file: File; preview: string | null } | null>(null);
  const picker = useRef<HTMLInputElement>(null);

  // A file picked while another is still being read: only the latest one is kept.
  const picked = useRef<File | null>(null);
  const pick = (file: File | undefined) => {
    if (file === undefined) return;
    picked.current = file;
    setPhoto({ file, preview: null });
    void readAsDataUrl(file).then(
      (preview) => {
        if (picked.current === file) setPhoto({ file, preview });
      },
      () => undefined,
    );
  };
  useEffect(() => {
    if (props.disabled) setPhoto(null);
  }, [props.disabled]);

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    if (photo !== null) {
      props.onSendPhoto(photo.file, draft.trim() === '' ? '' : draft, photo.preview);
      setPhoto(null);
      picked.current = null;
      setDraft('');
      return;
    }
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
      {photo !== null && (
        <figure className="photo-preview" aria-label="Photo to send">
          {photo.preview !== null && (
            // A file that is no image shows its name only (the server will say why it cannot be sent).
            <img src={photo.preview} alt={`Preview of ${photo.file.name}`} onError={() => setPhoto((old) => (old === null ? old : { ...old, preview: null }))} />
          )}
          <figcaption>{photo.file.name}</figcaption>
          <button
            type="button"
            className="link"
            onClick={() => {
              setPhoto(null);
              picked.current = null;
            }}
          >
            Remove photo
          </button>
        </figure>
      )}
      <input
        ref={picker}
        type="file"
        accept={PHOTO_TYPES}
        className="visually-hidden"
        tabIndex={-1}
        aria-hidden="true"
        onChange={(e) => {
          pick(e.target.files?.[0]);
          e.target.value = '';
        }}
      />
      <button type="button" className="attach" aria-label="Attach photo" title="Attach photo" disabled={props.disabled} onClick={() => picker.current?.click()}>
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
          <rect x="3" y="5" width="18" height="14" rx="2" />
          <circle cx="9" cy="10" r="1.5" />
          <path d="M21 16l-5-5-8 8" />
        </svg>
      </button>
      <label htmlFor="message-box" className="visually-hidden">
        Message
      </label>
      <textarea
        id="message-box"
        rows={1}
        value={draft}
        maxLength={4000}
        disabled={props.disabled}
        placeholder={photo !== null ? 'Add a caption (optional)' : props.placeholder}
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

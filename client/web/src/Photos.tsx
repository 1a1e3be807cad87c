import { useEffect, useRef, useState } from 'react';
import type { Attachment, OutgoingMessage } from '../../sdk/src';

/** A message's photos as thumbnails; each opens the full image (`onOpen`). URLs are the server's, resolved by `resolve`. */
export function Thumbnails(props: { attachments: Attachment[]; from: string; resolve: (url: string) => string; onOpen: (attachment: Attachment) => void }) {
  return (
    <div className="photos">
      {props.attachments.map((a) => {
        // The thumbnail's box, so the list does not jump as it loads: 320 px on the long side at most.
        const scale = Math.min(1, 240 / Math.max(a.width, a.height, 1));
        return (
          <button key={a.attachmentId} type="button" className="thumbnail" aria-label={`Open photo from ${props.from}`} onClick={() => props.onOpen(a)}>
            <img src={props.resolve(a.thumbnailUrl)} alt={`Photo from ${props.from}`} width={Math.round(a.width * scale)} height={Math.round(a.height * scale)} loading="lazy" />
          </button>
        );
      })}
    </div>
  );
}

/** The full image in a modal dialog ("Photo"), closed by Close, Escape or a click beside it. */
export function PhotoDialog(props: { attachment: Attachment; from: string; resolve: (url: string) => string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el !== null && !el.open) el.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      className="photo-dialog"
      aria-label="Photo"
      onClose={props.onClose}
      onClick={(e) => {
        if (e.target === dialog.current) dialog.current?.close();
      }}
    >
      <img src={props.resolve(props.attachment.url)} alt={`Full-size photo from ${props.from}`} width={props.attachment.width} height={props.attachment.height} />
      <button type="button" onClick={() => dialog.current?.close()}>
        Close
      </button>
    </dialog>
  );
}

/** Why a photo was not sent, as a person would say it. */
export function photoRefusal(item: OutgoingMessage): string {
  switch (item.error?.code) {
    case 'payload_too_large':
      return 'This photo is too large to send. Try a smaller one, or a screenshot of it.';
    case 'unsupported_media_type':
      return 'This file is not a photo the chat can send: use a JPEG, PNG or WebP image.';
    case 'bad_request':
      return 'This photo could not be read. Try another one.';
    default:
      return item.error?.message ?? 'failed';
  }
}

/** A photo message of this user's, uploading or refused: its preview and an upload progress bar. */
export function UnsentPhoto(props: { item: OutgoingMessage; preview: string | undefined }) {
  const photo = props.item.photo;
  // A file that is no image (refused by the server) has no preview to show.
  const [unreadable, setUnreadable] = useState(false);
  if (photo === undefined) return null;
  const uploading = props.item.status === 'pending' && photo.attachment === null;
  return (
    <div className="photos">
      {props.preview !== undefined && !unreadable && <img className="thumbnail" src={props.preview} alt="Photo being sent" onError={() => setUnreadable(true)} />}
      {uploading && (
        <progress className="upload" aria-label="Upload progress" max={Math.max(photo.bytes, 1)} value={photo.loaded}>
          {Math.round((100 * photo.loaded) / Math.max(photo.bytes, 1))}%
        </progress>
      )}
    </div>
  );
}

import type { MessageAttachment } from '../../domain/room';

/**
 * The ports of photo attachments (docs/attachments.md): where the image bytes are kept
 * (AttachmentStore, one adapter per backend), what is known about each upload
 * (AttachmentCatalog, always PostgreSQL), and the image library (ImagePipeline).
 */

/** The image types accepted, decided from the bytes. */
export type ImageType = 'image/jpeg' | 'image/png' | 'image/webp';

export const ACCEPTED_IMAGE_TYPES: readonly ImageType[] = ['image/jpeg', 'image/png', 'image/webp'];

/** One stored rendition of an upload: the full image or its thumbnail. */
export interface Rendition {
  contentType: ImageType;
  bytes: number;
  width: number;
  height: number;
  /** SHA-256 of the stored bytes, lower-case hex. */
  sha256: string;
}

/** What the service knows of one upload. */
export interface AttachmentRecord {
  attachmentId: string;
  roomId: string;
  uploaderId: string;
  image: Rendition;
  thumbnail: Rendition;
  uploadedAt: string;
  /** The send that took it, once sent: an attachment is sent once. */
  sentBy: { clientMessageId: string } | null;
}

export type AttachmentVariant = 'image' | 'thumbnail';

/** The storage port: bytes by key. Keys are made by the service (`<attachmentId>/<variant>`). */
export interface AttachmentStore {
  /** Which backend holds the bytes (`postgres`, `s3`): for logs and metrics. */
  readonly kind: string;
  put(key: string, data: Buffer, contentType: ImageType): Promise<void>;
  /** The bytes stored under `key`, or null when there are none. */
  get(key: string): Promise<{ data: Buffer; contentType: string } | null>;
  /** Deletes what is stored under each key; a key with nothing stored is no error. */
  delete(keys: readonly string[]): Promise<void>;
}

export const storageKey = (attachmentId: string, variant: AttachmentVariant): string => `${attachmentId}/${variant}`;

export type ClaimOutcome = 'claimed' | 'not_found' | 'already_sent';

export interface AttachmentCatalog {
  record(attachment: AttachmentRecord): Promise<void>;
  get(attachmentId: string): Promise<AttachmentRecord | null>;
  /**
   * Marks the attachment as taken by the send (sender, clientMessageId), once: the same
   * send again (a retry) is `claimed` again, any other send gets `already_sent`. An
   * attachment of another room or uploader is `not_found`.
   */
  claim(attachmentId: string, roomId: string, senderId: string, clientMessageId: string): Promise<ClaimOutcome>;
  /** Attachments uploaded before `before` and never sent. */
  unsentBefore(before: Date, limit: number): Promise<AttachmentRecord[]>;
  remove(attachmentId: string): Promise<void>;
  /** Every attachment sent in this room (for its retention). */
  sentIn(roomId: string): Promise<AttachmentRecord[]>;
  /** Every attachment this user uploaded, sent or not (for erasure). */
  uploadedBy(uploaderId: string): Promise<AttachmentRecord[]>;
  /** Undoes a claim by that send (sender, clientMessageId); another send's claim is left alone. */
  unclaim(attachmentId: string, senderId: string, clientMessageId: string): Promise<void>;
}

/**
 * The attachments a send takes (application/attachments implements it over the catalog):
 * each must have been uploaded by the sender to this room and not sent before.
 */
export interface AttachmentClaims {
  /** What each attachment's message will record, in the order given; throws InvalidCommandError naming the first refused. */
  claim(attachmentIds: readonly string[], roomId: string, senderId: string, clientMessageId: string): Promise<MessageAttachment[]>;
  /** Gives back what a send claimed but did not send (it was refused, or it was a retry of another message). */
  release(attachmentIds: readonly string[], roomId: string, senderId: string, clientMessageId: string): Promise<void>;
}

/**
 * The data key the renditions are sealed under (the uploader's in the room,
 * docs/privacy.md) and what each is bound to (its storage key): sealing happens where the
 * image is made, off the event loop.
 */
export interface RenditionSealing {
  keyId: string;
  key: Buffer;
  boundTo: { image: string; thumbnail: string };
}

export interface ProcessedImage {
  /** `stored`: the rendition sealed, as it is to be stored; the rendition's digest is of the clear bytes. */
  image: { stored: Buffer; rendition: Rendition };
  thumbnail: { stored: Buffer; rendition: Rendition };
}

/** The image refused by the pipeline, and why, in words for the uploader. */
export class ImageRefusedError extends Error {
  constructor(
    readonly reason: 'unsupported_type' | 'too_many_pixels' | 'undecodable',
    message: string,
  ) {
    super(message);
    this.name = 'ImageRefusedError';
  }
}

export interface ImagePipeline {
  /** The type of the image from its first bytes (at least 4100, or all there are), or null when it is none accepted. */
  sniff(head: Uint8Array): Promise<ImageType | null>;
  /**
   * Decodes the image and writes it again with no metadata kept (orientation applied),
   * and a thumbnail, both sealed under `sealing`; throws ImageRefusedError for an image
   * it will not decode.
   */
  process(data: Buffer, type: ImageType, sealing: RenditionSealing): Promise<ProcessedImage>;
}

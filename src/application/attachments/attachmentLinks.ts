import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AttachmentVariant, Rendition } from '../ports/attachments';
import type { Clock } from '../ports/clock';

/** An attachment as a message (or an upload's answer) shows it: its metadata and two signed URLs. */
export interface PublicAttachment {
  attachmentId: string;
  contentType: string;
  bytes: number;
  width: number;
  height: number;
  sha256: string;
  url: string;
  thumbnailUrl: string;
}

/** What a message records of each attachment (MessageSent): the image's metadata and the thumbnail's digest. */
export interface SentAttachment {
  attachmentId: string;
  contentType: string;
  bytes: number;
  width: number;
  height: number;
  sha256: string;
  thumbnail: Rendition;
}

/** The path a signed URL points at; not under /api, as a browser's <img> sends no bearer token. */
export const ATTACHMENT_PATH_PREFIX = '/attachments';

export type LinkCheck = { ok: true } | { ok: false; reason: 'expired' | 'bad_signature' };

/**
 * Signed, expiring attachment URLs: `/attachments/<id>/<variant>?expires=<unix s>&sig=<hmac>`,
 * the HMAC-SHA-256 of the id, the variant and the expiry under a key only the server holds.
 * Whoever holds a URL can load that one image until it expires, as with a presigned S3
 * URL; only the room's participants are ever given one. The expiry is rounded up to a
 * quarter of the TTL, so reads within that window hand out the same URL and a browser's
 * cache keeps working (docs/attachments.md).
 */
export class AttachmentLinks {
  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  url(attachmentId: string, variant: AttachmentVariant): string {
    const step = Math.max(1, Math.floor(this.ttlMs / 4 / 1000));
    const earliest = Math.ceil((this.clock.now().getTime() + this.ttlMs) / 1000);
    const expires = Math.ceil(earliest / step) * step;
    return `${ATTACHMENT_PATH_PREFIX}/${attachmentId}/${variant}?expires=${expires}&sig=${this.signature(attachmentId, variant, expires)}`;
  }

  /** Whether a URL's `expires` and `sig` are the server's own and still good. */
  check(attachmentId: string, variant: AttachmentVariant, expires: string, sig: string): LinkCheck {
    if (!/^\d{1,12}$/.test(expires)) return { ok: false, reason: 'bad_signature' };
    const expected = Buffer.from(this.signature(attachmentId, variant, Number(expires)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
    if (Number(expires) * 1000 <= this.clock.now().getTime()) return { ok: false, reason: 'expired' };
    return { ok: true };
  }

  /** Seconds until a URL expires: how long a browser may keep the image. */
  secondsLeft(expires: string): number {
    return Math.max(0, Math.floor(Number(expires) - this.clock.now().getTime() / 1000));
  }

  present(attachment: Omit<SentAttachment, 'thumbnail'>): PublicAttachment {
    return {
      attachmentId: attachment.attachmentId,
      contentType: attachment.contentType,
      bytes: attachment.bytes,
      width: attachment.width,
      height: attachment.height,
      sha256: attachment.sha256,
      url: this.url(attachment.attachmentId, 'image'),
      thumbnailUrl: this.url(attachment.attachmentId, 'thumbnail'),
    };
  }

  private signature(attachmentId: string, variant: AttachmentVariant, expires: number): string {
    return createHmac('sha256', this.key).update(`attachment\n${attachmentId}\n${variant}\n${expires}`).digest('base64url');
  }
}

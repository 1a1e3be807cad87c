import type { ImageRefusedError, ImageType, Rendition, RenditionSealing } from '../../application/ports/attachments';

/**
 * The messages between the server (ImageWorkerPool) and an image worker (imageWorker.ts).
 * Bytes cross the pipe in pieces of at most PIECE_BYTES each way, so the server never
 * serializes or parses megabytes in one go. In: `{id, piece}` messages, then `{id, type,
 * maxPixels, sealing}` once the image is whole. Out: `{id, started: true}` when the
 * worker begins on it; then `{id, rendition, piece}` messages (the sealed image, then the
 * sealed thumbnail) and `{id, ok: true, image, thumbnail}` (their metadata), or
 * `{id, ok: false, reason, message}`.
 */

/** The most bytes one message carries. */
export const PIECE_BYTES = 256 * 1024;

export type WorkRequest =
  | { id: number; piece: Uint8Array }
  | { id: number; type: ImageType; maxPixels: number; sealing: RenditionSealing };

export type WorkAnswer =
  | { id: number; started: true }
  | { id: number; rendition: 'image' | 'thumbnail'; piece: Uint8Array }
  | { id: number; ok: true; image: Rendition; thumbnail: Rendition }
  | { id: number; ok: false; reason: ImageRefusedError['reason']; message: string };

/**
 * The image worker: a child process of the server that decodes and re-encodes uploads
 * and seals them (SharpImagePipeline), started by ImageWorkerPool with a lower CPU
 * priority. It takes images as soon as the server has them and decodes them one at a
 * time, in the order they came. Its messages: imageWorkerProtocol.ts. Only the worker
 * loads this module (it listens on the process's IPC channel).
 */
import type { ImageType, RenditionSealing } from '../../application/ports/attachments';
import { ImageRefusedError } from '../../application/ports/attachments';
import { PIECE_BYTES, type WorkAnswer, type WorkRequest } from './imageWorkerProtocol';
import { SharpImagePipeline } from './sharpImagePipeline';

const pipelines = new Map<number, SharpImagePipeline>();
/** The pieces of each image still coming in. */
const incoming = new Map<number, Buffer[]>();
/** The images taken and not decoded yet, in order. */
let queue: Promise<void> = Promise.resolve();

const answer = (message: WorkAnswer): void => {
  process.send?.(message);
};

async function work(id: number, data: Buffer, request: { type: ImageType; maxPixels: number; sealing: RenditionSealing }): Promise<void> {
  const pipeline = pipelines.get(request.maxPixels) ?? new SharpImagePipeline(request.maxPixels);
  pipelines.set(request.maxPixels, pipeline);
  answer({ id, started: true });
  try {
    const result = await pipeline.process(data, request.type, { ...request.sealing, key: asBuffer(request.sealing.key) });
    for (const rendition of ['image', 'thumbnail'] as const) {
      const stored = result[rendition].stored;
      for (let offset = 0; offset < stored.length; offset += PIECE_BYTES) answer({ id, rendition, piece: stored.subarray(offset, offset + PIECE_BYTES) });
    }
    answer({ id, ok: true, image: result.image.rendition, thumbnail: result.thumbnail.rendition });
  } catch (error) {
    answer(
      error instanceof ImageRefusedError
        ? { id, ok: false, reason: error.reason, message: error.message }
        : { id, ok: false, reason: 'undecodable', message: 'the image could not be decoded' },
    );
  }
}

process.on('message', (request: WorkRequest) => {
  const pieces = incoming.get(request.id) ?? [];
  if ('piece' in request) {
    pieces.push(asBuffer(request.piece));
    incoming.set(request.id, pieces);
    return;
  }
  incoming.delete(request.id);
  const data = Buffer.concat(pieces);
  queue = queue.then(() => work(request.id, data, request));
});

/** Structured clone gives Uint8Arrays: Buffers for the pipeline. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// The server went away: nothing left to work for.
process.on('disconnect', () => process.exit(0));

/**
 * The image worker: a child process of the server that decodes and re-encodes uploads
 * (SharpImagePipeline), started by ImageWorkerPool with a lower CPU priority. Messages:
 * `{id, data, type, maxPixels}` in, `{id, ok: true, result}` or `{id, ok: false, reason, message}` out.
 */
import type { ImageType } from '../../application/ports/attachments';
import { ImageRefusedError } from '../../application/ports/attachments';
import { SharpImagePipeline } from './sharpImagePipeline';

export interface WorkRequest {
  id: number;
  data: Uint8Array;
  type: ImageType;
  maxPixels: number;
}

const pipelines = new Map<number, SharpImagePipeline>();

process.on('message', (request: WorkRequest) => {
  const pipeline = pipelines.get(request.maxPixels) ?? new SharpImagePipeline(request.maxPixels);
  pipelines.set(request.maxPixels, pipeline);
  const data = Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength);
  pipeline.process(data, request.type).then(
    (result) => process.send?.({ id: request.id, ok: true, result }),
    (error: unknown) =>
      process.send?.(
        error instanceof ImageRefusedError
          ? { id: request.id, ok: false, reason: error.reason, message: error.message }
          : { id: request.id, ok: false, reason: 'undecodable', message: 'the image could not be decoded' },
      ),
  );
});

// The server went away: nothing left to work for.
process.on('disconnect', () => process.exit(0));

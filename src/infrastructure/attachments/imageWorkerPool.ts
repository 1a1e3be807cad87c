import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import path from 'node:path';
import { ImageRefusedError, type ImagePipeline, type ImageType, type ProcessedImage } from '../../application/ports/attachments';
import type { Logger } from '../../application/ports/logger';
import type { WorkRequest } from './imageWorker';
import { SharpImagePipeline } from './sharpImagePipeline';

interface Worker {
  child: ChildProcess;
  busy: boolean;
}

type WorkAnswer =
  | { id: number; ok: true; result: ProcessedImage }
  | { id: number; ok: false; reason: ImageRefusedError['reason']; message: string };

/** Nice value of the image workers: the chat's own process and the database come first. */
const WORKER_NICENESS = 10;

/**
 * Decodes uploads in child processes (imageWorker.ts), one image at a time each, at a
 * lower CPU priority than the server: decoding a photo takes CPU time the chat needs
 * more, and a decoder that crashes on a hostile file takes down only its worker (the
 * upload is refused, the next one gets a new worker). Workers start on the first
 * upload, so a server that never sees one runs none.
 */
export class ImageWorkerPool implements ImagePipeline {
  private readonly sniffer: SharpImagePipeline;
  private readonly workers: Array<Worker | null>;
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Map<number, { resolve(result: ProcessedImage): void; reject(error: unknown): void; worker: Worker }>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly options: { maxPixels: number; workers: number; logger: Logger },
  ) {
    this.sniffer = new SharpImagePipeline(options.maxPixels);
    this.workers = Array.from({ length: Math.max(1, options.workers) }, () => null);
  }

  sniff(head: Uint8Array): Promise<ImageType | null> {
    return this.sniffer.sniff(head);
  }

  async process(data: Buffer, type: ImageType): Promise<ProcessedImage> {
    const index = await this.takeWorker();
    const worker = this.workers[index] as Worker;
    const id = this.nextId++;
    try {
      return await new Promise<ProcessedImage>((resolve, reject) => {
        this.pending.set(id, { resolve, reject, worker });
        const request: WorkRequest = { id, data, type, maxPixels: this.options.maxPixels };
        worker.child.send(request, (error) => {
          if (error !== null) this.settle(id, { id, ok: false, reason: 'undecodable', message: 'the image worker could not take the image' });
        });
      });
    } finally {
      worker.busy = false;
      this.waiting.shift()?.();
    }
  }

  /** Stops the workers (at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.workers.map(async (worker) => {
        if (worker === null || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
        const exited = new Promise((resolve) => worker.child.once('exit', resolve));
        worker.child.kill('SIGTERM');
        await exited;
      }),
    );
  }

  /** An idle worker's index (started if need be), waiting in turn when all are busy. */
  private async takeWorker(): Promise<number> {
    for (;;) {
      if (this.closed) throw new Error('the image workers are stopped');
      const index = this.workers.findIndex((worker) => worker === null || !worker.busy);
      if (index >= 0) {
        const worker = this.workers[index] ?? this.start(index);
        worker.busy = true;
        return index;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private start(index: number): Worker {
    const extension = path.extname(__filename);
    const child = fork(path.join(__dirname, `imageWorker${extension}`), [], {
      // Under ts sources (tests), the worker is TypeScript too.
      execArgv: extension === '.ts' ? ['-r', '@swc-node/register'] : [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      if (child.pid !== undefined) setPriority(child.pid, WORKER_NICENESS);
    } catch {
      // Not allowed here (some containers): the worker runs at the server's priority.
    }
    const worker = { child, busy: false };
    this.workers[index] = worker;
    child.on('message', (answer: WorkAnswer) => this.settle(answer.id, answer));
    child.on('exit', (code, signal) => {
      if (this.workers[index] === worker) this.workers[index] = null;
      if (!this.closed) this.options.logger.warn({ code, signal }, 'an image worker stopped; the next upload starts another');
      // Whatever it had in hand is refused: the image may be what crashed it.
      for (const [id, waiter] of this.pending) {
        if (waiter.worker !== worker) continue;
        this.pending.delete(id);
        waiter.reject(new ImageRefusedError('undecodable', 'the image could not be decoded'));
      }
    });
    return worker;
  }

  private settle(id: number, answer: WorkAnswer): void {
    const waiter = this.pending.get(id);
    if (waiter === undefined) return;
    this.pending.delete(id);
    if (answer.ok) {
      const { image, thumbnail } = answer.result;
      // Structured clone gives Uint8Arrays back: Buffers for the callers.
      waiter.resolve({
        image: { data: asBuffer(image.data), rendition: image.rendition },
        thumbnail: { data: asBuffer(thumbnail.data), rendition: thumbnail.rendition },
      });
    } else waiter.reject(new ImageRefusedError(answer.reason, answer.message));
  }
}

const asBuffer = (data: Uint8Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

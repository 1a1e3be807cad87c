import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import path from 'node:path';
import { ImageRefusedError, type ImagePipeline, type ImageType, type ProcessedImage, type RenditionSealing } from '../../application/ports/attachments';
import type { Logger } from '../../application/ports/logger';
import { UnavailableError } from '../../application/unavailable';
import { PIECE_BYTES, type WorkAnswer, type WorkRequest } from './imageWorkerProtocol';
import { SharpImagePipeline } from './sharpImagePipeline';

interface Waiter {
  resolve(result: ProcessedImage): void;
  reject(error: unknown): void;
  worker: Worker;
  /** The worker said it is decoding this one now. */
  started: boolean;
  /** The sealed renditions' pieces as they come back. */
  pieces: { image: Buffer[]; thumbnail: Buffer[] };
}

interface Worker {
  child: ChildProcess;
  /** Images handed to it and not answered yet. */
  inHand: number;
}

/** Nice value of the image workers: the chat's own process and the database come first. */
const WORKER_NICENESS = 10;

/**
 * Decodes uploads in child processes (imageWorker.ts) at a lower CPU priority than the
 * server: decoding a photo, and sealing what comes out of it, take CPU time the chat
 * needs more. Each image goes to the worker with the fewest in hand as soon as its body
 * is in, and waits its turn there (each worker decodes one at a time): an upload waiting
 * for a decoder holds its megabytes in the worker's memory, not in the server's heap.
 * The bytes cross in pieces of 256 KiB each way (imageWorkerProtocol.ts). A decoder that
 * crashes on a hostile file takes down only its worker: the image it was decoding is
 * refused as undecodable, the others it held are answered `unavailable` (try again), and
 * the next upload starts a new worker. Workers start on the first upload, so a server
 * that never sees one runs none.
 */
export class ImageWorkerPool implements ImagePipeline {
  private readonly sniffer: SharpImagePipeline;
  private readonly workers: Array<Worker | null>;
  private readonly pending = new Map<number, Waiter>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: { maxPixels: number; workers: number; logger: Logger }) {
    this.sniffer = new SharpImagePipeline(options.maxPixels);
    this.workers = Array.from({ length: Math.max(1, options.workers) }, () => null);
  }

  sniff(head: Uint8Array): Promise<ImageType | null> {
    return this.sniffer.sniff(head);
  }

  process(data: Buffer, type: ImageType, sealing: RenditionSealing): Promise<ProcessedImage> {
    if (this.closed) return Promise.reject(new Error('the image workers are stopped'));
    const worker = this.leastBusy();
    const id = this.nextId++;
    worker.inHand += 1;
    return new Promise<ProcessedImage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker, started: false, pieces: { image: [], thumbnail: [] } });
      this.handOver(worker, id, data, { type, maxPixels: this.options.maxPixels, sealing }).catch(() =>
        this.fail(id, new UnavailableError('the image worker could not take the image; try again')),
      );
    });
  }

  /**
   * Sends the image to the worker a piece at a time, each once the one before is written,
   * with the event loop free in between: serializing megabytes in one message held it for
   * milliseconds, twenty at once for tens of them.
   */
  private async handOver(worker: Worker, id: number, data: Buffer, last: Omit<Extract<WorkRequest, { type: ImageType }>, 'id'>): Promise<void> {
    const send = (request: WorkRequest) =>
      new Promise<void>((resolve, reject) => worker.child.send(request, (error) => (error === null ? resolve() : reject(error))));
    for (let offset = 0; offset < data.length; offset += PIECE_BYTES) {
      await send({ id, piece: data.subarray(offset, offset + PIECE_BYTES) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await send({ id, ...last });
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

  /** The worker with the fewest images in hand, started if its slot is empty. */
  private leastBusy(): Worker {
    const empty = this.workers.findIndex((worker) => worker === null);
    if (empty >= 0 && this.workers.every((worker) => worker === null || worker.inHand > 0)) return this.start(empty);
    let best: Worker | null = null;
    for (const worker of this.workers) if (worker !== null && (best === null || worker.inHand < best.inHand)) best = worker;
    return best ?? this.start(0);
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
    const worker: Worker = { child, inHand: 0 };
    this.workers[index] = worker;
    child.on('message', (answer: WorkAnswer) => this.onAnswer(answer));
    child.on('exit', (code, signal) => {
      if (this.workers[index] === worker) this.workers[index] = null;
      if (!this.closed) this.options.logger.warn({ code, signal }, 'an image worker stopped; the next upload starts another');
      for (const [id, waiter] of this.pending) {
        if (waiter.worker !== worker) continue;
        // The image it was decoding may be what crashed it: refused. The others it held did
        // nothing wrong: they may try again.
        this.fail(
          id,
          waiter.started
            ? new ImageRefusedError('undecodable', 'the image could not be decoded')
            : new UnavailableError('the image worker stopped before it got to this image; try again'),
        );
      }
    });
    return worker;
  }

  private onAnswer(answer: WorkAnswer): void {
    const waiter = this.pending.get(answer.id);
    if (waiter === undefined) return;
    if ('started' in answer) {
      waiter.started = true;
      return;
    }
    if ('piece' in answer) {
      waiter.pieces[answer.rendition].push(asBuffer(answer.piece));
      return;
    }
    this.pending.delete(answer.id);
    waiter.worker.inHand -= 1;
    if (answer.ok) {
      waiter.resolve({
        image: { stored: Buffer.concat(waiter.pieces.image), rendition: answer.image },
        thumbnail: { stored: Buffer.concat(waiter.pieces.thumbnail), rendition: answer.thumbnail },
      });
    } else waiter.reject(new ImageRefusedError(answer.reason, answer.message));
  }

  private fail(id: number, error: unknown): void {
    const waiter = this.pending.get(id);
    if (waiter === undefined) return;
    this.pending.delete(id);
    waiter.worker.inHand -= 1;
    waiter.reject(error);
  }
}

/** Structured clone gives Uint8Arrays back: Buffers for the callers. */
const asBuffer = (data: Uint8Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

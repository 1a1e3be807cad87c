import { UnavailableError as ServiceUnavailableError } from '../../application/unavailable';

/** A read of the client: iterable, cancellable, destroyable (its ReadStream). */
export interface ClientRead<T> extends AsyncIterable<T> {
  cancel(): Promise<void>;
  destroy(error?: Error): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/**
 * Iterates a read of `@eventstore/db-client` 6.2.1, giving up once the server has sent
 * nothing for `idleMs`. The client calls `readAll` and `readStream` with
 * `deadline: Infinity` whatever the caller asks, and the connection's keep-alive is
 * answered by a server that is stuck: without this a read could wait for ever (and
 * the projection pump behind it). The clock runs only while we wait for the server:
 * the time the caller spends on an item does not count.
 *
 * On giving up — or when the caller stops early — the gRPC call is cancelled and the
 * stream destroyed (cancelling alone leaves the readable open). A stream given up on
 * gets a listener for the errors it may still emit, so none becomes an uncaught one.
 */
export async function* watched<T>(read: ClientRead<T>, idleMs: number, what: string): AsyncGenerator<T, void, undefined> {
  const iterator = read[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<'idle'>((resolve) => {
        timer = setTimeout(() => resolve('idle'), idleMs);
      });
      let next: IteratorResult<T> | 'idle';
      try {
        next = await Promise.race([iterator.next(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (next === 'idle') {
        throw new ServiceUnavailableError(`the event store sent nothing for ${idleMs} ms during ${what}; retry in a moment`);
      }
      if (next.done === true) {
        ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!ended) {
      read.on('error', () => undefined);
      void read.cancel().catch(() => undefined);
      read.destroy();
    }
  }
}

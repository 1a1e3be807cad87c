/**
 * The EventStoreDB adapter with its real client and no server behind the address
 * (a closed loopback port): what start-up, a subscriber and stop() do when the store
 * cannot be reached. Runs everywhere; the contract suite needs a real EventStoreDB.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { EventStoreDBClient } from '@eventstore/db-client';
import { UnavailableError } from '../../../src/application/unavailable';
import { EventStoreDbEventStore } from '../../../src/infrastructure/eventStore/eventStoreDbEventStore';
import { anEvent } from './eventStoreContract';

/** A loopback port nobody listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('EventStoreDB adapter, server unreachable', () => {
  let connectionString: string;
  beforeAll(async () => {
    connectionString = `esdb://127.0.0.1:${await closedPort()}?tls=false`;
  });

  it('stops start-up with one line naming the server when it does not answer', async () => {
    const opening = EventStoreDbEventStore.open(connectionString.replace('esdb://', 'esdb://admin:changeit@'), 3000);
    await expect(opening).rejects.toThrow(new RegExp(`^EventStoreDB at esdb://127\\.0\\.0\\.1:\\d+\\?tls=false did not answer: `));
    await expect(opening).rejects.not.toThrow(/changeit/);
    await opening.catch((error: Error) => expect(error.message).not.toContain('\n'));
  });

  it("answers an append or a read the server cannot take as the service's unavailable (503, retry), after retrying the append", async () => {
    const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString), { appendRetryDelayMs: 10 });
    try {
      const append = store.appendToStream('room-unreachable', [anEvent()], 'no_stream');
      await expect(append).rejects.toBeInstanceOf(UnavailableError);
      await expect(append).rejects.toThrow('the event store did not answer in time; retry in a moment');
      await expect(store.appendToStream('room-unreachable', [anEvent()], 'any')).rejects.toBeInstanceOf(UnavailableError);
      await expect(store.readStream('room-unreachable')).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await store.close();
    }
  });

  it('refuses a checkpoint that is not its own at once, from subscribeToAll itself', () => {
    const store = EventStoreDbEventStore.connect(connectionString);
    try {
      const postgresCheckpoint = `${'1'.padStart(20, '0')}/${'2'.padStart(20, '0')}`;
      expect(() =>
        store.subscribeToAll({ from: 'checkpoint', checkpoint: postgresCheckpoint }, { onEvent: async () => undefined }),
      ).toThrow(/not an EventStoreDB checkpoint/);
    } finally {
      void store.close();
    }
  });

  it('reports each failed attempt, survives an onError that throws, and stops at once while waiting for the server', async () => {
    const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString), { maxBackoffMs: 50 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      let reports = 0;
      const subscription = store.subscribeToAll(
        { from: 'end' },
        {
          onEvent: async () => undefined,
          onError: () => {
            reports += 1;
            throw new Error('a broken error handler');
          },
        },
      );
      const deadline = Date.now() + 15_000;
      while (reports < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(reports).toBeGreaterThanOrEqual(2);

      const stopping = Date.now();
      await subscription.stop();
      expect(Date.now() - stopping).toBeLessThan(2000);
      const afterStop = reports;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(reports).toBe(afterStop);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await store.close();
    }
  });
});

describe('EventStoreDB adapter, server silent (accepts connections, never answers)', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let connectionString: string;
  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    connectionString = `esdb://127.0.0.1:${(silent.address() as { port: number }).port}?tls=false`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('gives up the start-up probe at its deadline', async () => {
    const started = Date.now();
    await expect(EventStoreDbEventStore.open(connectionString, 1000)).rejects.toThrow(/did not answer/);
    expect(Date.now() - started).toBeLessThan(8000);
  }, 15_000);

  it('stop() returns at once while a subscription from the end still waits for the head of the log', async () => {
    const store = EventStoreDbEventStore.connect(connectionString);
    try {
      const errors: unknown[] = [];
      const subscription = store.subscribeToAll({ from: 'end' }, { onEvent: async () => undefined, onError: (e) => errors.push(e) });
      // The head read is under way and will not be answered: the client reads with no
      // deadline at all, and the adapter's watchdog gives up only after 10 s of silence.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const stopping = Date.now();
      await subscription.stop();
      expect(Date.now() - stopping).toBeLessThan(2000);
      expect(errors).toEqual([]);
    } finally {
      await store.close();
    }
  }, 15_000);
});


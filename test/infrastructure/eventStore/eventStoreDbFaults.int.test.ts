/**
 * The EventStoreDB adapter and its real client against a scripted gRPC server
 * (test/support/fakeEventStoreDb.ts): the answers a real node gives while it starts,
 * elects, is overloaded or is stuck, which no real server can be made to give on demand.
 * Runs everywhere; what a real server does with the data is the contract suite's part.
 */
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { EventStoreBusyError } from '../../../src/application/ports/eventStore';
import { UnavailableError as ServiceUnavailableError } from '../../../src/application/unavailable';
import { APPEND_RETRIES, EventStoreDbEventStore, encodeCheckpoint, type EventStoreDbOptions } from '../../../src/infrastructure/eventStore/eventStoreDbEventStore';
import { grpcStatus, startFakeEventStoreDb, type FakeEventStoreDb } from '../../support/fakeEventStoreDb';
import { anEvent } from './eventStoreContract';

/** Waits for a condition the code under test brings about (bounded, so a failure is a failure, not a hang). */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('EventStoreDB adapter, against a scripted gRPC server', () => {
  let fake: FakeEventStoreDb;
  const opened: Array<{ close(): Promise<void> }> = [];
  const storeOn = (options: EventStoreDbOptions = {}): EventStoreDbEventStore => {
    const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(fake.connectionString), { appendRetryDelayMs: 1, ...options });
    opened.push(store);
    return store;
  };
  beforeEach(async () => {
    fake = await startFakeEventStoreDb();
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await fake.close();
  });

  it("appends with the client's unary Append, never the batch append the client itself picks on this server", async () => {
    const store = storeOn();
    const result = await store.appendToStream('room-1', [anEvent(), anEvent()], 'no_stream');
    expect(result).toEqual({ nextExpectedRevision: 1n, globalPosition: 110n, checkpoint: encodeCheckpoint({ commit: 110n, prepare: 110n }) });
    expect(fake.appends.map((append) => append.streamName)).toEqual(['room-1']);
    expect(fake.batchAppends).toEqual([]);

    // The same server, through the client's own appendToStream: the batch path (what the adapter avoids).
    const client = EventStoreDBClient.connectionString(fake.connectionString);
    opened.push({ close: () => client.dispose() });
    await client.appendToStream('room-2', jsonEvent({ type: 'T', data: {} }), { expectedRevision: 'no_stream' });
    expect(fake.batchAppends.map((append) => append.streamName)).toEqual(['room-2']);
  });

  it('sends an append again, with the same event ids, while the node is not ready, and answers as the append that lands', async () => {
    let attempts = 0;
    fake.onAppend = (append) => {
      attempts += 1;
      if (attempts <= APPEND_RETRIES) append.fail({ code: grpcStatus.UNAVAILABLE, details: 'Server Is Not Ready' });
      else append.succeed(4n, 500n);
    };
    const events = [anEvent()];
    const result = await storeOn().appendToStream('room-1', events, 3n);
    expect(result.nextExpectedRevision).toBe(4n);
    expect(result.globalPosition).toBe(500n);
    expect(fake.appends).toHaveLength(APPEND_RETRIES + 1);
    for (const append of fake.appends) expect(append.eventIds).toEqual([events[0]?.eventId]);
  });

  it("answers a node that stays busy as the service's busy (503, Retry-After) after the retries, and never resends an `any` append", async () => {
    fake.onAppend = (append) => append.fail({ code: grpcStatus.UNAVAILABLE, details: 'Server Is Too Busy' });
    const store = storeOn();
    const busy = store.appendToStream('room-1', [anEvent()], 'no_stream');
    await expect(busy).rejects.toBeInstanceOf(EventStoreBusyError);
    await expect(busy).rejects.toMatchObject({ retryAfterSeconds: 1 });
    expect(fake.appends).toHaveLength(APPEND_RETRIES + 1);

    await expect(store.appendToStream('room-1', [anEvent()], 'any')).rejects.toBeInstanceOf(EventStoreBusyError);
    expect(fake.appends).toHaveLength(APPEND_RETRIES + 2);
  });

  it('resends a write the server timed out or cancelled (outcome unknown), and answers unavailable when none lands', async () => {
    const script = [
      { code: grpcStatus.ABORTED, details: 'Operation timed out: Commit timeout.' },
      { code: grpcStatus.CANCELLED, details: 'Call cancelled' },
    ];
    fake.onAppend = (append) => {
      const failure = script.shift();
      if (failure === undefined) append.succeed(0n, 700n);
      else append.fail(failure);
    };
    const store = storeOn();
    await expect(store.appendToStream('room-1', [anEvent()], 'no_stream')).resolves.toMatchObject({ globalPosition: 700n });
    expect(fake.appends).toHaveLength(3);

    fake.onAppend = (append) => append.fail({ code: grpcStatus.ABORTED, details: 'Operation timed out: Prepare timeout.' });
    const lost = store.appendToStream('room-2', [anEvent()], 0n);
    await expect(lost).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(lost).rejects.not.toBeInstanceOf(EventStoreBusyError);
    await expect(lost).rejects.toThrow('the event store did not answer in time; retry in a moment');
  });

  it('gives up a read the server never answers while the connection stays alive, as unavailable, instead of waiting for ever', async () => {
    fake.onRead = () => undefined; // stuck: the HTTP/2 connection (and its keep-alive) is fine
    const store = storeOn({ readIdleTimeoutMs: 200 });
    await expect(store.readAll(null, 10)).rejects.toThrow(new ServiceUnavailableError('the event store sent nothing for 200 ms during a read of $all; retry in a moment'));
    await expect(store.readStream('room-1')).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(EventStoreDbEventStore.open(fake.connectionString, 300)).rejects.toThrow(
      /^EventStoreDB at esdb:\/\/127\.0\.0\.1:\d+\?tls=false did not answer: the event store sent nothing for 300 ms/,
    );
  });

  it('ends and renews a subscription that delivers nothing while the log holds a later event of ours', async () => {
    let head = 200n;
    fake.onRead = (read) => {
      if (read.subscription) return; // connected, and silent for ever
      read.sendEvent(head);
      read.end();
    };
    const errors: unknown[] = [];
    const subscription = storeOn({ subscriptionWatchdogMs: 100, maxBackoffMs: 50 }).subscribeToAll(
      { from: 'end' },
      { onEvent: async () => undefined, onError: (error) => errors.push(error) },
    );
    try {
      await until(() => fake.reads.some((read) => read.subscription), 'the subscription is open');
      head = 300n; // appended after the subscription started, never delivered by it
      await until(() => errors.length > 0, 'the watchdog reports');
      expect(String(errors[0])).toMatch(/the EventStoreDB subscription delivered nothing for 100 ms while the log holds later events/);
      await until(() => fake.reads.filter((read) => read.subscription).length >= 2, 'it subscribes again');
    } finally {
      await subscription.stop();
    }
  });

  it('leaves a quiet subscription alone while the server answers and nothing of ours is missing', async () => {
    let probes = 0;
    fake.onRead = (read) => {
      if (read.subscription) return;
      if (read.backwards) probes += 1;
      read.sendEvent(200n);
      read.end();
    };
    const errors: unknown[] = [];
    const subscription = storeOn({ subscriptionWatchdogMs: 50 }).subscribeToAll(
      { from: 'end' },
      { onEvent: async () => undefined, onError: (error) => errors.push(error) },
    );
    try {
      await until(() => probes >= 4, 'the watchdog has looked three times');
      expect(errors).toEqual([]);
      expect(fake.reads.filter((read) => read.subscription)).toHaveLength(1);
    } finally {
      await subscription.stop();
    }
  });

  it('ends and renews a subscription when the watchdog read of the head gets no answer', async () => {
    let backwardsReads = 0;
    fake.onRead = (read) => {
      if (read.subscription) return;
      backwardsReads += 1;
      if (backwardsReads === 1) read.end(); // the start-up head read: an empty log
    };
    const errors: unknown[] = [];
    const subscription = storeOn({ subscriptionWatchdogMs: 100, readIdleTimeoutMs: 100, maxBackoffMs: 50 }).subscribeToAll(
      { from: 'end' },
      { onEvent: async () => undefined, onError: (error) => errors.push(error) },
    );
    try {
      await until(() => errors.length > 0, 'the watchdog reports');
      expect(errors[0]).toBeInstanceOf(ServiceUnavailableError);
      await until(() => fake.reads.filter((read) => read.subscription).length >= 2, 'it subscribes again');
    } finally {
      await subscription.stop();
    }
  });

  it("warns at start-up when the server's clock is more than a second away from ours, and only then", async () => {
    const warnings: string[] = [];
    fake.date = new Date(Date.now() + 5000).toUTCString();
    const skewed = await EventStoreDbEventStore.open(fake.connectionString, 2000, (warning) => warnings.push(warning));
    opened.push(skewed);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^the EventStoreDB server's clock is about \d+ ms ahead of this machine's \(more than 1000 ms\): check NTP on both$/);

    fake.date = null; // the real time (Node's HTTP/2 server stamps it)
    const inStep = await EventStoreDbEventStore.open(fake.connectionString, 2000, (warning) => warnings.push(warning));
    opened.push(inStep);
    expect(warnings).toHaveLength(1);
  });
});

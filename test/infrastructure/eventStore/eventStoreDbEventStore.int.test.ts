import {
  EventStoreDbEventStore,
  encodeCheckpoint,
  parseCheckpoint,
} from '../../../src/infrastructure/eventStore/eventStoreDbEventStore';
import { eventStoreContract } from './eventStoreContract';

/** Set by test/support/globalSetup.js when it found or started an EventStoreDB. */
const connectionString = process.env.TEST_EVENTSTORE_CONNECTION_STRING;

if (connectionString === undefined) {
  const reason = process.env.TEST_EVENTSTORE_SKIP_REASON ?? 'TEST_EVENTSTORE_CONNECTION_STRING is not set';
  process.stdout.write(`[eventStoreDbEventStore.int.test] EventStoreDB contract skipped: ${reason}\n`);
}

// The EventStoreDB is shared with other suites: the contract writes to fresh streams only.
eventStoreContract(
  'EventStoreDbEventStore',
  async () => {
    const store = EventStoreDbEventStore.connect(connectionString as string);
    return { store, close: () => store.close() };
  },
  { describe: connectionString === undefined ? describe.skip : describe },
);

describe('EventStoreDB checkpoints', () => {
  it('sort as strings like positions sort as (commit, prepare), and parse back exactly, far beyond 2^53', () => {
    const big = 2n ** 63n - 1n;
    const positions = [
      { commit: 0n, prepare: 0n },
      { commit: 9n, prepare: 9n },
      { commit: 10n, prepare: 10n },
      { commit: 10n, prepare: 11n },
      { commit: 2n ** 53n + 1n, prepare: 2n ** 53n + 1n },
      { commit: big, prepare: big - 1n },
      { commit: big, prepare: big },
    ];
    const checkpoints = positions.map(encodeCheckpoint);
    expect([...checkpoints].reverse().sort()).toEqual(checkpoints);
    expect(checkpoints.map(parseCheckpoint)).toEqual(positions);
    expect(() => parseCheckpoint('12/34')).toThrow();
  });
});

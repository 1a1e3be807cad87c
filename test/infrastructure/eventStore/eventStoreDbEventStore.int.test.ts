import { EventStoreDbEventStore } from '../../../src/infrastructure/eventStore/eventStoreDbEventStore';
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
    const store = await EventStoreDbEventStore.open(connectionString as string);
    return { store, close: () => store.close() };
  },
  { describe: connectionString === undefined ? describe.skip : describe },
);


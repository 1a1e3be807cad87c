/**
 * The parts of the EventStoreDB adapter that need no server: checkpoints, which failed
 * appends are sent again, and where a retried append must have landed. The errors are
 * the client's own classes, made as the client makes them from a gRPC status.
 */
import {
  DeadlineExceededError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  encodeCheckpoint,
  firstRevisionOf,
  isEventStoreDbCheckpoint,
  isRetryableAppendFailure,
  parseCheckpoint,
} from '../../../src/infrastructure/eventStore/eventStoreDbEventStore';
import { clockOffsetBounds, clockSkewWarning } from '../../../src/infrastructure/eventStore/eventStoreDbClock';

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
    expect(checkpoints.every((c) => c.startsWith('esdb:'))).toBe(true);
  });

  it('refuses a PostgreSQL checkpoint (the same digits without the esdb: prefix) and anything malformed, naming it', () => {
    const postgres = `${'7'.padStart(20, '0')}/${'12'.padStart(20, '0')}`;
    for (const bad of [postgres, '12/34', 'esdb:12/34', '', `esdb:${postgres}x`, `esdb:${'1'.repeat(21)}/${'1'.repeat(20)}`]) {
      expect(() => parseCheckpoint(bad)).toThrow(/not an EventStoreDB checkpoint/);
      // So a projection holding one rebuilds instead of failing on it.
      expect(isEventStoreDbCheckpoint(bad)).toBe(false);
    }
    expect(isEventStoreDbCheckpoint(encodeCheckpoint({ commit: 5n, prepare: 4n }))).toBe(true);
    expect(isEventStoreDbCheckpoint('00000000000000000042')).toBe(false);
  });
});

describe('retrying an append whose answer was lost', () => {
  const lostAnswers = [new UnavailableError(), new DeadlineExceededError()];

  it('sends it again when the server did not answer and the expected revision is exact or no_stream', () => {
    for (const error of lostAnswers) {
      expect(isRetryableAppendFailure(error, 'no_stream')).toBe(true);
      expect(isRetryableAppendFailure(error, 0n)).toBe(true);
      expect(isRetryableAppendFailure(error, 41n)).toBe(true);
    }
  });

  it('recognises the raw gRPC error the client lets through when it never reached the server', () => {
    // What @eventstore/db-client 6.2 rejects with for an append to a closed port (seen against the real client).
    const neverConnected = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14, details: 'No connection established' });
    const timedOut = Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4 });
    expect(isRetryableAppendFailure(neverConnected, 'no_stream')).toBe(true);
    expect(isRetryableAppendFailure(timedOut, 7n)).toBe(true);
    expect(isRetryableAppendFailure(Object.assign(new Error('3 INVALID_ARGUMENT'), { code: 3 }), 7n)).toBe(false);
  });

  it('never sends an `any` append again: a second copy could land as a duplicate', () => {
    for (const error of lostAnswers) expect(isRetryableAppendFailure(error, 'any')).toBe(false);
  });

  it('sends it again when the server gave up on the write (TimeoutError: "Operation timed out", the outcome unknown)', () => {
    expect(isRetryableAppendFailure(new TimeoutError(), 3n)).toBe(true);
    expect(isRetryableAppendFailure(new TimeoutError(), 'any')).toBe(false);
  });

  it('does not retry refusals or unknown faults', () => {
    const others = [new WrongExpectedVersionError(undefined, { streamName: 's', expected: 1n, current: 2n }), new UnknownError(), new Error('boom')];
    for (const error of others) expect(isRetryableAppendFailure(error, 3n)).toBe(false);
  });
});

describe('where a refused append would have landed', () => {
  it('is revision 0 for no_stream, the next revision for an exact one, and unknown for any', () => {
    expect(firstRevisionOf('no_stream')).toBe(0n);
    expect(firstRevisionOf(0n)).toBe(1n);
    expect(firstRevisionOf(2n ** 60n)).toBe(2n ** 60n + 1n);
    expect(firstRevisionOf('any')).toBeNull();
  });
});

describe("the start-up check of the EventStoreDB server's clock", () => {
  // The server's `date` header has one-second resolution: it was stamped between send and receipt.
  const at = (ms: number): string => new Date(ms).toUTCString();
  const sent = Date.parse('2026-12-07T10:00:00.000Z');

  it('says nothing when the server may be within a second of us', () => {
    expect(clockSkewWarning({ sentAtMs: sent, receivedAtMs: sent + 40, serverDate: at(sent) })).toBeNull();
    // 1.4 s ahead by the header, but the header truncates: it may be 0.96 s.
    expect(clockSkewWarning({ sentAtMs: sent + 400, receivedAtMs: sent + 440, serverDate: at(sent + 1400) })).toBeNull();
    expect(clockSkewWarning({ sentAtMs: sent, receivedAtMs: sent + 40, serverDate: 'not a date' })).toBeNull();
  });

  it('warns, with the direction and size, when the server is certainly more than a second ahead or behind', () => {
    expect(clockSkewWarning({ sentAtMs: sent, receivedAtMs: sent + 40, serverDate: at(sent + 5000) })).toBe(
      "the EventStoreDB server's clock is about 5480 ms ahead of this machine's (more than 1000 ms): check NTP on both",
    );
    expect(clockSkewWarning({ sentAtMs: sent, receivedAtMs: sent + 40, serverDate: at(sent - 3000) })).toMatch(/about \d+ ms behind this machine's/);
    expect(clockOffsetBounds({ sentAtMs: sent, receivedAtMs: sent + 40, serverDate: at(sent - 3000) })).toEqual({ minMs: -3040, maxMs: -2000 });
  });
});

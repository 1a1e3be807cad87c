import type { EventStoreDBClient } from '@eventstore/db-client';
// The client's generated gRPC code: the server-features call is the smallest one there is.
import { ServerFeaturesClient } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { Empty } from '@eventstore/db-client/generated/shared_pb';

/** When a request left, when its answer came, and the `date` header the server put on it. */
export interface ClockReading {
  sentAtMs: number;
  receivedAtMs: number;
  serverDate: string;
}

/**
 * The bounds of (server clock − our clock), in ms. The server's HTTP `date` header has
 * one-second resolution and was stamped somewhere between our send and our receipt, so
 * the server's time then lay in [date, date + 1 s) and ours in [sent, received].
 * Null when the header cannot be read.
 */
export function clockOffsetBounds(reading: ClockReading): { minMs: number; maxMs: number } | null {
  const dateMs = Date.parse(reading.serverDate);
  if (Number.isNaN(dateMs)) return null;
  return { minMs: dateMs - reading.receivedAtMs, maxMs: dateMs + 1000 - reading.sentAtMs };
}

/**
 * A warning when the server's clock is certainly more than `toleranceMs` away from ours
 * (the whole interval of possible offsets lies beyond it); null otherwise.
 */
export function clockSkewWarning(reading: ClockReading, toleranceMs = 1000): string | null {
  const bounds = clockOffsetBounds(reading);
  if (bounds === null) return null;
  if (bounds.minMs <= toleranceMs && bounds.maxMs >= -toleranceMs) return null;
  const estimate = Math.round((bounds.minMs + bounds.maxMs) / 2);
  const way = estimate > 0 ? 'ahead of' : 'behind';
  return `the EventStoreDB server's clock is about ${Math.abs(estimate)} ms ${way} this machine's (more than ${toleranceMs} ms): check NTP on both`;
}

/** The part of the client this module uses (internal to the client, present in 6.2.1). */
interface ClientInternals {
  execute<T>(client: typeof ServerFeaturesClient, debugName: string, action: (grpc: FeaturesClient) => Promise<T>): Promise<T>;
}

/** grpc-js takes (request, options, callback) as well; its typings list only the forms with metadata. */
interface FeaturesClient {
  getSupportedMethods(request: Empty, options: { deadline: number }, callback: () => void): {
    on(event: 'metadata', listener: (metadata: { get(key: string): unknown[] }) => void): unknown;
  };
}

/**
 * Asks the server what it supports, over the client's own connection (TLS and all),
 * only to read the `date` header of the answer. Null when the answer has none or does
 * not come within `timeoutMs` (the check is advice, never a reason to stop).
 */
export async function readServerClock(client: EventStoreDBClient, timeoutMs: number): Promise<ClockReading | null> {
  const internals = client as unknown as ClientInternals;
  const sentAtMs = Date.now();
  try {
    return await internals.execute(ServerFeaturesClient, 'clockCheck', (grpc) =>
      new Promise<ClockReading | null>((resolve) => {
        let reading: ClockReading | null = null;
        // Whatever the answer (UNIMPLEMENTED on an old server included), its headers came first.
        const call = grpc.getSupportedMethods(new Empty(), { deadline: Date.now() + timeoutMs }, () => resolve(reading));
        call.on('metadata', (metadata: { get(key: string): unknown[] }) => {
          const [date] = metadata.get('date');
          if (typeof date === 'string') reading = { sentAtMs, receivedAtMs: Date.now(), serverDate: date };
        });
      }),
    );
  } catch {
    return null;
  }
}

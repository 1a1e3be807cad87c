import { roomStreamName } from '../../domain/room';
import type { EventMetadata, EventStore } from '../ports/eventStore';
import { verifyChain } from './hashChain';

export interface AuditedEvent {
  streamRevision: number;
  /** A JSON number while it is exact (always, on PostgreSQL); past 2^53 the decimal string. */
  globalPosition: number | string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface RoomAudit {
  events: AuditedEvent[];
  /** True when every event's hash matches its content and its predecessor's hash. */
  verified: boolean;
}

/** A room's whole history as recorded, with the hash chain checked; null for a room that does not exist. */
export async function readRoomAudit(eventStore: EventStore, roomId: string): Promise<RoomAudit | null> {
  const recorded = await eventStore.readStream(roomStreamName(roomId));
  if (recorded.length === 0) return null;
  return {
    events: recorded.map((event) => ({
      streamRevision: Number(event.streamRevision),
      globalPosition:
        event.globalPosition <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(event.globalPosition) : event.globalPosition.toString(),
      type: event.type,
      data: event.data,
      metadata: event.metadata,
    })),
    verified: verifyChain(recorded),
  };
}

import { roomStreamName } from '../../domain/room';
import type { EventStore } from '../ports/eventStore';
import { noMessageReader, type AuditMessageReader } from '../privacy/auditContent';
import type { AnchorLedger } from './anchors';
import type { ChainProblem } from './chainChecker';
import { streamEvents, toAuditedEvent, type AuditedEvent } from './records';
import { verifyStream } from './verification';

export type { AuditedEvent } from './records';

export interface RoomAudit {
  events: AuditedEvent[];
  /** True when the hash chain holds and the stream still reaches its anchored head unchanged. */
  verified: boolean;
  /** The first thing wrong, null when verified. */
  problem: ChainProblem | null;
}

/** A room's whole history as recorded, verified; null for a room that does not exist. */
export async function readRoomAudit(
  eventStore: EventStore,
  ledger: AnchorLedger,
  roomId: string,
  readMessages: AuditMessageReader = noMessageReader,
): Promise<RoomAudit | null> {
  const events: AuditedEvent[] = [];
  for await (const event of streamEvents(eventStore, roomStreamName(roomId))) {
    const [content] = await readMessages([event]);
    events.push(toAuditedEvent(event, content));
  }
  await ledger.refresh();
  const verdict = await verifyStream(eventStore, roomStreamName(roomId), ledger);
  if (events.length === 0 && verdict.verified) return null;
  return { events, verified: verdict.verified, problem: verdict.problem };
}

import { roomStreamName } from '../../domain/room';
import type { EventStore, RecordedEvent } from '../ports/eventStore';
import { noMessageReader, type AuditMessageReader } from '../privacy/auditContent';
import { allEvents, streamEvents, toAuditedEvent, type AuditedEvent } from './records';

export interface ExportOptions {
  /** One room; absent: every stream of the store, in global order. */
  roomId?: string;
  /** Events recorded at or after this instant (metadata.recordedAt). */
  from?: Date;
  /** Events recorded before this instant: windows [from, to) chain without overlap. */
  to?: Date;
}

/** The events as recorded, one at a time: an export of any size runs in the memory of one page. */
export async function* exportEvents(
  eventStore: EventStore,
  options: ExportOptions = {},
  readMessages: AuditMessageReader = noMessageReader,
): AsyncGenerator<AuditedEvent> {
  const source = options.roomId !== undefined ? streamEvents(eventStore, roomStreamName(options.roomId)) : allEvents(eventStore);
  for await (const event of source) {
    if (!inWindow(event, options)) continue;
    const [content] = await readMessages([event]);
    yield toAuditedEvent(event, content);
  }
}

function inWindow(event: RecordedEvent, { from, to }: ExportOptions): boolean {
  if (from === undefined && to === undefined) return true;
  const recordedAt = Date.parse(String(event.metadata.recordedAt));
  return (from === undefined || recordedAt >= from.getTime()) && (to === undefined || recordedAt < to.getTime());
}

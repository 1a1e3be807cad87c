import type { EventMetadata, EventStore, RecordedEvent } from '../ports/eventStore';
import type { MessageContent } from '../privacy/auditContent';

/** One event as the audit record shows it: one line of an export, one item of the events route. */
export interface AuditedEvent {
  streamId: string;
  streamRevision: number;
  /** A JSON number while it is exact (always, on PostgreSQL); past 2^53 the decimal string. */
  globalPosition: number | string;
  /** Covered by the hash from hash version 2 on: an auditor needs it to verify. */
  eventId: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  /**
   * A sealed message's text as an auditor reads it (or `erased`, with the digest of what is
   * stored): beside `data`, which stays exactly as stored and hashed (docs/privacy.md).
   */
  content?: MessageContent;
}

export function toAuditedEvent(event: RecordedEvent, content?: MessageContent): AuditedEvent {
  return {
    streamId: event.streamId,
    streamRevision: Number(event.streamRevision),
    globalPosition:
      event.globalPosition <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(event.globalPosition) : event.globalPosition.toString(),
    eventId: event.eventId,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    ...(content !== undefined ? { content } : {}),
  };
}

/** How many events one read fetches: the audit tools hold at most a page in memory. */
export const AUDIT_PAGE_SIZE = 1000;

/** A stream's events in revision order, page by page, from `fromRevision`. */
export async function* streamEvents(eventStore: EventStore, streamId: string, fromRevision = 0n): AsyncGenerator<RecordedEvent> {
  let from = fromRevision;
  for (;;) {
    const page = await eventStore.readStream(streamId, { fromRevision: from, maxCount: AUDIT_PAGE_SIZE });
    yield* page;
    const last = page.at(-1);
    if (last === undefined || page.length < AUDIT_PAGE_SIZE) return;
    from = last.streamRevision + 1n;
  }
}

/** Every committed event in the store's global order, page by page, after `after` (null: from the start). */
export async function* allEvents(eventStore: EventStore, after: string | null = null): AsyncGenerator<RecordedEvent> {
  let from = after;
  for (;;) {
    const page = await eventStore.readAll(from, AUDIT_PAGE_SIZE);
    yield* page;
    const last = page.at(-1);
    if (last === undefined || page.length < AUDIT_PAGE_SIZE) return;
    from = last.checkpoint;
  }
}

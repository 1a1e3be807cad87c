import { auditAccessStreamName, type AuditAccessed, type AuditAction } from '../../domain/audit';
import type { Clock } from '../ports/clock';
import { WrongExpectedRevisionError, type EventStore } from '../ports/eventStore';
import type { IdGenerator } from '../ports/ids';
import { streamEvents } from './records';
import { sealEvents, type ChainTail } from './sealing';

export interface AuditAccess {
  actorId: string;
  action: AuditAction;
  roomId?: string;
  at?: string;
  reportId?: string;
  attachmentId?: string;
  variant?: string;
  /** The request's x-request-id. */
  correlationId: string;
}

/**
 * Records every audit read as an `AuditAccessed` event in the day's access stream, before
 * the read is served: a read that could not be recorded is not served. The tails of the
 * streams this process wrote are kept, so an append reads only what others added since.
 */
export class AuditAccessLog {
  private readonly tails = new Map<string, ChainTail>();

  constructor(private readonly deps: { eventStore: EventStore; clock: Clock; ids: IdGenerator }) {}

  async record(access: AuditAccess): Promise<void> {
    const now = this.deps.clock.now();
    const streamId = auditAccessStreamName(now);
    const event: AuditAccessed = {
      type: 'AuditAccessed',
      data: {
        actorId: access.actorId,
        action: access.action,
        ...(access.roomId !== undefined ? { roomId: access.roomId } : {}),
        ...(access.at !== undefined ? { at: access.at } : {}),
        ...(access.reportId !== undefined ? { reportId: access.reportId } : {}),
        ...(access.attachmentId !== undefined ? { attachmentId: access.attachmentId } : {}),
        ...(access.variant !== undefined ? { variant: access.variant } : {}),
        accessedAt: now.toISOString(),
      },
    };
    const context = { actorId: access.actorId, correlationId: access.correlationId, causationId: this.deps.ids.newId() };
    for (let attempt = 1; ; attempt += 1) {
      const tail = await this.tailOf(streamId);
      const sealed = sealEvents(tail, [event], context, now.toISOString(), this.deps.ids);
      try {
        const appended = await this.deps.eventStore.appendToStream(streamId, sealed, tail?.revision ?? 'no_stream');
        // Yesterday's stream is finished: keep only today's tail.
        this.tails.clear();
        this.tails.set(streamId, { revision: appended.nextExpectedRevision, hash: (sealed[0] as (typeof sealed)[0]).metadata.hash });
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= 50) throw error;
      }
    }
  }

  private async tailOf(streamId: string): Promise<ChainTail | null> {
    let tail = this.tails.get(streamId) ?? null;
    for await (const event of streamEvents(this.deps.eventStore, streamId, tail === null ? 0n : tail.revision + 1n)) {
      tail = { revision: event.streamRevision, hash: event.metadata.hash };
    }
    if (tail !== null) this.tails.set(streamId, tail);
    return tail;
  }
}

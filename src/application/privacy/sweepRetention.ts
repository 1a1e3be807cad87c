import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/ids';
import type { Logger } from '../ports/logger';
import type { RoomCommands } from '../room/roomCommands';
import type { DataKeys } from './dataKeys';

/** A room the read model offers to the retention sweep, and where a page of them ends. */
export interface RetentionCandidate {
  roomId: string;
  lastActivityAt: string;
}

/**
 * The rooms whose last activity is at or before `cutoff` and that still hold something the
 * retention has to erase: messages after its last RoomRetentionElapsed, or a data key not
 * yet destroyed. Keyset-paged by (lastActivityAt, roomId).
 */
export interface RetentionCandidates {
  findRetentionCandidates(cutoff: Date, limit: number, after: RetentionCandidate | null): Promise<RetentionCandidate[]>;
}

export interface SweepRetentionDeps {
  candidates: RetentionCandidates;
  commands: Pick<RoomCommands, 'elapseRetention'>;
  keys: Pick<DataKeys, 'destroyRoomKeys'>;
  /** The photos sent in the room go with its messages (absent: no attachments here). */
  attachments?: { eraseSentIn(roomId: string): Promise<number> };
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
}

export interface RetentionSweepResult {
  /** The sweep's correlation id: every RoomRetentionElapsed it records carries it. */
  correlationId: string;
  examined: number;
  /** Rooms this sweep recorded a RoomRetentionElapsed in. */
  elapsed: number;
  /** Data keys destroyed (the event's rooms, and any left live from an interrupted sweep). */
  keysDestroyed: number;
  /** Photos sent in those rooms, deleted (bytes and record). */
  photosDeleted: number;
  /** Candidates the stream kept: activity since the read model's view. */
  kept: number;
  failed: number;
  aborted: boolean;
}

/**
 * One retention sweep (MESSAGE_RETENTION, docs/privacy.md). As with expiry, the read model
 * only nominates; each room is decided on its own stream (`elapseRetention`, optimistic
 * concurrency), so sweeps in any number of processes record one RoomRetentionElapsed per
 * run of messages between them. Then the room's data keys are destroyed, which erases the
 * messages everywhere their ciphertext is. The event comes first: a sweep stopped between
 * the two finds the room again (its keys are still live) and destroys them next time;
 * destroying is idempotent.
 */
export async function sweepRetention(
  deps: SweepRetentionDeps,
  options: { retentionMs: number; pageSize?: number; signal?: AbortSignal },
): Promise<RetentionSweepResult> {
  const pageSize = options.pageSize ?? 200;
  const correlationId = deps.ids.newId();
  const result: RetentionSweepResult = { correlationId, examined: 0, elapsed: 0, keysDestroyed: 0, photosDeleted: 0, kept: 0, failed: 0, aborted: false };
  const cutoff = new Date(deps.clock.now().getTime() - options.retentionMs);
  let after: RetentionCandidate | null = null;
  for (;;) {
    const page = await deps.candidates.findRetentionCandidates(cutoff, pageSize, after);
    for (const candidate of page) {
      if (options.signal?.aborted) {
        result.aborted = true;
        return result;
      }
      result.examined += 1;
      try {
        const decided = await deps.commands.elapseRetention(candidate.roomId, options.retentionMs, correlationId);
        if (decided.elapsed) result.elapsed += 1;
        if (decided.erasable) {
          result.keysDestroyed += (await deps.keys.destroyRoomKeys(candidate.roomId)).destroyed;
          result.photosDeleted += (await deps.attachments?.eraseSentIn(candidate.roomId)) ?? 0;
        } else result.kept += 1;
      } catch (error) {
        result.failed += 1;
        deps.logger.warn({ err: error, roomId: candidate.roomId, correlationId }, 'could not apply the retention to a room; the next sweep tries again');
      }
    }
    if (page.length < pageSize) return result;
    after = page.at(-1) ?? null;
  }
}

import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/ids';
import type { Logger } from '../ports/logger';
import type { ChatQueries, ExpiryCandidate } from '../ports/readModels';
import type { RoomCommands } from './roomCommands';

/** How long a room may stay quiet: with no message since it was (re)opened, or since its last message. */
export interface RoomTtl {
  emptyTtlMs: number;
  idleTtlMs: number;
}

export interface SweepExpiredRoomsDeps {
  queries: Pick<ChatQueries, 'findExpiryCandidates'>;
  commands: Pick<RoomCommands, 'expireRoom'>;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
}

export interface SweepOptions {
  ttl: RoomTtl;
  /** Candidates read from the read model at a time (default 200). */
  pageSize?: number;
  /** Rooms decided at once (default 4): each is its own stream, so they never contend with each other. */
  concurrency?: number;
  /** Stops the sweep between rooms, e.g. on shutdown; the rooms already decided stay decided. */
  signal?: AbortSignal;
}

export interface SweepResult {
  /** The sweep's correlation id: every RoomExpired it records carries it. */
  correlationId: string;
  /** Candidates the read model offered. */
  examined: number;
  /** Rooms this sweep expired (one RoomExpired each). */
  expired: number;
  /** Candidates the stream kept open: activity since the read model's view, or already expired by someone else. */
  kept: number;
  /** Rooms whose decision failed; logged, and tried again on the next sweep. */
  failed: number;
  /** True when the signal stopped the sweep before it had seen every candidate. */
  aborted: boolean;
}

/**
 * One expiry sweep. The read model only nominates candidates (it may lag the store);
 * each room is then decided by `expireRoom` on its own stream with optimistic
 * concurrency, at the clock's time of that decision. So a message appended a moment
 * before keeps the room open, and any number of sweeps running at once (in one process
 * or several) record one RoomExpired per room between them.
 */
export async function sweepExpiredRooms(deps: SweepExpiredRoomsDeps, options: SweepOptions): Promise<SweepResult> {
  const pageSize = options.pageSize ?? 200;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const { ttl, signal } = options;
  const correlationId = deps.ids.newId();
  const result: SweepResult = { correlationId, examined: 0, expired: 0, kept: 0, failed: 0, aborted: false };
  // One `now` for every page, so the pages are slices of one list; each decision reads the clock again.
  const now = deps.clock.now();

  const decide = async (candidate: ExpiryCandidate): Promise<void> => {
    try {
      const { expired } = await deps.commands.expireRoom(candidate.roomId, ttl, correlationId);
      if (expired) result.expired += 1;
      else result.kept += 1;
    } catch (error) {
      result.failed += 1;
      deps.logger.warn({ err: error, roomId: candidate.roomId, correlationId }, 'could not expire room; the next sweep tries again');
    }
  };

  let after: ExpiryCandidate | null = null;
  for (;;) {
    if (signal?.aborted) {
      result.aborted = true;
      break;
    }
    const page = await deps.queries.findExpiryCandidates(now, ttl.emptyTtlMs, ttl.idleTtlMs, pageSize, after);
    result.examined += page.length;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < page.length && !signal?.aborted) {
        const candidate = page[next] as ExpiryCandidate;
        next += 1;
        await decide(candidate);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, page.length) }, worker));
    if (signal?.aborted && next < page.length) {
      result.examined -= page.length - next;
      result.aborted = true;
      break;
    }
    if (page.length < pageSize) break;
    // Keyset paging: rooms this sweep just expired (or could not) are not offered again.
    after = page.at(-1) ?? null;
  }
  return result;
}

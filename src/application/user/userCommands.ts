import { userStreamName } from '../../domain/streams';
import { userDecider, type ErasureCounts } from '../../domain/user';
import { handleCommand, type CommandHandlerDeps } from '../handleCommand';

export interface UserChangeResult {
  changed: boolean;
  checkpoint: string | null;
}

export type UserCommands = ReturnType<typeof makeUserCommands>;

/** The actor of an erasure's events: the marketplace asks through the internal API. */
export const ERASURE_ACTOR = 'system:marketplace';

/**
 * The user stream's use cases: suspending and reinstating. Rare, so each runs through a
 * one-off handler, as the post commands do.
 */
export function makeUserCommands(deps: CommandHandlerDeps) {
  const run = async (userId: string, command: Parameters<typeof userDecider.decide>[0], actorId: string, correlationId: string) => {
    const result = await handleCommand(deps, userStreamName(userId), userDecider, command, { actorId, correlationId, causationId: deps.ids.newId() });
    return { changed: result.newEvents.length > 0, checkpoint: result.checkpoint };
  };
  return {
    /** Suspends `userId` until `until` (null: until reinstated); `by` is a moderator or `system:marketplace`. */
    suspend: (
      userId: string,
      input: { until: Date | null; reason: string; reportId: string | null },
      by: string,
      correlationId: string,
    ): Promise<UserChangeResult> =>
      run(userId, { type: 'SuspendUser', data: { userId, ...input, by, now: deps.clock.now() } }, by, correlationId),

    reinstate: (userId: string, by: string, correlationId: string): Promise<UserChangeResult> =>
      run(userId, { type: 'ReinstateUser', data: { userId, by, now: deps.clock.now() } }, by, correlationId),

    /** Records the erasure asked for (once: asked again, records nothing). `requestedBy`: the asking request's correlation id. */
    requestErasure: (userId: string, erasureId: string, requestedBy: string): Promise<UserChangeResult> =>
      run(userId, { type: 'RequestErasure', data: { userId, erasureId, requestedBy, now: deps.clock.now() } }, ERASURE_ACTOR, requestedBy),

    /** Records the end of the erasure process (once). */
    completeErasure: (userId: string, erasureId: string, counts: ErasureCounts, requestedBy: string): Promise<UserChangeResult> =>
      run(userId, { type: 'CompleteErasure', data: { userId, erasureId, counts, now: deps.clock.now() } }, ERASURE_ACTOR, requestedBy),
  };
}

import { evolveStored } from '../../domain/events';
import { postDecider, postStreamName, type PostState } from '../../domain/post';
import { handleCommand, type CommandHandlerDeps } from '../handleCommand';

export interface UpsertPostResult {
  /** False when the post was recorded as it is already: nothing new was written. */
  changed: boolean;
  checkpoint: string | null;
}

export type PostCommands = ReturnType<typeof makePostCommands>;

/**
 * The post use cases. Posts are written rarely (by the marketplace), so each command
 * runs through a handler of its own, keeping no state between calls.
 */
export function makePostCommands(deps: CommandHandlerDeps) {
  return {
    /** The marketplace registers a post or changes its owner or title. */
    async upsertPost(post: { postId: string; ownerId: string; title: string }, correlationId: string): Promise<UpsertPostResult> {
      const result = await handleCommand(
        deps,
        postStreamName(post.postId),
        postDecider,
        { type: 'UpsertPost', data: { ...post, now: deps.clock.now() } },
        { actorId: 'system:marketplace', correlationId, causationId: deps.ids.newId() },
      );
      return { changed: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    /** The post as recorded, read from its stream so a post upserted a moment ago is found. */
    async loadPost(postId: string): Promise<PostState> {
      const events = await deps.eventStore.readStream(postStreamName(postId));
      return events.reduce((state, e) => evolveStored(postDecider.evolve, state, e), postDecider.initialState());
    },
  };
}

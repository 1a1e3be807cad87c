import type { Command, Decider, Event } from '../shared/decider';

export * from './errors';

/**
 * Posts are owned by the marketplace; the chat service keeps what it needs to open
 * rooms (owner and title), recorded as events like everything else it keeps.
 */
export type PostUpserted = Event<'PostUpserted', { postId: string; ownerId: string; title: string; upsertedAt: string }>;
export type PostEvent = PostUpserted;

export type UpsertPost = Command<'UpsertPost', { postId: string; ownerId: string; title: string; now: Date }>;

export type PostState = { status: 'none' } | { status: 'known'; postId: string; ownerId: string; title: string };

/** The post's one command: an upsert that changes nothing records nothing, so the marketplace may resend freely. */
export function upsertPost(command: UpsertPost, state: PostState): PostUpserted[] {
  const c = command.data;
  if (state.status === 'known' && state.ownerId === c.ownerId && state.title === c.title) return [];
  return [{ type: 'PostUpserted', data: { postId: c.postId, ownerId: c.ownerId, title: c.title, upsertedAt: c.now.toISOString() } }];
}

export const postDecider: Decider<PostState, UpsertPost, PostEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve: (state, event) =>
    event.type === 'PostUpserted'
      ? { status: 'known', postId: event.data.postId, ownerId: event.data.ownerId, title: event.data.title }
      : state,
  decide: upsertPost,
};

export { postStreamName } from '../streams';

export const POST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

import type { Logger } from '../ports/logger';

/** Two demo lenders and their posts: what a fresh development server shows in the app. */
export const DEMO_POSTS = [
  { postId: 'demo-drill', ownerId: 'lena', title: 'Cordless drill (18 V, two batteries)' },
  { postId: 'demo-tent', ownerId: 'minho', title: '캠핑 텐트 4인용 ⛺' },
  { postId: 'demo-bike', ownerId: 'lena', title: 'City bike, 54 cm frame 🚲' },
  { postId: 'demo-projector', ownerId: 'minho', title: 'Mini projector with HDMI' },
] as const;

/**
 * Upserts the demo posts (development mode only). Idempotent: an unchanged post
 * records no new event, so restarts do not reorder the list.
 */
export async function seedDemoPosts(
  upsertPost: (post: { postId: string; ownerId: string; title: string }, correlationId: string) => Promise<unknown>,
  logger: Logger,
): Promise<void> {
  for (const post of DEMO_POSTS) await upsertPost(post, 'demo-seed');
  logger.info({ posts: DEMO_POSTS.length }, 'development mode: demo posts are in place; sign in at / as lena, minho or anyone');
}

import { Router } from 'express';
import { z } from 'zod';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import type { ChatQueries, PostView, ProjectionProgress } from '../../application/ports/readModels';
import type { PostCommands } from '../../application/post/postCommands';
import { authenticate, internalToken } from './auth';
import { ApiError } from '../errors';
import { awaitProjection } from './readYourWrites';
import { jsonBody, requestIdOf } from './requestContext';
import { integerText, jsonObject, parseInput, postIdSchema, text } from '../validation';

export interface PostRoutesDeps {
  commands: Pick<PostCommands, 'upsertPost'>;
  queries: Pick<ChatQueries, 'getPost' | 'listPosts'>;
  progress: ProjectionProgress;
  verifier: TokenVerifier;
  internalApiToken: string;
  logger: Logger;
}

export const DEFAULT_POST_PAGE = 20;
export const MAX_POST_PAGE = 100;

export const postParams = z.object({ postId: postIdSchema });
export const listPostsQuery = z.object({
  limit: integerText(1, MAX_POST_PAGE).optional(),
  cursor: z
    .string({ error: 'must be the nextCursor of a previous page' })
    .min(1, { error: 'must be the nextCursor of a previous page' })
    .max(512, { error: 'must be the nextCursor of a previous page' })
    .optional(),
});
export const upsertPostBody = jsonObject({
  /** A user id as it appears in tokens' `sub`. */
  ownerId: text(1, 256),
  title: text(1, 200, { notBlank: true }),
});

/**
 * Posts: the marketplace backend upserts them (`/api/internal`, its own token), and
 * any signed-in user may read one.
 */
export function postRoutes(deps: PostRoutesDeps): Router {
  const router = Router();
  const asMarketplace = internalToken(deps.internalApiToken);
  const asUser = authenticate(deps.verifier, deps.logger);

  router.put('/api/internal/posts/:postId', asMarketplace, jsonBody, async (req, res) => {
    const { postId } = parseInput(postParams, req.params, 'params');
    const { ownerId, title } = parseInput(upsertPostBody, req.body, 'body');
    const result = await deps.commands.upsertPost({ postId, ownerId, title }, requestIdOf(res));
    await awaitProjection(deps.progress, result.checkpoint, deps.logger);
    // After an upsert the post is what was sent, whether it changed anything or not.
    const post: PostView = { postId, ownerId, title };
    res.status(200).json({ post });
  });

  router.get('/api/posts', asUser, async (req, res) => {
    const query = parseInput(listPostsQuery, req.query, 'query');
    res.json(await deps.queries.listPosts(query.limit ?? DEFAULT_POST_PAGE, query.cursor ?? null));
  });

  router.get('/api/posts/:postId', asUser, async (req, res) => {
    const { postId } = parseInput(postParams, req.params, 'params');
    const post = await deps.queries.getPost(postId);
    if (post === null) throw new ApiError('not_found', `post ${postId} not found`);
    res.json(post);
  });

  return router;
}

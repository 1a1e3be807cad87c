import { Router } from 'express';
import { z } from 'zod';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import type { ChatQueries, PostView, ProjectionProgress } from '../../application/ports/readModels';
import type { RoomCommands } from '../../application/room/roomCommands';
import { authenticate, internalToken } from './auth';
import { ApiError } from './errors';
import { awaitProjection } from './readYourWrites';
import { jsonBody, requestIdOf } from './requestContext';
import { jsonObject, parseInput, postIdSchema, text } from './validation';

export interface PostRoutesDeps {
  commands: Pick<RoomCommands, 'upsertPost'>;
  queries: Pick<ChatQueries, 'getPost'>;
  progress: ProjectionProgress;
  verifier: TokenVerifier;
  internalApiToken: string;
  logger: Logger;
}

const postParams = z.object({ postId: postIdSchema });
const upsertPostBody = jsonObject({
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

  router.get('/api/posts/:postId', asUser, async (req, res) => {
    const { postId } = parseInput(postParams, req.params, 'params');
    const post = await deps.queries.getPost(postId);
    if (post === null) throw new ApiError('not_found', `post ${postId} not found`);
    res.json(post);
  });

  return router;
}

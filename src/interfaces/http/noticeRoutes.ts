import { Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../../application/ports/logger';
import type { ProjectionProgress } from '../../application/ports/readModels';
import type { RoomCommands } from '../../application/room/roomCommands';
import { internalToken } from './auth';
import { awaitProjection } from './readYourWrites';
import { jsonBody, requestIdOf } from './requestContext';
import { clientMessageIdSchema, jsonObject, parseInput } from '../validation';
import { roomParams } from './roomRoutes';

export interface NoticeRoutesDeps {
  commands: Pick<RoomCommands, 'postNotice'>;
  progress: ProjectionProgress;
  internalApiToken: string;
  logger: Logger;
}

export const postNoticeBody = jsonObject({
  // The domain owns the rules (1–128 and 1–4000 characters of valid text), as for a send.
  clientNoticeId: clientMessageIdSchema,
  text: z.string({ error: 'must be a string of 1 to 4000 characters' }),
});

/**
 * The marketplace's notices ("Booking confirmed for Saturday"): a message of kind
 * `notice` from "system" in the room's sequence, live and in history like any other.
 */
export function noticeRoutes(deps: NoticeRoutesDeps): Router {
  const router = Router();
  router.post('/api/internal/rooms/:roomId/notices', internalToken(deps.internalApiToken), jsonBody, async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const { clientNoticeId, text } = parseInput(postNoticeBody, req.body, 'body');
    const result = await deps.commands.postNotice({ roomId, clientNoticeId, text }, requestIdOf(res));
    await awaitProjection(deps.progress, result.checkpoint, deps.logger);
    res.status(result.created ? 201 : 200).json({ message: result.message });
  });
  return router;
}

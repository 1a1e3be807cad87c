import { Router, type Response } from 'express';
import type { BudgetKind, UserBudgets } from '../../application/limits/userBudgets';
import { z } from 'zod';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import type { ChatQueries, ProjectionProgress, RoomView } from '../../application/ports/readModels';
import type { RoomCommands } from '../../application/room/roomCommands';
import { authenticate } from './auth';
import { ApiError } from '../errors';
import { awaitProjection } from './readYourWrites';
import { actorOf, jsonBody } from './requestContext';
import { attachmentIdsSchema, clientMessageIdSchema, integer, integerText, jsonObject, MAX_SEQ, parseInput, postIdSchema, roomIdSchema } from '../validation';

export interface RoomRoutesDeps {
  commands: Pick<RoomCommands, 'openRoom' | 'reopenRoom' | 'sendMessage' | 'markRead' | 'block' | 'unblock'>;
  queries: Pick<ChatQueries, 'getRoom' | 'listRooms' | 'getMessages'>;
  progress: ProjectionProgress;
  verifier: TokenVerifier;
  logger: Logger;
  /** The per-user budgets (the WebSocket's own): a refused call is 429 rate_limited with Retry-After. */
  budgets: Pick<UserBudgets, 'take' | 'refusal'>;
}

export const DEFAULT_MESSAGE_PAGE = 50;
export const MAX_MESSAGE_PAGE = 200;
export const DEFAULT_ROOM_PAGE = 20;
export const MAX_ROOM_PAGE = 100;

export const roomParams = z.object({ roomId: roomIdSchema });
export const openRoomBody = jsonObject({ postId: postIdSchema });
export const listRoomsQuery = z.object({
  limit: integerText(1, MAX_ROOM_PAGE).optional(),
  cursor: z
    .string({ error: 'must be the nextCursor of a previous page' })
    .min(1, { error: 'must be the nextCursor of a previous page' })
    .max(512, { error: 'must be the nextCursor of a previous page' })
    .optional(),
});
export const messagesQuery = z
  .object({
    before: integerText(0, MAX_SEQ).optional(),
    after: integerText(0, MAX_SEQ).optional(),
    limit: integerText(1, MAX_MESSAGE_PAGE).optional(),
  })
  .refine((q) => q.before === undefined || q.after === undefined || q.after < q.before, {
    error: 'must be greater than after',
    path: ['before'],
  });
export const sendMessageBody = jsonObject({
  // The domain owns the rules (1–128 characters; body 1–4000 characters of valid text);
  // here only the types, plus what PostgreSQL cannot store at all.
  clientMessageId: clientMessageIdSchema,
  body: z.string({ error: 'must be a string of 1 to 4000 characters ("" with attachments)' }),
  attachments: attachmentIdsSchema.optional(),
});
export const markReadBody = jsonObject({ upToSeq: integer(0, Number.MAX_SAFE_INTEGER) });

/**
 * The caller's rooms. Every route is the caller's own view: a room they are not part
 * of answers 404 exactly as an unknown one does. Writes wait for the read models
 * (read-your-writes) before answering.
 */
export function roomRoutes(deps: RoomRoutesDeps): Router {
  const router = Router();
  router.use('/api/rooms', authenticate(deps.verifier, deps.logger), jsonBody);

  /** Draws one from the caller's budget of this kind, or answers 429. */
  const spend = async (kind: BudgetKind, userId: string, res: Response): Promise<void> => {
    if (await deps.budgets.take(kind, userId)) return;
    res.setHeader('retry-after', '1');
    const retry = kind === 'send' ? ' (retry with the same clientMessageId in a moment)' : '';
    throw new ApiError('rate_limited', `${deps.budgets.refusal(kind)}${retry}`);
  };

  /** The caller's view of a room, or 404 whether it is unknown or someone else's. */
  const visibleRoom = async (roomId: string, userId: string): Promise<RoomView> => {
    const room = await deps.queries.getRoom(roomId, userId);
    if (room === null) throw new ApiError('not_found', `room ${roomId} not found`);
    return room;
  };

  router.post('/api/rooms', async (req, res) => {
    const { postId } = parseInput(openRoomBody, req.body, 'body');
    const actor = actorOf(res);
    await spend('command', actor.userId, res);
    const result = await deps.commands.openRoom(postId, actor);
    if (!(await awaitProjection(deps.progress, result.checkpoint, deps.logger))) {
      // The answer is read from the read models, which do not hold the room yet; a retry is safe.
      throw new ApiError('unavailable', 'the room is stored but not readable yet; retry the request', 1);
    }
    const room = await visibleRoom(result.room.roomId, actor.userId);
    const page = await deps.queries.getMessages(room.roomId, { limit: DEFAULT_MESSAGE_PAGE });
    res.status(result.opened ? 201 : 200).json({ room, messages: page.messages, hasMore: page.hasMore });
  });

  router.get('/api/rooms', async (req, res) => {
    const query = parseInput(listRoomsQuery, req.query, 'query');
    const page = await deps.queries.listRooms(actorOf(res).userId, query.limit ?? DEFAULT_ROOM_PAGE, query.cursor ?? null);
    res.json(page);
  });

  router.get('/api/rooms/:roomId', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    res.json({ room: await visibleRoom(roomId, actorOf(res).userId) });
  });

  router.get('/api/rooms/:roomId/messages', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const query = parseInput(messagesQuery, req.query, 'query');
    await visibleRoom(roomId, actorOf(res).userId);
    const page = await deps.queries.getMessages(roomId, {
      limit: query.limit ?? DEFAULT_MESSAGE_PAGE,
      ...(query.before !== undefined ? { before: query.before } : {}),
      ...(query.after !== undefined ? { after: query.after } : {}),
    });
    res.json(page);
  });

  router.post('/api/rooms/:roomId/messages', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const { clientMessageId, body, attachments } = parseInput(sendMessageBody, req.body, 'body');
    const actor = actorOf(res);
    await spend('send', actor.userId, res);
    const result = await deps.commands.sendMessage({ roomId, clientMessageId, body, ...(attachments !== undefined ? { attachments } : {}) }, actor);
    // The message comes from the write side; waiting makes the sender's next GET see it.
    await awaitProjection(deps.progress, result.checkpoint, deps.logger);
    res.status(result.created ? 201 : 200).json({ message: result.message });
  });

  router.post('/api/rooms/:roomId/read', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const { upToSeq } = parseInput(markReadBody, req.body, 'body');
    await spend('read', actorOf(res).userId, res);
    const result = await deps.commands.markRead(roomId, upToSeq, actorOf(res));
    await awaitProjection(deps.progress, result.checkpoint, deps.logger);
    res.status(204).end();
  });

  // Either participant; POST /api/rooms reopens too, but only for the borrower (it is keyed by post).
  router.post('/api/rooms/:roomId/reopen', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const actor = actorOf(res);
    await spend('command', actor.userId, res);
    const result = await deps.commands.reopenRoom(roomId, actor);
    if (!(await awaitProjection(deps.progress, result.checkpoint, deps.logger))) {
      throw new ApiError('internal', 'the room is reopened but not readable yet; retry the request');
    }
    res.status(200).json({ room: await visibleRoom(roomId, actor.userId) });
  });

  router.post('/api/rooms/:roomId/block', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    await spend('command', actorOf(res).userId, res);
    const result = await deps.commands.block(roomId, actorOf(res));
    await awaitProjection(deps.progress, result.checkpoint, deps.logger);
    res.status(204).end();
  });

  router.delete('/api/rooms/:roomId/block', async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    await spend('command', actorOf(res).userId, res);
    const result = await deps.commands.unblock(roomId, actorOf(res));
    await awaitProjection(deps.progress, result.checkpoint, deps.logger);
    res.status(204).end();
  });

  return router;
}

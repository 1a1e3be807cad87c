import { Router, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AuditAccessLog } from '../../application/audit/accessLog';
import type { UserBudgets } from '../../application/limits/userBudgets';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Clock } from '../../application/ports/clock';
import type { Logger } from '../../application/ports/logger';
import type { ModerationQueries, ReportView } from '../../application/ports/moderation';
import type { ProjectionProgress } from '../../application/ports/readModels';
import type { RoomCommands } from '../../application/room/roomCommands';
import type { UserCommands } from '../../application/user/userCommands';
import { ReportNotFoundError, reportReasons, resolutionActions } from '../../domain/room';
import { authenticate, internalToken } from './auth';
import { ApiError } from '../errors';
import { awaitProjection } from './readYourWrites';
import { actorOf, jsonBody, principalOf, requestIdOf } from './requestContext';
import { instantText, integerText, jsonObject, MAX_SEQ, parseInput, roomIdSchema, text } from '../validation';

export const MODERATOR_ROLE = 'moderator';
/** How many messages before and after the reported one a moderator reads. */
export const CONTEXT_AROUND = 5;
export const DEFAULT_REPORT_PAGE = 20;
export const MAX_REPORT_PAGE = 100;

export interface ModerationRoutesDeps {
  commands: Pick<RoomCommands, 'reportMessage' | 'resolveReport'>;
  users: Pick<UserCommands, 'suspend' | 'reinstate'>;
  queries: ModerationQueries;
  progress: ProjectionProgress;
  verifier: TokenVerifier;
  accessLog: Pick<AuditAccessLog, 'record'>;
  budgets: Pick<UserBudgets, 'take' | 'refusal'>;
  clock: Clock;
  internalApiToken: string;
  logger: Logger;
}

export const reportParams = z.object({ roomId: roomIdSchema, seq: integerText(1, MAX_SEQ) });
export const reportBody = jsonObject({
  reason: z.enum(reportReasons as [string, ...string[]], { error: `must be one of ${reportReasons.join(', ')}` }),
  note: text(0, 1000).optional(),
});
export const reportIdParams = z.object({ reportId: z.string().uuid({ error: 'must be a report id (a UUID)' }) });
export const listReportsQuery = z.object({
  status: z.enum(['open', 'resolved'], { error: 'must be "open" or "resolved"' }).optional(),
  limit: integerText(1, MAX_REPORT_PAGE).optional(),
  cursor: z.string({ error: 'must be the nextCursor of a previous page' }).min(1).max(512, { error: 'must be the nextCursor of a previous page' }).optional(),
});
const DURATION = /^(\d{1,6})(m|h|d)$/;
const durationUnit: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
export const resolutionBody = jsonObject({
  action: z.enum(resolutionActions as [string, ...string[]], { error: `must be one of ${resolutionActions.join(', ')}` }),
  note: text(0, 1000),
  suspendFor: z
    .string({ error: 'must be a duration like 15m, 12h or 7d' })
    .regex(DURATION, { error: 'must be a duration like 15m, 12h or 7d' })
    .optional()
    .meta({ description: 'with suspend_sender: how long (15m, 12h, 7d); absent: until reinstated' }),
});
export const userParams = z.object({ userId: text(1, 256) });
export const suspensionBody = jsonObject({
  until: instantText.optional(),
  reason: text(0, 1000),
});

/**
 * Reports (a participant's), the moderators' queue and resolutions, and the marketplace's
 * suspension route. docs/moderation.md says who may do what and what is recorded.
 */
export function moderationRoutes(deps: ModerationRoutesDeps): Router {
  const router = Router();
  const asUser = authenticate(deps.verifier, deps.logger);
  const moderatorsOnly: RequestHandler[] = [
    asUser,
    (_req, res, next) => {
      if (!principalOf(res).roles.includes(MODERATOR_ROLE)) throw new ApiError('forbidden', `moderation needs the "${MODERATOR_ROLE}" role`);
      next();
    },
  ];
  const reportOf = async (reportId: string): Promise<ReportView> => {
    const report = await deps.queries.getReport(reportId);
    if (report === null) throw new ReportNotFoundError(reportId);
    return report;
  };
  const settled = async (res: Response, ...checkpoints: (string | null)[]): Promise<void> => {
    for (const checkpoint of checkpoints) await awaitProjection(deps.progress, checkpoint, deps.logger);
    void res;
  };

  router.post('/api/rooms/:roomId/messages/:seq/report', asUser, jsonBody, async (req, res) => {
    const { roomId, seq } = parseInput(reportParams, req.params, 'params');
    const { reason, note } = parseInput(reportBody, req.body, 'body');
    const actor = actorOf(res);
    if (!(await deps.budgets.take('command', actor.userId))) {
      res.setHeader('retry-after', '1');
      throw new ApiError('rate_limited', deps.budgets.refusal('command'));
    }
    const result = await deps.commands.reportMessage({ roomId, seq, reason: reason as ReportView['reason'], note: note ?? '' }, actor);
    await settled(res, result.checkpoint);
    res.status(result.created ? 201 : 200).json({ report: await reportOf(result.reportId) });
  });

  router.get('/api/moderation/reports', ...moderatorsOnly, async (req, res) => {
    const query = parseInput(listReportsQuery, req.query, 'query');
    res.json(await deps.queries.listReports(query.status ?? 'open', query.limit ?? DEFAULT_REPORT_PAGE, query.cursor ?? null));
  });

  router.get('/api/moderation/reports/:reportId', ...moderatorsOnly, async (req, res) => {
    const { reportId } = parseInput(reportIdParams, req.params, 'params');
    const report = await reportOf(reportId);
    // A moderator reads a private conversation: recorded like an audit read, before it is served.
    await deps.accessLog.record({
      actorId: principalOf(res).userId,
      action: 'moderation-report',
      roomId: report.roomId,
      reportId,
      correlationId: requestIdOf(res),
    });
    res.json({ report, context: await deps.queries.context(report.roomId, report.seq, CONTEXT_AROUND) });
  });

  router.post('/api/moderation/reports/:reportId/resolution', ...moderatorsOnly, jsonBody, async (req, res) => {
    const { reportId } = parseInput(reportIdParams, req.params, 'params');
    const body = parseInput(resolutionBody, req.body, 'body');
    const moderator = actorOf(res);
    const report = await reportOf(reportId);
    const action = body.action as (typeof resolutionActions)[number];
    let suspended: string | null = null;
    if (action === 'suspend_sender' && report.status === 'open') {
      const match = body.suspendFor === undefined ? null : DURATION.exec(body.suspendFor);
      const until = match === null ? null : new Date(deps.clock.now().getTime() + Number(match[1]) * (durationUnit[match[2] as string] as number));
      const result = await deps.users.suspend(report.reportedUserId, { until, reason: body.note, reportId }, moderator.userId, moderator.correlationId);
      suspended = result.checkpoint;
    }
    const resolved = await deps.commands.resolveReport({ roomId: report.roomId, reportId, action, note: body.note }, moderator);
    await settled(res, suspended, resolved.checkpoint);
    res.json({ report: await reportOf(reportId) });
  });

  // The marketplace's own tools: suspend or reinstate a user directly.
  const asMarketplace = internalToken(deps.internalApiToken);
  router.put('/api/internal/users/:userId/suspension', asMarketplace, jsonBody, async (req, res) => {
    const { userId } = parseInput(userParams, req.params, 'params');
    const body = parseInput(suspensionBody, req.body, 'body');
    const until = body.until ?? null;
    const result = await deps.users.suspend(userId, { until, reason: body.reason, reportId: null }, 'system:marketplace', requestIdOf(res));
    // Answered once the read models hold it: from then on every process refuses the user's writes.
    await settled(res, result.checkpoint);
    res.json({ suspension: { userId, until: until === null ? null : until.toISOString(), reason: body.reason } });
  });

  router.delete('/api/internal/users/:userId/suspension', asMarketplace, async (req, res) => {
    const { userId } = parseInput(userParams, req.params, 'params');
    const result = await deps.users.reinstate(userId, 'system:marketplace', requestIdOf(res));
    await settled(res, result.checkpoint);
    res.status(204).end();
  });

  return router;
}

import { once } from 'node:events';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AuditAccessLog } from '../../application/audit/accessLog';
import type { AnchorLedger } from '../../application/audit/anchors';
import { exportEvents } from '../../application/audit/exportEvents';
import { readRoomAudit } from '../../application/audit/roomAudit';
import { roomAt } from '../../application/audit/roomAt';
import { summarize, verifyStore } from '../../application/audit/verification';
import { createHash } from 'node:crypto';
import type { Attachments } from '../../application/attachments/attachments';
import { downloadParams } from './attachmentRoutes';
import type { TokenVerifier } from '../../application/ports/auth';
import type { EventStore } from '../../application/ports/eventStore';
import type { Logger } from '../../application/ports/logger';
import type { AuditMessageReader } from '../../application/privacy/auditContent';
import type { AuditAction } from '../../domain/audit';
import { authenticate } from './auth';
import { ApiError } from '../errors';
import { principalOf, requestIdOf } from './requestContext';
import { instantText, parseInput, roomIdSchema } from '../validation';

export interface AuditRoutesDeps {
  eventStore: EventStore;
  verifier: TokenVerifier;
  logger: Logger;
  /** The anchors, verified with AUDIT_ANCHOR_KEY. */
  ledger: AnchorLedger;
  /** Where every audit read is recorded. */
  accessLog: AuditAccessLog;
  /** Opens sealed messages for auditors (erased ones with the digest of what is stored). */
  readMessages?: AuditMessageReader;
  /** The photos: verify checks their stored bytes against the record; auditors may read them. */
  attachments?: Pick<Attachments, 'open' | 'storedBytes'>;
}

export const AUDITOR_ROLE = 'auditor';

export const roomParams = z.object({ roomId: roomIdSchema });
const format = z.enum(['json', 'jsonl'], { error: 'must be "json" or "jsonl"' }).default('json');
export const eventsQuery = z.object({ format });
export const stateQuery = z.object({ at: instantText });
export const verifyQuery = z.object({ format, room: roomIdSchema.optional() });

/**
 * The audit record, for the backend team: read from the event store, not the read
 * models; auditors only; every read recorded as an AuditAccessed event before it is served.
 */
export function auditRoutes(deps: AuditRoutesDeps): Router {
  const router = Router();
  const auditorsOnly: RequestHandler[] = [
    authenticate(deps.verifier, deps.logger),
    (_req, res, next) => {
      if (!principalOf(res).roles.includes(AUDITOR_ROLE)) {
        throw new ApiError('forbidden', `the audit record needs the "${AUDITOR_ROLE}" role`);
      }
      next();
    },
  ];
  const record = (res: Response, action: AuditAction, details: { roomId?: string; at?: string; attachmentId?: string; variant?: string } = {}) =>
    deps.accessLog.record({ actorId: principalOf(res).userId, action, correlationId: requestIdOf(res), ...details });

  router.get('/api/audit/rooms/:roomId/events', ...auditorsOnly, async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const query = parseInput(eventsQuery, req.query, 'query');
    await record(res, 'room-events', { roomId });
    if (query.format === 'json') {
      const audit = await readRoomAudit(deps.eventStore, deps.ledger, roomId, deps.readMessages);
      if (audit === null) throw new ApiError('not_found', `room ${roomId} not found`);
      res.json(audit);
      return;
    }
    const events = exportEvents(deps.eventStore, { roomId }, deps.readMessages);
    const first = await events.next();
    if (first.done === true) throw new ApiError('not_found', `room ${roomId} not found`);
    await writeJsonLines(req, res, deps.logger, prepend(first.value, events));
  });

  // A photo as stored, whoever sent it (an auditor is no participant, and the signed URLs are theirs).
  router.get('/api/audit/attachments/:attachmentId/:variant', ...auditorsOnly, async (req, res) => {
    const { attachmentId, variant } = parseInput(downloadParams, req.params, 'params');
    const opened = deps.attachments === undefined ? null : await deps.attachments.open(attachmentId, variant);
    await record(res, 'attachment', { attachmentId, variant, ...(opened !== null ? { roomId: opened.record.roomId } : {}) });
    if (opened === null) throw new ApiError('not_found', `attachment ${attachmentId} not found`);
    res.setHeader('content-type', opened.contentType);
    res.setHeader('x-attachment-sha256', createHash('sha256').update(opened.data).digest('hex'));
    res.status(200).end(opened.data);
  });

  router.get('/api/audit/rooms/:roomId/state', ...auditorsOnly, async (req, res) => {
    const { roomId } = parseInput(roomParams, req.params, 'params');
    const { at } = parseInput(stateQuery, req.query, 'query');
    await record(res, 'room-state', { roomId, at: at.toISOString() });
    const result = await roomAt(deps.eventStore, roomId, at, deps.readMessages);
    if (!result.found) {
      throw new ApiError(
        'not_found',
        result.reason === 'no_room' ? `room ${roomId} not found` : `room ${roomId} was not open yet at ${at.toISOString()}`,
      );
    }
    res.json({ room: result.room });
  });

  router.get('/api/audit/verify', ...auditorsOnly, async (req, res) => {
    const query = parseInput(verifyQuery, req.query, 'query');
    await record(res, 'verify', query.room !== undefined ? { roomId: query.room } : {});
    const verdicts = verifyStore(deps.eventStore, deps.ledger, {
      ...(query.room !== undefined ? { roomId: query.room } : {}),
      ...(deps.attachments !== undefined ? { attachments: deps.attachments.storedBytes } : {}),
    });
    if (query.format === 'jsonl') {
      const summary = summarize();
      await writeJsonLines(
        req,
        res,
        deps.logger,
        (async function* () {
          for await (const verdict of verdicts) {
            summary.add(verdict);
            yield verdict;
          }
          const { failures: _failures, ...totals } = summary.result();
          yield { summary: totals };
        })(),
      );
      return;
    }
    const summary = summarize();
    for await (const verdict of verdicts) summary.add(verdict);
    const result = summary.result();
    if (query.room !== undefined && result.events === 0 && result.verified) throw new ApiError('not_found', `room ${query.room} not found`);
    res.json({ ...result, anchorHead: deps.ledger.head });
  });
  return router;
}

async function* prepend<T>(first: T, rest: AsyncIterable<T>): AsyncGenerator<T> {
  yield first;
  yield* rest;
}

/**
 * JSON Lines, written as they are read, waiting for the client whenever its buffer is
 * full: memory stays at one page whatever the size. A failure after the first line
 * cannot become an error body any more: the connection is cut, so the client sees a
 * truncated response rather than a short one that looks complete.
 */
async function writeJsonLines(req: Request, res: Response, logger: Logger, lines: AsyncIterable<unknown>): Promise<void> {
  res.status(200).setHeader('content-type', 'application/jsonl; charset=utf-8');
  try {
    for await (const line of lines) {
      if (res.destroyed) return;
      if (!res.write(`${JSON.stringify(line)}\n`)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    res.end();
  } catch (error) {
    logger.error({ err: error, url: req.originalUrl, requestId: requestIdOf(res) }, 'audit stream failed part way; connection cut');
    res.destroy();
  }
}

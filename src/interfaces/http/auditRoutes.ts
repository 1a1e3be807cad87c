import { Router } from 'express';
import { z } from 'zod';
import { readRoomAudit } from '../../application/audit/roomAudit';
import type { TokenVerifier } from '../../application/ports/auth';
import type { EventStore } from '../../application/ports/eventStore';
import type { Logger } from '../../application/ports/logger';
import { authenticate } from './auth';
import { ApiError } from './errors';
import { principalOf } from './requestContext';
import { parseInput, roomIdSchema } from './validation';

export interface AuditRoutesDeps {
  eventStore: EventStore;
  verifier: TokenVerifier;
  logger: Logger;
}

export const AUDITOR_ROLE = 'auditor';

const auditParams = z.object({ roomId: roomIdSchema });

/**
 * The audit record, for the backend team: a room's full event history as stored
 * (read from the event store, not the read models), with the hash chain verified.
 */
export function auditRoutes(deps: AuditRoutesDeps): Router {
  const router = Router();
  router.get('/api/audit/rooms/:roomId/events', authenticate(deps.verifier, deps.logger), async (req, res) => {
    if (!principalOf(res).roles.includes(AUDITOR_ROLE)) {
      throw new ApiError('forbidden', `the audit record needs the "${AUDITOR_ROLE}" role`);
    }
    const { roomId } = parseInput(auditParams, req.params, 'params');
    const audit = await readRoomAudit(deps.eventStore, roomId);
    if (audit === null) throw new ApiError('not_found', `room ${roomId} not found`);
    res.json(audit);
  });
  return router;
}

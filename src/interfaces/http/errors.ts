import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../../application/ports/logger';
import { errorBody, statusOfCode, toApiError } from '../errors';

/** Express's last handler: every error a route throws, answered as the contract's error body. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const apiError = toApiError(error);
    if (apiError.code === 'internal') {
      logger.error({ err: error, method: req.method, url: req.originalUrl, requestId: res.locals.requestId }, 'request failed');
    }
    if (res.headersSent) return;
    if (apiError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
    res.status(statusOfCode[apiError.code]).json(errorBody(apiError.code, apiError.message));
  };
}

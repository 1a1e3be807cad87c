import express, { type RequestHandler, type Router } from 'express';
import type { Logger } from '../../application/ports/logger';
import { ApiError } from '../errors';
import { corsForApi } from './cors';
import { errorHandler } from './errors';
import { requestId } from './requestContext';

export interface HttpAppOptions {
  logger: Logger;
  routers: Router[];
  /** Runs first, before any router: e.g. the HTTP metrics. */
  before?: RequestHandler[];
  /** ALLOWED_ORIGINS: who may call the API from a page on another origin (null: any). */
  allowedOrigins?: readonly string[] | null;
}

/**
 * On every answer: JSON that is never sniffed into something a browser would run,
 * never stored by a cache (answers are one user's own view, behind a token), never
 * framed. The CSP is for the API's own answers; a web app served elsewhere sets its own.
 */
const apiHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
  next();
};

/**
 * The express app: a correlation id for every request, the routers, then one 404 and
 * one error mapping for all. Routers parse JSON bodies themselves (`jsonBody`), after
 * authenticating the caller.
 */
export function createHttpApp(options: HttpAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const handler of options.before ?? []) app.use(handler);
  app.use(requestId());
  app.use(apiHeaders);
  app.use(corsForApi(options.allowedOrigins ?? null));
  for (const router of options.routers) app.use(router);
  app.use((req, _res, next) => next(new ApiError('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(options.logger));
  return app;
}

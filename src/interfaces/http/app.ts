import express, { type Router } from 'express';
import type { Logger } from '../../application/ports/logger';
import { ApiError, errorHandler } from './errors';
import { requestId } from './requestContext';

export interface HttpAppOptions {
  logger: Logger;
  routers: Router[];
}

/**
 * The express app: a correlation id for every request, the routers, then one 404 and
 * one error mapping for all. Routers parse JSON bodies themselves (`jsonBody`), after
 * authenticating the caller.
 */
export function createHttpApp(options: HttpAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestId());
  for (const router of options.routers) app.use(router);
  app.use((req, _res, next) => next(new ApiError('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(options.logger));
  return app;
}

import express, { type Router } from 'express';
import type { Logger } from '../../application/ports/logger';
import { ApiError, errorHandler } from './errors';

export interface HttpAppOptions {
  logger: Logger;
  routers: Router[];
  /** Largest JSON body accepted; a larger one is answered with 413 payload_too_large. */
  maxBodyBytes?: number;
}

export function createHttpApp(options: HttpAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: options.maxBodyBytes ?? 64 * 1024, strict: true }));
  for (const router of options.routers) app.use(router);
  app.use((req, _res, next) => next(new ApiError('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(options.logger));
  return app;
}

import type { Logger } from '../../application/ports/logger';
import type { ProjectionProgress } from '../../application/ports/readModels';

/** How long a write waits for the read models before answering anyway. */
export const READ_YOUR_WRITES_TIMEOUT_MS = 5000;

/**
 * Waits until the read models hold the command's effect, so the caller's next GET
 * sees it. False (logged) when they did not get there in time: the change is stored
 * all the same, it is only not readable yet.
 */
export async function awaitProjection(
  progress: ProjectionProgress,
  checkpoint: string | null,
  logger: Logger,
  timeoutMs = READ_YOUR_WRITES_TIMEOUT_MS,
): Promise<boolean> {
  if (checkpoint === null) return true;
  const reached = await progress.waitFor(checkpoint, timeoutMs);
  if (!reached) logger.warn({ checkpoint, timeoutMs }, 'read models did not reach a write in time; answering without read-your-writes');
  return reached;
}

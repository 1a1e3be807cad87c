import { scheduleJob } from 'node-schedule';

/** Asks node-schedule itself, so a cron it accepts here is one it will run. */
export function isValidCron(expression: string): boolean {
  const job = scheduleJob(expression, () => undefined);
  if (job === null) return false;
  job.cancel();
  return true;
}

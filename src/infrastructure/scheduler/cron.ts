import { scheduleJob } from 'node-schedule';

/**
 * Whether node-schedule runs this as a recurring cron schedule: 5 fields (minute first)
 * or 6 (second first), or a macro like `@hourly`. Asks node-schedule itself, so a cron
 * accepted here is one it will run. node-schedule would also take a date ("Dec 17 2030
 * 10:00:00 GMT") as a one-time job, and pad a short expression ("1") with `*`s: neither
 * is a sweep schedule, so both are refused, as is a cron that never fires ("0 0 30 2 *").
 */
export function isValidCron(expression: string): boolean {
  const text = expression.trim();
  const fields = text.split(/\s+/).length;
  if (!text.startsWith('@') && (fields < 5 || fields > 6)) return false;
  const job = scheduleJob(text, () => undefined);
  if (job === null) return false;
  const oneTime = (job as unknown as { isOneTimeJob?: boolean }).isOneTimeJob === true;
  job.cancel();
  return !oneTime;
}

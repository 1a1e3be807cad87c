import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../../application/ports/logger';

/**
 * JSON lines, one per entry, for log collectors; or, for a person at a terminal in
 * development (`pretty`), coloured lines with the time, level and message first. The
 * pretty stream writes synchronously so the last lines before a crash are not lost.
 */
export function pinoLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  const settings = { level, base: { service: 'rental-chat' } };
  if (options.pretty === true) {
    return pino(settings, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' })) as unknown as Logger;
  }
  return pino(settings) as unknown as Logger;
}

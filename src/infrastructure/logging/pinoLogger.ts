import pino from 'pino';
import type { Logger } from '../../application/ports/logger';

export function pinoLogger(level: string): Logger {
  return pino({ level, base: { service: 'rental-chat' } }) as unknown as Logger;
}

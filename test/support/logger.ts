import type { Logger } from '../../src/application/ports/logger';

/** A logger that keeps what it is given, to check what reaches the log (and at which level). */
export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: 'debug' | 'info' | 'warn' | 'error'; fields: object; message: string }> = [];
  debug(fields: object, message: string): void {
    this.lines.push({ level: 'debug', fields, message });
  }
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
  child(): Logger {
    return this;
  }
  at(level: 'debug' | 'info' | 'warn' | 'error'): Array<{ fields: object; message: string }> {
    return this.lines.filter((l) => l.level === level);
  }
}

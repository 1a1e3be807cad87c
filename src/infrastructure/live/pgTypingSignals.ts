import type { TypingSignal, TypingSignals } from '../../application/ports/typingSignals';
import type { SqlDatabase } from '../sql/sqlDatabase';

const CHANNEL = 'chat_typing';

/**
 * Typing signals over PostgreSQL NOTIFY on the database the processes already share:
 * nothing is written to a table, and every listening process (this one too) hears it.
 */
export class PgTypingSignals implements TypingSignals {
  constructor(private readonly db: SqlDatabase) {}

  async publish(signal: TypingSignal): Promise<void> {
    await this.db.query(`SELECT pg_notify($1, $2)`, [CHANNEL, JSON.stringify([signal.roomId, signal.userId, signal.toUserId])]);
  }

  subscribe(onSignal: (signal: TypingSignal) => void): Promise<() => Promise<void>> {
    return this.db.listen(CHANNEL, (payload) => {
      // An empty payload is the adapter's "you may have missed something" after a reconnect: nothing to replay.
      if (payload === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload);
      } catch {
        return;
      }
      if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((v) => typeof v === 'string')) return;
      const [roomId, userId, toUserId] = parsed as [string, string, string];
      onSignal({ roomId, userId, toUserId });
    });
  }
}

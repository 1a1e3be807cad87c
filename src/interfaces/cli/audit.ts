import { once } from 'node:events';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { AnchorKeyRing } from '../../application/audit/anchorKeys';
import { AnchorLedger, AuditAnchorer } from '../../application/audit/anchors';
import { exportEvents } from '../../application/audit/exportEvents';
import { roomAt } from '../../application/audit/roomAt';
import { summarize, verifyStore, type StreamVerdict } from '../../application/audit/verification';
import { systemClock } from '../../application/ports/clock';
import type { EventStore } from '../../application/ports/eventStore';
import { randomIds } from '../../application/ports/ids';
import { silentLogger } from '../../application/ports/logger';
import { ConfigError, loadConfig, type Config } from '../../config';
import { APPEND_ONLY_TRIGGER, checkAppendOnly } from '../../infrastructure/eventStore/appendOnly';
import { openEventStore } from '../../infrastructure/eventStore/openEventStore';
import { openAttachmentStore } from '../../infrastructure/attachments/openAttachmentStore';
import { auditedPhotoBytes } from '../../application/attachments/attachments';
import { createChatMetrics } from '../../infrastructure/metrics/chatMetrics';
import { migrateDatabase } from '../../infrastructure/migrations';
import { openDatabase } from '../../infrastructure/sql/openDatabase';
import { rebuildCheck } from '../../infrastructure/readModels/rebuildCheck';
import type { SqlDatabase } from '../../infrastructure/sql/sqlDatabase';
import { roomStreamName } from '../../domain/streams';
import { instantText, roomIdSchema } from '../validation';
import { auditMessageReader } from '../../application/privacy/auditContent';
import { DataKeys } from '../../application/privacy/dataKeys';
import { KeyRing } from '../../application/privacy/keyRing';
import { EventOpener, OpenedEventStore } from '../../application/privacy/openedEventStore';
import { SqlDataKeyStore } from '../../infrastructure/privacy/sqlDataKeyStore';
import { loadErasedUsers } from '../../infrastructure/privacy/erasedUsersTable';

/** Exit codes: everything verified / equal; something did not; the command could not run. */
export const EXIT = { ok: 0, failed: 1, unusable: 2 } as const;

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Bad input or an unreachable store: one line on stderr, exit 2. */
class CliError extends Error {}

/** The store the configuration names, opened only when a command needs it, closed after. */
class Store {
  private db: Promise<SqlDatabase> | null = null;
  private store: Promise<EventStore> | null = null;
  private readonly opened: Array<{ close(): Promise<void> }> = [];

  constructor(readonly config: Config) {}

  async eventStore(): Promise<EventStore> {
    // The database first: every store is built on it (the read models live there even with
    // EventStoreDB), and an embedded one left open keeps the process from exiting.
    const db = await this.sqlDatabase();
    this.store ??= (async () => {
      const eventStore = await openEventStore(this.config, db, createChatMetrics({ defaultMetrics: false }));
      this.opened.push(eventStore);
      return eventStore;
    })();
    return this.store;
  }

  /** The data keys, unwrapped with DATA_KEY_ENCRYPTION_KEY: what opens sealed messages. */
  async dataKeys(): Promise<DataKeys> {
    return new DataKeys(new SqlDataKeyStore(await this.sqlDatabase()), new KeyRing(this.config.dataKeyEncryptionKeys));
  }

  /** The store as the service reads it (messages opened, or erased): for replaying into read models. */
  async openedEventStore(): Promise<EventStore> {
    const keys = await this.dataKeys();
    const erased = await loadErasedUsers(await this.sqlDatabase());
    return new OpenedEventStore(await this.eventStore(), new EventOpener(keys, erased));
  }

  async sqlDatabase(): Promise<SqlDatabase> {
    this.db ??= openDatabase(this.config, silentLogger).then(async (db) => {
      this.opened.push(db);
      // As the server does at start-up: the schema is up to date, and on an empty database
      // the record is there, empty.
      await migrateDatabase(db);
      return db;
    });
    return this.db;
  }

  async close(): Promise<void> {
    // The event store before the database it may run on.
    for (const resource of [...this.opened].reverse()) await resource.close().catch(() => undefined);
  }
}

/**
 * `npm run audit -- <command>`: the audit team's tools, against the store the
 * environment configures (DATABASE_URL, the embedded DATA_DIR, or EventStoreDB).
 * Results go to stdout, progress and errors to stderr. Never a stack trace.
 */
export async function runAuditCli(argv: readonly string[], io: CliIo): Promise<number> {
  const say = (stream: NodeJS.WritableStream, line: string): void => void stream.write(`${line}\n`);
  let config: Config;
  try {
    config = loadConfig(io.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      say(io.stderr, error.message);
      return EXIT.unusable;
    }
    throw error;
  }
  const store = new Store(config);
  const progress = progressLine(io.stderr);
  let exitCode: number = EXIT.ok;

  const program = new Command('audit')
    .description('Verify, export and inspect the chat service\'s audit record; re-wrap its data keys')
    .exitOverride()
    .configureOutput({ writeOut: (text) => void io.stdout.write(text), writeErr: (text) => void io.stderr.write(text) });

  program
    .command('verify')
    .description('check every stream\'s hash chain and its anchors (or one room\'s); exit 1 when any fails')
    .option('--room <roomId>', 'only this room', roomId)
    .option('--anchor-head <revision:mac>', 'the anchor head published outside the database: the anchor stream must reach it', anchorHead)
    .action(async (options: { room?: string; anchorHead?: { revision: number; mac: string } }) => {
      warnAboutDevelopmentKey(config, io);
      const eventStore = await store.eventStore();
      const ledger = new AnchorLedger(eventStore, new AnchorKeyRing(config.auditAnchorKeys));
      const summary = summarize();
      // Each sent photo's stored bytes are checked against the digests its message recorded.
      const photos = openAttachmentStore(config.attachments.store, await store.sqlDatabase());
      const verdicts = verifyStore(eventStore, ledger, {
        attachments: auditedPhotoBytes(photos, await store.dataKeys()),
        ...(options.room !== undefined ? { roomId: options.room } : {}),
        ...(options.anchorHead !== undefined ? { expectedAnchorHead: options.anchorHead } : {}),
        onProgress: ({ streams, events }) => progress(`verified ${streams} streams, ${events} events`),
      });
      for await (const verdict of verdicts) {
        summary.add(verdict);
        if (!verdict.verified) say(io.stdout, describeFailure(verdict));
      }
      const result = summary.result();
      if (options.room !== undefined && result.events === 0 && result.verified) throw new CliError(`room ${options.room} not found`);
      if (options.room !== undefined && ledger.problem !== null) {
        say(io.stderr, `warning: the anchor stream itself fails at revision ${ledger.problem.revision} (${ledger.problem.kind}); run verify without --room`);
      }
      say(
        io.stdout,
        `${result.verified ? 'OK' : 'FAILED'}: ${result.streams} streams, ${result.events} events checked, ${result.failures.length} failed`,
      );
      const head = ledger.head;
      say(io.stdout, head === null ? 'anchor head: none yet' : `anchor head: revision ${head.revision} mac ${head.mac}`);
      exitCode = result.verified ? EXIT.ok : EXIT.failed;
    });

  program
    .command('export')
    .description('write events as JSON Lines, one event a line, as recorded (a sealed message with its text, or erased, as `content`)')
    .option('--room <roomId>', 'one room\'s events', roomId)
    .option('--all', 'every event of the store, in global order')
    .option('--from <iso>', 'events recorded at or after this instant', instant)
    .option('--to <iso>', 'events recorded before this instant', instant)
    .action(async (options: { room?: string; all?: boolean; from?: Date; to?: Date }) => {
      if ((options.room === undefined) === (options.all !== true)) throw new CliError('export needs either --room <roomId> or --all');
      if (options.from !== undefined && options.to !== undefined && options.from >= options.to) throw new CliError('--from must be before --to');
      const eventStore = await store.eventStore();
      if (options.room !== undefined && (await eventStore.readStream(roomStreamName(options.room), { maxCount: 1 })).length === 0) {
        throw new CliError(`room ${options.room} not found`);
      }
      let count = 0;
      const events = exportEvents(eventStore, {
        ...(options.room !== undefined ? { roomId: options.room } : {}),
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.to !== undefined ? { to: options.to } : {}),
      }, auditMessageReader(await store.dataKeys()));
      for await (const event of events) {
        if (!io.stdout.write(`${JSON.stringify(event)}\n`)) await once(io.stdout, 'drain');
        count += 1;
        progress(`exported ${count} events`);
      }
      progress.done(`exported ${count} events`);
    });

  program
    .command('room-at')
    .description('the room as it stood at an instant, folded from its events')
    .requiredOption('--room <roomId>', 'the room', roomId)
    .requiredOption('--at <iso>', 'the instant', instant)
    .action(async (options: { room: string; at: Date }) => {
      const result = await roomAt(await store.eventStore(), options.room, options.at, auditMessageReader(await store.dataKeys()));
      if (!result.found) {
        throw new CliError(
          result.reason === 'no_room' ? `room ${options.room} not found` : `room ${options.room} was not open yet at ${options.at.toISOString()}`,
        );
      }
      say(io.stdout, JSON.stringify(result.room, null, 2));
    });

  program
    .command('rebuild-check')
    .description('replay every event into scratch read-model tables and compare them with the live ones; exit 1 when they differ')
    .action(async () => {
      const db = await store.sqlDatabase();
      const eventStore = await store.openedEventStore();
      const result = await rebuildCheck({ db, eventStore, onProgress: (events) => progress(`replayed ${events} events`) });
      for (const difference of result.differences) {
        const key = JSON.stringify(difference.key);
        if (difference.live === null) say(io.stdout, `${difference.table} ${key}: only in the rebuilt read models`);
        else if (difference.rebuilt === null) say(io.stdout, `${difference.table} ${key}: only in the live read models`);
        else {
          const changes = difference.columns.map(
            (c) => `${c} live ${JSON.stringify(difference.live?.[c])}, rebuilt ${JSON.stringify(difference.rebuilt?.[c])}`,
          );
          say(io.stdout, `${difference.table} ${key}: ${changes.join('; ')}`);
        }
      }
      if (result.truncated) say(io.stdout, '… and more differences');
      say(
        io.stdout,
        `${result.equal ? 'EQUAL' : 'DIFFERENT'}: replayed ${result.events} events up to checkpoint ${result.checkpoint ?? '(none)'}, ` +
          `${result.differences.length}${result.truncated ? '+' : ''} rows differ`,
      );
      exitCode = result.equal ? EXIT.ok : EXIT.failed;
    });

  program
    .command('append-only')
    .description('check that the events table refuses UPDATE, DELETE and TRUNCATE (PostgreSQL and PGlite); exit 1 when it does not')
    .action(async () => {
      if (config.eventStore.kind === 'eventstoredb') throw new CliError('append-only checks the PostgreSQL events table; this store is EventStoreDB');
      // A migration runs once: opening the database never switches a disabled trigger back on.
      const check = await checkAppendOnly(await store.sqlDatabase());
      const enabled = { A: 'enabled always', O: 'enabled in normal sessions only', R: 'enabled on replicas only', D: 'disabled' } as Record<string, string>;
      say(
        io.stdout,
        check.trigger === null
          ? `trigger ${APPEND_ONLY_TRIGGER}: missing`
          : `trigger ${APPEND_ONLY_TRIGGER}: ${enabled[check.trigger.enabled] ?? check.trigger.enabled}: ${check.trigger.definition}`,
      );
      say(io.stdout, `UPDATE: ${check.refuses.update ? 'refused' : 'allowed'}; DELETE: ${check.refuses.delete ? 'refused' : 'allowed'}`);
      say(io.stdout, check.appendOnly ? 'OK: the events table is append-only' : 'FAILED: the events table is not append-only');
      exitCode = check.appendOnly ? EXIT.ok : EXIT.failed;
    });

  program
    .command('rewrap-keys')
    .description(
      're-wrap every data key under the newest DATA_KEY_ENCRYPTION_KEY (the first of the list), a batch at a time; ' +
        'safe to stop and run again, and while the service runs; exit 0 once none is left under an older key, 1 when stopped with keys left',
    )
    .option('--batch <n>', 'keys re-wrapped per step (default 500)', positiveInt)
    .option('--max-batches <n>', 'stop after this many steps (run again to go on)', positiveInt)
    .action(async (options: { batch?: number; maxBatches?: number }) => {
      const keys = await store.dataKeys();
      const target = keys.currentKeyEncryptionKeyId;
      const batch = options.batch ?? 500;
      let left = await keys.rewrapRemaining();
      say(io.stderr, `re-wrapping under key-encryption key ${target}: ${left} data keys under older keys`);
      let total = 0;
      let batches = 0;
      for (;;) {
        if (left === 0) break;
        if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
        const step = await keys.rewrapStep(batch);
        batches += 1;
        total += step.rewrapped;
        left = await keys.rewrapRemaining();
        say(io.stderr, `… batch ${batches}: re-wrapped ${step.rewrapped} (${total} so far), ${left} left`);
        // Nothing re-wrapped though keys are left: they changed under it (another run); stop and report.
        if (step.rewrapped === 0) break;
      }
      if (left === 0) {
        say(io.stdout, `DONE: re-wrapped ${total} data keys; every live data key is wrapped under ${target}`);
        exitCode = EXIT.ok;
      } else {
        say(io.stdout, `STOPPED: re-wrapped ${total} data keys; ${left} still under older keys, run rewrap-keys again to go on`);
        exitCode = EXIT.failed;
      }
    });

  program
    .command('anchor')
    .description('record an anchor now (the service does it on AUDIT_ANCHOR_CRON) and print the anchor head')
    .action(async () => {
      warnAboutDevelopmentKey(config, io);
      const anchorer = new AuditAnchorer({
        eventStore: await store.eventStore(),
        clock: systemClock,
        ids: randomIds,
        keys: new AnchorKeyRing(config.auditAnchorKeys),
        logger: silentLogger,
      });
      const result = await anchorer.anchorNow();
      say(
        io.stdout,
        result === null
          ? 'nothing changed since the last anchor'
          : `anchored ${result.streams} streams; anchor head: revision ${result.head.revision} mac ${result.head.mac}`,
      );
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own one-line message (or the help).
      return error.exitCode === 0 ? EXIT.ok : EXIT.unusable;
    }
    say(io.stderr, `audit: ${oneLine(error)}`);
    return EXIT.unusable;
  } finally {
    await store.close();
  }
}

function roomId(value: string): string {
  const parsed = roomIdSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('must be a room id (a UUID).');
  return parsed.data;
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!/^\d{1,9}$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number of 1 or more.');
  return parsed;
}

function instant(value: string): Date {
  const parsed = instantText.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('must be an ISO-8601 time with a zone, like 2026-01-01T12:00:00Z.');
  return parsed.data;
}

function anchorHead(value: string): { revision: number; mac: string } {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(value);
  if (match === null) throw new InvalidArgumentError('must be <revision>:<mac>, as `verify` and `anchor` print them.');
  return { revision: Number(match[1]), mac: match[2] as string };
}

function describeFailure(verdict: StreamVerdict): string {
  const problem = verdict.problem;
  const what = verdict.roomId !== null ? `room ${verdict.roomId}` : `stream ${verdict.streamId}`;
  return problem === null ? `FAIL ${what}` : `FAIL ${what} at revision ${problem.revision}: ${problem.kind}: ${problem.detail}`;
}

function warnAboutDevelopmentKey(config: Config, io: CliIo): void {
  const warning = config.warnings.find((w) => w.startsWith('AUDIT_ANCHOR_KEY'));
  if (warning !== undefined) io.stderr.write(`warning: ${warning}\n`);
}

function oneLine(error: unknown): string {
  if (error instanceof ConfigError || error instanceof CliError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').trim() || 'failed';
}

/** A progress line on stderr at most every two seconds: quiet on short runs. */
function progressLine(stderr: NodeJS.WritableStream): ((line: string) => void) & { done(line: string): void } {
  const startedAt = Date.now();
  let last = startedAt;
  let shown = false;
  const show = (line: string): void => {
    const now = Date.now();
    if (now - last < 2000) return;
    last = now;
    shown = true;
    stderr.write(`… ${line}\n`);
  };
  return Object.assign(show, {
    done: (line: string) => {
      if (shown) stderr.write(`${line}\n`);
    },
  });
}

if (require.main === module) {
  runAuditCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`audit: ${oneLine(error)}\n`);
      process.exitCode = EXIT.unusable;
    },
  );
}

import { evolveStored } from '../domain/events';
import type { Decider } from '../domain/shared/decider';
import { eventHash, HASH_VERSION } from './audit/hashChain';
import type { Clock } from './ports/clock';
import {
  NO_PREVIOUS_HASH,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type RecordedEvent,
} from './ports/eventStore';
import type { IdGenerator } from './ports/ids';
import type { SnapshotStore } from './ports/snapshots';
import { StreamStateCache, type FoldedStream } from './streamStateCache';

/** Who asked, and why: becomes the metadata of every event the command produces. */
export interface CommandContext {
  actorId: string;
  correlationId: string;
  causationId: string;
}

export interface CommandHandlerDeps {
  eventStore: EventStore;
  clock: Clock;
  ids: IdGenerator;
}

export interface CommandResult<State, Evt> {
  /** Events this command appended; empty when the decision was "nothing to do" or a repeat. */
  newEvents: Evt[];
  /** The stream's state after the command. */
  state: State;
  /** Where the new events landed (for a repeat: where the originals are); null when nothing was appended. */
  appended: AppendResult | null;
  /**
   * True when the store already held every event the command decided (their ids are
   * derived from the request, see `eventIdFor`): nothing new was written, and
   * `appended` names the originals.
   */
  repeated: boolean;
  /**
   * The checkpoint of the stream's latest event after the command (null: empty stream).
   * Wait for the read models to pass it and a read after the command sees its effect.
   */
  checkpoint: string | null;
}

/** Turns a decided event's data into what is stored (e.g. personal text sealed); synchronous, so it runs right before the append. */
export type EventEncoder<Evt> = (event: Evt) => object;

export interface HandleCommandOptions<State, Evt, Cmd = unknown> {
  /**
   * How many times to decide again after losing an optimistic-concurrency race. Within a
   * process commands on one stream run one at a time (each stream's lane), so a lost race
   * means another process wrote the stream in between; the handler then reads only the
   * newer events and decides again at once. Losing 25 times in a row takes sustained
   * contention on one stream from several processes: the command then fails, and the
   * client retries with the same clientMessageId.
   */
  maxAttempts?: number;
  /** Folded streams kept between commands; without it every command reads its stream. */
  cache?: StreamStateCache<State>;
  /** Snapshots for cold loads: how often to write one, and the state's version. */
  snapshots?: { store: SnapshotStore; every: number; version: string; onError(error: unknown): void };
  /**
   * The event id of a decided event, when it must follow from the request (a send's id
   * follows from its clientMessageId, so the store itself refuses a second copy);
   * undefined for a fresh random id.
   */
  eventIdFor?(event: Evt): string | undefined;
  /**
   * Called once a single-event append has committed, before the command answers and
   * before the next command on the stream runs: the local path of live delivery.
   */
  onCommitted?(event: RecordedEvent, preceding: { revision: bigint | 'no_stream'; checkpoint: string | null }): void;
  /**
   * How this command's events are stored, when not as decided: made while the command
   * waits for its turn (it may fetch a key), applied before the events are hashed, so the
   * hash chain covers what is stored. Reads must give back the decided form (the store
   * the handler is given opens what this seals). Undefined: stored as decided.
   */
  encoderFor?(command: Cmd): Promise<EventEncoder<Evt> | undefined>;
}

type DomainEvent = { type: string; data: object };

/** A command's place in its stream's lane. */
interface Ticket {
  state: 'waiting' | 'appended';
  wake: (() => void) | null;
}

const DEFAULT_MAX_ATTEMPTS = 25;
/** Events folded per read when a stream is loaded, so a long stream does not hold the event loop. */
const LOAD_PAGE = 1000;

/**
 * The write side of one decider: fold the stream (from the cache, else a snapshot and
 * the events after it), decide, and append at the folded revision. When another writer
 * got there first the store refuses the append and nothing is written; the handler
 * folds the newer events and decides again, so the rules hold whatever the interleaving.
 *
 * Pipelining. Where the store pipelines appends (PostgreSQL's group commit), commands on
 * one stream do not wait for each other's commit: each decides on the state the stream
 * will have once the appends still in flight have committed, and appends right behind
 * them, marked as depending on them. If one of those is refused, the store refuses the
 * ones behind it too, and each decides again on what was really stored. So a busy room
 * commits many messages per group commit instead of one. Elsewhere commands on one
 * stream run one at a time.
 */
export class StreamCommandHandler<State, Cmd, Evt extends DomainEvent> {
  private readonly cache: StreamStateCache<State>;
  /** Per stream, the state once every append in flight has committed, and which pipeline it belongs to. */
  private readonly speculative = new Map<string, FoldedStream<State> & { pipeline: number }>();
  /** Numbers pipelines: a fresh append (decided on stored state) starts a new one. */
  private pipelines = 0;
  private readonly inFlight = new Map<string, { count: number; settled: Promise<void>; settle: () => void }>();
  private readonly loading = new Map<string, Promise<void>>();
  /** Per stream, the commands under way in the order they came (see `execute`). */
  private readonly lanes = new Map<string, Ticket[]>();

  constructor(
    private readonly deps: CommandHandlerDeps,
    private readonly decider: Decider<State, Cmd, Evt>,
    private readonly options: HandleCommandOptions<State, Evt, Cmd> = {},
  ) {
    this.cache = options.cache ?? new StreamStateCache<State>(1);
  }

  /** The cached state of a stream, if this process holds it (does not load). */
  peek(streamId: string): State | undefined {
    return (this.speculative.get(streamId) ?? this.cache.peek(streamId))?.state;
  }

  /**
   * Runs one command. Commands on one stream take turns in the order they came, up to
   * their append: with a pipelining store the next one decides as soon as the ones before
   * it have appended, otherwise once they have finished. When an append is refused, it and
   * every append made behind it are decided and made again in the same order, before any
   * newer command: so a sender's messages keep the order it sent them in, even across
   * conflicts with other processes. `admit` runs first, in the command's turn.
   */
  async execute(streamId: string, command: Cmd, context: CommandContext, admit?: () => Promise<void> | void): Promise<CommandResult<State, Evt>> {
    const lane = this.lanes.get(streamId) ?? [];
    this.lanes.set(streamId, lane);
    const ticket: Ticket = { state: 'waiting', wake: null };
    lane.push(ticket);
    try {
      await this.turn(lane, ticket);
      await admit?.();
      // After admission, so a stranger's command makes no key; a cached key is at hand at once.
      const encode = await this.options.encoderFor?.(command);
      return await this.run(streamId, command, context, lane, ticket, encode);
    } finally {
      lane.splice(lane.indexOf(ticket), 1);
      if (lane.length === 0) this.lanes.delete(streamId);
      else this.wakeNext(lane);
    }
  }

  /** Resolves when every command before `ticket` has appended (pipelining) or finished. */
  private async turn(lane: Ticket[], ticket: Ticket): Promise<void> {
    while (!this.mayGo(lane, ticket)) {
      await new Promise<void>((resolve) => (ticket.wake = resolve));
      ticket.wake = null;
    }
  }

  private mayGo(lane: Ticket[], ticket: Ticket): boolean {
    const pipelined = this.deps.eventStore.pipelinesAppends === true;
    for (const before of lane) {
      if (before === ticket) return true;
      if (!pipelined || before.state !== 'appended') return false;
    }
    return true;
  }

  private wakeNext(lane: Ticket[]): void {
    const next = lane.find((t) => t.state === 'waiting');
    if (next !== undefined && this.mayGo(lane, next)) next.wake?.();
  }

  private async run(
    streamId: string,
    command: Cmd,
    context: CommandContext,
    lane: Ticket[],
    ticket: Ticket,
    encode: EventEncoder<Evt> | undefined,
  ): Promise<CommandResult<State, Evt>> {
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    /** The state last read from the store in this call: a refusal on it is final. */
    let confirmed: FoldedStream<State> | undefined;
    for (let attempt = 1; ; ) {
      await this.turn(lane, ticket);
      if (await this.loaded(streamId)) confirmed = this.cache.peek(streamId);
      // From here to the append nothing awaits: no other command can slip in between.
      const pending = this.speculative.get(streamId);
      const base = pending ?? this.cache.get(streamId);
      if (base === undefined) continue; // dropped from the cache meanwhile: load again
      let newEvents: Evt[];
      try {
        newEvents = this.decider.decide(command, base.state);
      } catch (error) {
        // A refusal must rest on what is stored, not on a cached state another process may have moved past.
        if (base === confirmed) throw error;
        confirmed = await this.confirm(streamId, pending !== undefined);
        continue;
      }
      if (newEvents.length === 0) {
        // Likewise "nothing to do", which must not rest on appends that may yet be refused either.
        if (base === confirmed) {
          return { newEvents, state: base.state, appended: null, repeated: false, checkpoint: base.checkpoint };
        }
        confirmed = await this.confirm(streamId, pending !== undefined);
        continue;
      }
      const toAppend = withMetadata(this.deps, newEvents, base.lastHash, context, this.options.eventIdFor, encode);
      const pipeline = pending?.pipeline ?? ++this.pipelines;
      const after: FoldedStream<State> & { pipeline: number } = {
        state: newEvents.reduce(this.decider.evolve, base.state),
        revision: (base.revision === 'no_stream' ? -1n : base.revision) + BigInt(newEvents.length),
        lastHash: (toAppend.at(-1) as EventToAppend).metadata.hash,
        checkpoint: null,
        snapshotRevision: base.snapshotRevision,
        pipeline,
      };
      const appending = this.deps.eventStore.appendToStream(streamId, toAppend, base.revision, pending !== undefined ? { dependsOnPending: true } : {});
      this.speculative.set(streamId, after);
      this.enterFlight(streamId);
      ticket.state = 'appended';
      this.wakeNext(lane);
      try {
        const appended = await appending;
        if (appended.nextExpectedRevision !== after.revision) {
          // The store holds these ids already (a retried request): nothing was written.
          if (this.speculative.get(streamId)?.pipeline === pipeline) this.speculative.delete(streamId);
          return { newEvents: [], state: base.state, appended, repeated: true, checkpoint: appended.checkpoint };
        }
        after.checkpoint = appended.checkpoint;
        const cached = this.cache.peek(streamId);
        if (cached === undefined || cached.revision === 'no_stream' || cached.revision < after.revision) {
          const { pipeline: _pipeline, ...committed } = after;
          this.cache.set(streamId, committed);
        }
        this.maybeSnapshot(streamId, after);
        this.publish(streamId, toAppend, newEvents, appended, base);
        return { newEvents, state: after.state, appended, repeated: false, checkpoint: appended.checkpoint };
      } catch (error) {
        // Everything appended behind this one is refused by the store as well: all of them
        // go back to waiting, to be decided again in their order. A newer pipeline (started
        // by a command before this one, decided again already) is left alone.
        if (this.speculative.get(streamId)?.pipeline === pipeline) this.speculative.delete(streamId);
        for (let i = lane.indexOf(ticket); i < lane.length; i += 1) (lane[i] as Ticket).state = 'waiting';
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        attempt += 1;
        if (attempt > maxAttempts) throw error;
        if (attempt > 2) await backoff(attempt);
        confirmed = await this.refresh(streamId);
        // Made again on what the refresh read: another process may have destroyed the key it
        // held (a room's retention), and reading that event dropped it from the cache.
        if (encode !== undefined) encode = await this.options.encoderFor?.(command);
      } finally {
        this.leaveFlight(streamId);
      }
    }
  }

  /** The stored state, after the appends in flight (if any) have settled. */
  private async confirm(streamId: string, afterInFlight: boolean): Promise<FoldedStream<State> | undefined> {
    if (afterInFlight) await this.inFlight.get(streamId)?.settled;
    return this.refresh(streamId);
  }

  /** Loads the stream into the cache unless it is there (one load at a time per stream); true when it was read now. */
  private async loaded(streamId: string): Promise<boolean> {
    if (this.speculative.has(streamId) || this.cache.peek(streamId) !== undefined) return false;
    let loading = this.loading.get(streamId);
    if (loading === undefined) {
      loading = loadStream(this.deps, streamId, this.decider, this.options)
        .then((folded) => {
          if (this.cache.peek(streamId) === undefined) this.cache.set(streamId, folded);
        })
        .finally(() => this.loading.delete(streamId));
      this.loading.set(streamId, loading);
    }
    await loading;
    return true;
  }

  /** The events other writers added since the cached revision, folded in; returns the fresh entry. */
  private async refresh(streamId: string): Promise<FoldedStream<State> | undefined> {
    const cached = this.cache.peek(streamId);
    if (cached === undefined) return undefined;
    const fresh = await foldNewer(this.deps, streamId, this.decider, cached);
    const now = this.cache.peek(streamId);
    if (now !== undefined && now !== cached && now.revision !== 'no_stream' && (fresh.revision === 'no_stream' || now.revision >= fresh.revision)) {
      return now; // a newer commit of this process landed meanwhile
    }
    this.cache.set(streamId, fresh);
    return fresh;
  }

  private enterFlight(streamId: string): void {
    const flight = this.inFlight.get(streamId);
    if (flight !== undefined) {
      flight.count += 1;
      return;
    }
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.inFlight.set(streamId, { count: 1, settled, settle });
  }

  private leaveFlight(streamId: string): void {
    const flight = this.inFlight.get(streamId);
    if (flight === undefined) return;
    flight.count -= 1;
    if (flight.count > 0) return;
    this.inFlight.delete(streamId);
    this.speculative.delete(streamId);
    flight.settle();
  }

  private publish(streamId: string, toAppend: EventToAppend[], decided: Evt[], appended: AppendResult, base: FoldedStream<State>): void {
    const only = toAppend.length === 1 ? toAppend[0] : undefined;
    if (only === undefined || this.options.onCommitted === undefined) return;
    // As a read of the store would give it back: the decided data, not the stored (sealed) form.
    const recorded: RecordedEvent = {
      streamId,
      streamRevision: appended.nextExpectedRevision,
      globalPosition: appended.globalPosition,
      checkpoint: appended.checkpoint,
      ...only,
      data: (decided[0] as Evt).data,
    };
    this.options.onCommitted(recorded, { revision: base.revision, checkpoint: base.checkpoint });
  }

  /** Writes a snapshot now and then, off the command's path; a failed write only costs a slower load later. */
  private maybeSnapshot(streamId: string, folded: FoldedStream<State>): void {
    const snapshots = this.options.snapshots;
    if (snapshots === undefined || folded.revision === 'no_stream') return;
    const cached = this.cache.peek(streamId);
    const last = cached?.snapshotRevision ?? folded.snapshotRevision;
    if (folded.revision - last < BigInt(snapshots.every)) return;
    if (cached !== undefined) cached.snapshotRevision = folded.revision;
    snapshots.store
      .save(streamId, { revision: folded.revision, lastHash: folded.lastHash, version: snapshots.version, state: folded.state })
      .catch((error: unknown) => snapshots.onError(error));
  }
}

/** One command through a handler of its own (no state kept between calls): for streams written rarely. */
export function handleCommand<State, Cmd, Evt extends DomainEvent>(
  deps: CommandHandlerDeps,
  streamId: string,
  decider: Decider<State, Cmd, Evt>,
  command: Cmd,
  context: CommandContext,
  options: HandleCommandOptions<State, Evt, Cmd> = {},
): Promise<CommandResult<State, Evt>> {
  return new StreamCommandHandler(deps, decider, options).execute(streamId, command, context);
}

/** A stream's state from its snapshot (when one matches the stream) and the events after it. */
async function loadStream<State, Evt extends DomainEvent>(
  deps: CommandHandlerDeps,
  streamId: string,
  decider: Decider<State, unknown, Evt>,
  options: HandleCommandOptions<State, Evt>,
): Promise<FoldedStream<State>> {
  const empty: FoldedStream<State> = {
    state: decider.initialState(),
    revision: 'no_stream',
    lastHash: NO_PREVIOUS_HASH,
    checkpoint: null,
    snapshotRevision: -1n,
  };
  const snapshots = options.snapshots;
  const snapshot = snapshots === undefined ? null : await snapshots.store.load(streamId).catch((error: unknown) => (snapshots.onError(error), null));
  if (snapshot !== null && snapshot.version === snapshots?.version) {
    // The snapshot's own last event is read again: it must be there, with the same hash.
    const [last] = await deps.eventStore.readStream(streamId, { fromRevision: snapshot.revision, maxCount: 1 });
    if (last !== undefined && last.streamRevision === snapshot.revision && last.metadata.hash === snapshot.lastHash) {
      const from: FoldedStream<State> = {
        state: snapshot.state as State,
        revision: snapshot.revision,
        lastHash: snapshot.lastHash,
        checkpoint: last.checkpoint,
        snapshotRevision: snapshot.revision,
      };
      return foldNewer(deps, streamId, decider, from);
    }
  }
  return foldNewer(deps, streamId, decider, empty);
}

/** Folds the events after `from`'s revision, a page at a time. */
async function foldNewer<State, Evt extends DomainEvent>(
  deps: CommandHandlerDeps,
  streamId: string,
  decider: Decider<State, unknown, Evt>,
  from: FoldedStream<State>,
): Promise<FoldedStream<State>> {
  let folded = from;
  for (;;) {
    const fromRevision = folded.revision === 'no_stream' ? 0n : folded.revision + 1n;
    const page = await deps.eventStore.readStream(streamId, { fromRevision, maxCount: LOAD_PAGE });
    let state = folded.state;
    for (const event of page) state = evolveStored(decider.evolve, state, event);
    const last = page.at(-1);
    if (last !== undefined) {
      folded = { ...folded, state, revision: last.streamRevision, lastHash: last.metadata.hash, checkpoint: last.checkpoint };
    }
    if (page.length < LOAD_PAGE) return folded;
  }
}

function withMetadata<Evt extends DomainEvent>(
  deps: CommandHandlerDeps,
  events: readonly Evt[],
  previousHash: string,
  context: CommandContext,
  eventIdFor: ((event: Evt) => string | undefined) | undefined,
  encode: EventEncoder<Evt> | undefined,
): EventToAppend[] {
  const recordedAt = deps.clock.now().toISOString();
  let prevHash = previousHash;
  return events.map((event) => {
    const base = { ...context, recordedAt, hashVersion: HASH_VERSION };
    const eventId = eventIdFor?.(event) ?? deps.ids.newId();
    const data = encode?.(event) ?? event.data;
    const hash = eventHash(prevHash, { eventId, type: event.type, data, metadata: base });
    const toAppend: EventToAppend = {
      eventId,
      type: event.type,
      data,
      metadata: { ...base, prevHash, hash },
    };
    prevHash = hash;
    return toAppend;
  });
}

/** Jittered, growing pause so racing writers spread out instead of colliding again. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 * attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

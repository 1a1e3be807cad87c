import type { Decider } from '../domain/shared/decider';
import { sealEvents, type SealOptions } from './audit/sealing';
import type { Clock } from './ports/clock';
import {
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type RecordedEvent,
} from './ports/eventStore';
import type { IdGenerator } from './ports/ids';
import { StreamLane, type SpeculativeState, type Ticket } from './streamLane';
import { foldNewer, loadStream, snapshotIfDue, type SnapshotPolicy } from './streamLoading';
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
  snapshots?: SnapshotPolicy;
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
   * How this command's events are stored, when not as decided: made in the command's turn
   * (a promise when it must fetch a key, else at once), applied before the events are
   * hashed, so the hash chain covers what is stored. Reads must give back the decided form
   * (the store the handler is given opens what this seals). Undefined: stored as decided.
   */
  encoderFor?(command: Cmd): EventEncoder<Evt> | undefined | Promise<EventEncoder<Evt> | undefined>;
}

type DomainEvent = { type: string; data: object };

const DEFAULT_MAX_ATTEMPTS = 25;

/**
 * What one decision came to (`StreamCommandHandler.decideAndAppend`): the append made, or
 * why none was.
 */
type Decision<State, Evt> =
  /** The stream left the cache while the command waited: load it again. */
  | { kind: 'unloaded' }
  /** Refused, or "nothing to do", on a state not read from the store in this call: confirm and decide again. */
  | { kind: 'unconfirmed'; afterInFlight: boolean }
  /** Refused on the stored state: final. */
  | { kind: 'refused'; error: unknown }
  /** Nothing to do on the stored state. */
  | { kind: 'done'; result: CommandResult<State, Evt> }
  | {
      kind: 'appending';
      appending: Promise<AppendResult>;
      base: FoldedStream<State>;
      after: SpeculativeState<State>;
      newEvents: Evt[];
      toAppend: EventToAppend[];
    };

/**
 * The write side of one decider: fold the stream (from the cache, else a snapshot and
 * the events after it: streamLoading.ts), decide, seal (metadata and hash chain:
 * audit/sealing.ts) and append at the folded revision. When another writer got there
 * first the store refuses the append and nothing is written; the handler folds the
 * newer events and decides again, so the rules hold whatever the interleaving.
 *
 * Pipelining. Where the store pipelines appends (`EventStore.pipeline`, PostgreSQL's
 * group commit), commands on one stream do not wait for each other's commit: each
 * decides on the state the stream will have once the appends still in flight have
 * committed, and appends right behind them in the same pipeline. If one of those is
 * refused, the store refuses the ones behind it in the pipeline too, and each decides
 * again on what was really stored. So a busy room commits many messages per group
 * commit instead of one. Elsewhere commands on one stream run one at a time.
 *
 * What the handler keeps about a stream while commands on it are under way is one
 * `StreamLane` (streamLane.ts).
 */
export class StreamCommandHandler<State, Cmd, Evt extends DomainEvent> {
  private readonly cache: StreamStateCache<State>;
  private readonly lanes = new Map<string, StreamLane<State>>();

  constructor(
    private readonly deps: CommandHandlerDeps,
    private readonly decider: Decider<State, Cmd, Evt>,
    private readonly options: HandleCommandOptions<State, Evt, Cmd> = {},
  ) {
    this.cache = options.cache ?? new StreamStateCache<State>(1);
  }

  /** The cached state of a stream, if this process holds it (does not load). */
  peek(streamId: string): State | undefined {
    return (this.lanes.get(streamId)?.speculative ?? this.cache.peek(streamId))?.state;
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
    let lane = this.lanes.get(streamId);
    if (lane === undefined) {
      lane = new StreamLane<State>(this.deps.eventStore.pipeline !== undefined);
      this.lanes.set(streamId, lane);
    }
    const ticket = lane.join();
    try {
      await lane.turn(ticket);
      await admit?.();
      // After admission, so a stranger's command makes no key; a cached key is at hand at once (no wait).
      const encoding = this.options.encoderFor?.(command);
      const encode = encoding instanceof Promise ? await encoding : encoding;
      return await this.run(streamId, lane, ticket, command, context, encode);
    } finally {
      lane.leave(ticket);
      if (lane.idle) this.lanes.delete(streamId);
    }
  }

  private async run(
    streamId: string,
    lane: StreamLane<State>,
    ticket: Ticket,
    command: Cmd,
    context: CommandContext,
    encode: EventEncoder<Evt> | undefined,
  ): Promise<CommandResult<State, Evt>> {
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    /** The state last read from the store in this call: a refusal on it is final. */
    let confirmed: FoldedStream<State> | undefined;
    for (let attempt = 1; ; ) {
      await lane.turn(ticket);
      const readNow = await this.loaded(streamId, lane);
      if (readNow !== undefined) confirmed = this.cache.peek(streamId) ?? readNow;
      const decision = this.decideAndAppend(streamId, lane, ticket, command, context, encode, confirmed, readNow);
      switch (decision.kind) {
        case 'unloaded':
          continue;
        case 'refused':
          throw decision.error;
        case 'done':
          return decision.result;
        case 'unconfirmed':
          if (decision.afterInFlight) await lane.settled();
          confirmed = await this.refresh(streamId);
          continue;
        case 'appending':
          break;
      }
      const { appending, base, after, newEvents, toAppend } = decision;
      try {
        const appended = await appending;
        if (appended.nextExpectedRevision !== after.revision) {
          // The store holds these ids already (a retried request): nothing was written.
          if (lane.speculative?.pipeline === after.pipeline) lane.speculative = undefined;
          return { newEvents: [], state: base.state, appended, repeated: true, checkpoint: appended.checkpoint };
        }
        after.checkpoint = appended.checkpoint;
        const cached = this.cache.peek(streamId);
        if (cached === undefined || cached.revision === 'no_stream' || cached.revision < after.revision) {
          const { pipeline: _pipeline, ...committed } = after;
          this.cache.set(streamId, committed);
        }
        snapshotIfDue(this.options.snapshots, this.cache, streamId, after);
        this.publish(streamId, toAppend, newEvents, appended, base);
        return { newEvents, state: after.state, appended, repeated: false, checkpoint: appended.checkpoint };
      } catch (error) {
        // Everything appended behind this one is refused by the store as well: all of them
        // go back to waiting, to be decided again in their order. A newer pipeline (started
        // by a command before this one, decided again already) is left alone.
        if (lane.speculative?.pipeline === after.pipeline) lane.speculative = undefined;
        lane.requeueFrom(ticket);
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        attempt += 1;
        if (attempt > maxAttempts) throw error;
        if (attempt > 2) await backoff(attempt);
        confirmed = await this.refresh(streamId);
        // Made again on what the refresh read: another process may have destroyed the key it
        // held (a room's retention), and reading that event dropped it from the cache.
        if (encode !== undefined) encode = await this.options.encoderFor?.(command);
      } finally {
        lane.leaveFlight();
      }
    }
  }

  /**
   * Decides on the state the stream will have once the appends in flight have committed,
   * seals the events and makes the append. Synchronous on purpose: nothing can await
   * between reading the state and making the append, so no other command on the stream
   * slips in between (the compiler refuses an `await` here).
   */
  private decideAndAppend(
    streamId: string,
    lane: StreamLane<State>,
    ticket: Ticket,
    command: Cmd,
    context: CommandContext,
    encode: EventEncoder<Evt> | undefined,
    confirmed: FoldedStream<State> | undefined,
    readNow: FoldedStream<State> | undefined,
  ): Decision<State, Evt> {
    const pending = lane.speculative;
    // What this command just read, in its turn, is as good as the cache's copy: another
    // stream's load may have pushed it out of a full cache in the meantime.
    const base = pending ?? this.cache.get(streamId) ?? readNow;
    if (base === undefined) return { kind: 'unloaded' };
    let newEvents: Evt[];
    try {
      newEvents = this.decider.decide(command, base.state);
    } catch (error) {
      // A refusal must rest on what is stored, not on a cached state another process may have moved past.
      return base === confirmed ? { kind: 'refused', error } : { kind: 'unconfirmed', afterInFlight: pending !== undefined };
    }
    if (newEvents.length === 0) {
      // Likewise "nothing to do", which must not rest on appends that may yet be refused either.
      return base === confirmed
        ? { kind: 'done', result: { newEvents, state: base.state, appended: null, repeated: false, checkpoint: base.checkpoint } }
        : { kind: 'unconfirmed', afterInFlight: pending !== undefined };
    }
    const seal: SealOptions<Evt> = {};
    if (this.options.eventIdFor !== undefined) seal.eventIdFor = this.options.eventIdFor;
    if (encode !== undefined) seal.encode = encode;
    const toAppend = sealEvents({ hash: base.lastHash }, newEvents, context, this.deps.clock.now().toISOString(), this.deps.ids, seal);
    const store = this.deps.eventStore;
    // A fresh append (decided on stored state) starts a pipeline; one decided on appends in flight joins theirs.
    const pipeline = pending?.pipeline ?? store.pipeline?.(streamId) ?? { streamId };
    const after: SpeculativeState<State> = {
      state: newEvents.reduce(this.decider.evolve, base.state),
      revision: (base.revision === 'no_stream' ? -1n : base.revision) + BigInt(newEvents.length),
      lastHash: (toAppend.at(-1) as EventToAppend).metadata.hash,
      checkpoint: null,
      snapshotRevision: base.snapshotRevision,
      pipeline,
    };
    const appending = store.appendToStream(streamId, toAppend, base.revision, store.pipeline !== undefined ? { pipeline } : {});
    lane.speculative = after;
    lane.enterFlight();
    lane.appended(ticket);
    return { kind: 'appending', appending, base, after, newEvents, toAppend };
  }

  /**
   * Loads the stream into the cache unless it is there (one load at a time per stream).
   * Returns what was read now (undefined when nothing was), which stays valid for this
   * turn even if other loads push it out of the cache before the command decides.
   */
  private async loaded(streamId: string, lane: StreamLane<State>): Promise<FoldedStream<State> | undefined> {
    if (lane.speculative !== undefined || this.cache.peek(streamId) !== undefined) return undefined;
    lane.loading ??= loadStream(this.deps.eventStore, streamId, this.decider, this.options.snapshots)
      .then((folded) => {
        const held = this.cache.peek(streamId);
        if (held !== undefined) return held;
        this.cache.set(streamId, folded);
        return folded;
      })
      .finally(() => (lane.loading = undefined));
    return lane.loading;
  }

  /** The events other writers added since the cached revision, folded in; returns the fresh entry. */
  private async refresh(streamId: string): Promise<FoldedStream<State> | undefined> {
    const cached = this.cache.peek(streamId);
    if (cached === undefined) return undefined;
    const fresh = await foldNewer(this.deps.eventStore, streamId, this.decider, cached);
    const now = this.cache.peek(streamId);
    if (now !== undefined && now !== cached && now.revision !== 'no_stream' && (fresh.revision === 'no_stream' || now.revision >= fresh.revision)) {
      return now; // a newer commit of this process landed meanwhile
    }
    this.cache.set(streamId, fresh);
    return fresh;
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

/** Jittered, growing pause so racing writers spread out instead of colliding again. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 * attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

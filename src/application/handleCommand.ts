import type { Decider } from '../domain/shared/decider';
import { eventHash } from './audit/hashChain';
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
  /** Events this command appended; empty when the decision was "nothing to do". */
  newEvents: Evt[];
  /** The stream's state after the command. */
  state: State;
  /** Where the new events landed; null when nothing was appended. */
  appended: AppendResult | null;
  /**
   * The checkpoint of the stream's latest event after the command (null: empty stream).
   * Wait for the read models to pass it and a read after the command sees its effect.
   */
  checkpoint: string | null;
}

export interface HandleCommandOptions {
  /** How many times to re-read and re-decide after losing an optimistic-concurrency race. */
  maxAttempts?: number;
}

type DomainEvent = { type: string; data: object };

/**
 * Read the stream, fold it, decide, and append with the expected revision. When another
 * writer got there first the store refuses the append and nothing is written; we then
 * decide again on the fresh state, so the rules hold whatever the interleaving.
 */
export async function handleCommand<State, Cmd, Evt extends DomainEvent>(
  deps: CommandHandlerDeps,
  streamId: string,
  decider: Decider<State, Cmd, Evt>,
  command: Cmd,
  context: CommandContext,
  options: HandleCommandOptions = {},
): Promise<CommandResult<State, Evt>> {
  const maxAttempts = options.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt += 1) {
    const recorded = await deps.eventStore.readStream(streamId);
    const state = recorded.reduce((s, e) => decider.evolve(s, toDomainEvent<Evt>(e)), decider.initialState());
    const newEvents = decider.decide(command, state);
    const last = recorded.at(-1);
    if (newEvents.length === 0) return { newEvents, state, appended: null, checkpoint: last?.checkpoint ?? null };

    try {
      const appended = await deps.eventStore.appendToStream(
        streamId,
        withMetadata(deps, newEvents, last, context),
        last === undefined ? 'no_stream' : last.streamRevision,
      );
      return { newEvents, state: newEvents.reduce(decider.evolve, state), appended, checkpoint: appended.checkpoint };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError) || attempt >= maxAttempts) throw error;
      await backoff(attempt);
    }
  }
}

export function toDomainEvent<Evt extends DomainEvent>(recorded: RecordedEvent): Evt {
  return { type: recorded.type, data: recorded.data } as Evt;
}

function withMetadata(
  deps: CommandHandlerDeps,
  events: readonly DomainEvent[],
  previous: RecordedEvent | undefined,
  context: CommandContext,
): EventToAppend[] {
  const recordedAt = deps.clock.now().toISOString();
  let prevHash = previous === undefined ? NO_PREVIOUS_HASH : previous.metadata.hash;
  return events.map((event) => {
    const base = { ...context, recordedAt };
    const hash = eventHash(prevHash, { type: event.type, data: event.data, metadata: base });
    const toAppend: EventToAppend = {
      eventId: deps.ids.newId(),
      type: event.type,
      data: event.data,
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

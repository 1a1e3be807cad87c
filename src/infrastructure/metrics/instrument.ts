import type { BudgetKind, UserBudgets } from '../../application/limits/userBudgets';
import { EventStoreBusyError, WrongExpectedRevisionError, type EventStore } from '../../application/ports/eventStore';
import { DomainError } from '../../domain/shared/decider';
import { secondsSince, type ChatMetrics } from './chatMetrics';
import type { CommandNames } from './commandNames';

/**
 * Measures the store's appends: count, batch size and latency, by outcome. The
 * instance keeps its class and every other method (adapters have methods beyond the
 * port): only its appendToStream is replaced by a measured one. Done here rather than
 * inside each adapter so every adapter is measured alike and stays about storage.
 */
export function measureAppends<S extends EventStore>(store: S, metrics: ChatMetrics, storeName: string): S {
  const append = store.appendToStream.bind(store);
  // Every argument is passed on as given, options included (`pipeline` orders pipelined appends).
  store.appendToStream = async (...args: Parameters<EventStore['appendToStream']>) => {
    const [, events] = args;
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const result = await append(...args);
      outcome = 'ok';
      return result;
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) outcome = 'conflict';
      if (error instanceof EventStoreBusyError) outcome = 'busy';
      throw error;
    } finally {
      const labels = { store: storeName, outcome };
      metrics.appends.inc(labels);
      metrics.appendDuration.observe(labels, secondsSince(started));
      metrics.appendBatchSize.observe({ store: storeName }, events.length);
    }
  };
  return store;
}

/**
 * Counts the events the store's log hands out (`readAll`). Replaced on the instance, so
 * the store's own subscriptions, which call `this.readAll`, are counted too.
 */
export function measureReads<S extends EventStore>(store: S, metrics: ChatMetrics, storeName: string): S {
  const readAll = store.readAll.bind(store);
  store.readAll = async (...args: Parameters<EventStore['readAll']>) => {
    const events = await readAll(...args);
    metrics.eventsRead.inc({ store: storeName }, events.length);
    return events;
  };
  return store;
}

/**
 * The use cases with each call counted and timed, by name and outcome: `ok`, the
 * contract's code of a domain refusal (`room_expired`, `blocked`, …), or `error` for
 * anything unexpected. Every function-valued member is wrapped, under the label `names`
 * gives it (commandNames.ts), never under the method's own name.
 */
export function measuredCommands<T extends object>(commands: T, metrics: ChatMetrics, names: CommandNames<T>): T {
  const measured: Record<string, unknown> = {};
  const labels = names as Readonly<Record<string, string | undefined>>;
  for (const [memberName, member] of Object.entries(commands)) {
    const name = labels[memberName];
    if (typeof member !== 'function' || name === undefined) {
      measured[memberName] = member;
      continue;
    }
    const record = (outcome: string, started: bigint): void => {
      metrics.commands.inc({ command: name, outcome });
      metrics.commandDuration.observe({ command: name, outcome }, secondsSince(started));
    };
    const outcomeOf = (error: unknown): string => (error instanceof DomainError ? error.code : 'error');
    // Same shape as the member: a promise is measured when it settles, a plain value at once.
    measured[memberName] = (...args: unknown[]): unknown => {
      const started = process.hrtime.bigint();
      let result: unknown;
      try {
        result = (member as (...a: unknown[]) => unknown).apply(commands, args);
      } catch (error) {
        record(outcomeOf(error), started);
        throw error;
      }
      if (!(result instanceof Promise)) {
        record('ok', started);
        return result;
      }
      return result.then(
        (value: unknown) => {
          record('ok', started);
          return value;
        },
        (error: unknown) => {
          record(outcomeOf(error), started);
          throw error;
        },
      );
    };
  }
  return measured as T;
}

/**
 * Counts every refusal of a per-user budget, by budget, whichever way the request came
 * (HTTP or WebSocket): the two places a budget can say no, this process's bucket and
 * the one shared in PostgreSQL, are measured on the instance.
 */
export function measureRefusals(budgets: UserBudgets, metrics: ChatMetrics): UserBudgets {
  const here = budgets.tryTakeHere.bind(budgets);
  const shared = budgets.takeShared.bind(budgets);
  budgets.tryTakeHere = (kind: BudgetKind, userId: string): boolean => {
    const taken = here(kind, userId);
    if (!taken) metrics.rateLimited.inc({ budget: kind });
    return taken;
  };
  budgets.takeShared = async (kind: BudgetKind, userId: string): Promise<boolean> => {
    const taken = await shared(kind, userId);
    if (!taken) metrics.rateLimited.inc({ budget: kind });
    return taken;
  };
  return budgets;
}

import type { AppendPipeline } from './ports/eventStore';
import type { FoldedStream } from './streamStateCache';

/** A command's place in its stream's lane. */
export interface Ticket {
  state: 'waiting' | 'appended';
  wake: (() => void) | null;
}

/** A stream's state once every append in flight has committed, and the pipeline those appends belong to. */
export interface SpeculativeState<State> extends FoldedStream<State> {
  pipeline: AppendPipeline;
}

/**
 * Everything the command handler keeps about one stream while commands on it are under
 * way, in one object: the lane (the commands in the order they came), the speculative
 * state, the appends in flight and the load in progress. It lives while its lane holds
 * a command (StreamCommandHandler drops it when the last one leaves): appends in flight
 * and loads are always awaited by a command in the lane.
 */
export class StreamLane<State> {
  private readonly tickets: Ticket[] = [];
  /** The state once every append in flight has committed; undefined when none is in flight. */
  speculative: SpeculativeState<State> | undefined;
  /** The load of the stream under way (one at a time per stream). */
  loading: Promise<FoldedStream<State>> | undefined;
  private flight: { count: number; settled: Promise<void>; settle: () => void } | undefined;

  /** `pipelined`: the store commits appends in order, so a command may go as soon as those before it have appended. */
  constructor(private readonly pipelined: boolean) {}

  /** No command is in the lane. */
  get idle(): boolean {
    return this.tickets.length === 0;
  }

  /** A new command's place, at the back. */
  join(): Ticket {
    const ticket: Ticket = { state: 'waiting', wake: null };
    this.tickets.push(ticket);
    return ticket;
  }

  /** The command has finished: its place goes, and the next one may go if its turn has come. */
  leave(ticket: Ticket): void {
    this.tickets.splice(this.tickets.indexOf(ticket), 1);
    this.wakeNext();
  }

  /** Resolves when every command before `ticket` has appended (pipelining) or finished. */
  async turn(ticket: Ticket): Promise<void> {
    while (!this.mayGo(ticket)) {
      await new Promise<void>((resolve) => (ticket.wake = resolve));
      ticket.wake = null;
    }
  }

  /** The command's append is made: with a pipelining store the next command may decide. */
  appended(ticket: Ticket): void {
    ticket.state = 'appended';
    this.wakeNext();
  }

  /** The append of `ticket` was refused: it and every command behind it wait to decide again, in their order. */
  requeueFrom(ticket: Ticket): void {
    for (let i = this.tickets.indexOf(ticket); i < this.tickets.length; i += 1) (this.tickets[i] as Ticket).state = 'waiting';
  }

  /** An append is in flight. */
  enterFlight(): void {
    if (this.flight !== undefined) {
      this.flight.count += 1;
      return;
    }
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.flight = { count: 1, settled, settle };
  }

  /** An append has answered; when it was the last in flight, the speculative state goes (the cache holds what committed). */
  leaveFlight(): void {
    const flight = this.flight;
    if (flight === undefined) return;
    flight.count -= 1;
    if (flight.count > 0) return;
    this.flight = undefined;
    this.speculative = undefined;
    flight.settle();
  }

  /** Resolves once no append is in flight. */
  async settled(): Promise<void> {
    await this.flight?.settled;
  }

  private mayGo(ticket: Ticket): boolean {
    for (const before of this.tickets) {
      if (before === ticket) return true;
      if (!this.pipelined || before.state !== 'appended') return false;
    }
    return true;
  }

  private wakeNext(): void {
    const next = this.tickets.find((t) => t.state === 'waiting');
    if (next !== undefined && this.mayGo(next)) next.wake?.();
  }
}

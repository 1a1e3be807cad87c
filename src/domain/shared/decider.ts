/**
 * The few types every decider in the domain is made of. Kept here, and tiny,
 * so the domain imports nothing from outside src/domain.
 */
export type Event<Type extends string, Data extends object> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

export type Command<Type extends string, Data extends object> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

export interface Decider<State, Cmd, Evt> {
  initialState(): State;
  evolve(state: State, event: Evt): State;
  decide(command: Cmd, state: State): Evt[];
}

/** A rule of the domain was broken. `code` is the contract's error code for it. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export function fold<State, Evt>(decider: Decider<State, unknown, Evt>, events: readonly Evt[]): State {
  return events.reduce((state, event) => decider.evolve(state, event), decider.initialState());
}

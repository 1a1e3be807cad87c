/**
 * Given / when / then for deciders:
 *
 *   given(roomDecider, [aRoomOpened()]).when(aSendMessage()).then([aMessageSent()]);
 *   given(roomDecider, [aRoomOpened(), aRoomExpired()]).when(aSendMessage()).thenThrows(RoomExpiredError);
 *   given(roomDecider, [aRoomOpened()]).when(anOpenRoom()).thenNothing();
 *
 * The history is folded with the decider's own `evolve`, so a spec also proves that
 * the events it starts from are ones the decider can read back.
 */
import { type Decider, DomainError, fold } from '../../src/domain/shared/decider';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- error constructors take any arguments
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

export interface When<Evt> {
  /** The command is accepted and records exactly these events, in this order. */
  then(expected: readonly Evt[]): void;
  /** The command is accepted and records nothing (a no-op, or a retry answered from history). */
  thenNothing(): void;
  /** The command is refused with this error (and, if given, these fields on it, e.g. `{ field: 'body' }`). */
  thenThrows<E extends Error>(errorClass: ErrorClass<E>, fields?: Partial<E>): E;
}

export interface Given<Cmd, Evt> {
  when(command: Cmd): When<Evt>;
}

export function given<State, Cmd, Evt>(decider: Decider<State, Cmd, Evt>, history: readonly Evt[] = []): Given<Cmd, Evt> {
  return {
    when(command) {
      const decide = (): Evt[] => decider.decide(command, fold(decider, history));
      return {
        then(expected) {
          const decided = decide();
          expect(decided).toEqual(expected);
          // What was decided must fold too: an event evolve cannot apply is a bug on its own.
          expect(() => fold(decider, [...history, ...decided])).not.toThrow();
        },
        thenNothing() {
          expect(decide()).toEqual([]);
        },
        thenThrows<E extends Error>(errorClass: ErrorClass<E>, fields?: Partial<E>): E {
          let thrown: unknown;
          let decided: Evt[] | undefined;
          try {
            decided = decide();
          } catch (error) {
            thrown = error;
          }
          if (decided !== undefined) {
            throw new Error(`expected ${errorClass.name} to be thrown, but the command was accepted with ${JSON.stringify(decided)}`);
          }
          expect(thrown).toBeInstanceOf(errorClass);
          // Every refusal is a DomainError, so the interfaces can map its code to the contract's error body.
          expect(thrown).toBeInstanceOf(DomainError);
          if (fields !== undefined) expect(thrown).toMatchObject(fields);
          return thrown as E;
        },
      };
    },
  };
}

import 'reflect-metadata';
import { Container } from 'inversify';

/**
 * A factory for each member of `T`, given the whole graph: dependencies are read by name
 * (`services.eventStore`), so the compiler checks each one's type, and nothing lines up
 * by position.
 */
export type Factories<T> = { readonly [K in keyof T]-?: (services: T) => T[K] };

/**
 * The object graph of `factories`, held in an inversify container: each member is bound
 * by its name as a singleton, built on first read, its own dependencies first. The
 * container gives singleton scope and one place to resolve from; the typed factories keep
 * what inversify's positional `toResolvedValue` lists could not: a dependency of the wrong
 * type does not compile. A member that needs itself, directly or not, throws naming the
 * members on the cycle rather than overflowing the stack.
 */
export function objectGraph<T extends object>(factories: Factories<T>): T {
  const container = new Container({ defaultScope: 'Singleton' });
  const graph = {} as T;
  const building: string[] = [];
  for (const key of Object.keys(factories) as (keyof T & string)[]) {
    container.bind<T[typeof key]>(key).toDynamicValue(() => {
      if (building.includes(key)) throw new Error(`the wiring has a cycle: ${[...building, key].join(' -> ')}`);
      building.push(key);
      try {
        return factories[key](graph);
      } finally {
        building.pop();
      }
    });
    Object.defineProperty(graph, key, { enumerable: true, get: () => container.get<T[typeof key]>(key) });
  }
  return graph;
}

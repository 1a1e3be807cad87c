/**
 * A factory for each member of `T`, given the whole graph: dependencies are read by name
 * (`services.eventStore`), so the compiler checks each one's type, and nothing lines up
 * by position.
 */
export type Factories<T> = { readonly [K in keyof T]-?: (services: T) => T[K] };

/**
 * The object graph of `factories`: each member built on first read, once (singletons),
 * its own dependencies first. A member that needs itself, directly or not, throws naming
 * the members on the cycle rather than overflowing the stack.
 */
export function objectGraph<T extends object>(factories: Factories<T>): T {
  const graph = {} as T;
  const building: string[] = [];
  for (const key of Object.keys(factories) as (keyof T & string)[]) {
    let built = false;
    let value: T[typeof key] | undefined;
    Object.defineProperty(graph, key, {
      enumerable: true,
      get: () => {
        if (built) return value;
        if (building.includes(key)) throw new Error(`the wiring has a cycle: ${[...building, key].join(' -> ')}`);
        building.push(key);
        try {
          value = factories[key](graph);
          built = true;
        } finally {
          building.pop();
        }
        return value;
      },
    });
  }
  return graph;
}

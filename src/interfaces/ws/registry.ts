import type { Connection } from './connection';

const none: ReadonlySet<Connection> = new Set();

/** This process's open connections, by user: one user may have several (devices, tabs). */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<Connection>>();
  private count = 0;

  add(connection: Connection): void {
    let set = this.byUser.get(connection.userId);
    if (set === undefined) {
      set = new Set();
      this.byUser.set(connection.userId, set);
    }
    if (!set.has(connection)) this.count += 1;
    set.add(connection);
  }

  remove(connection: Connection): void {
    const set = this.byUser.get(connection.userId);
    if (set === undefined || !set.delete(connection)) return;
    this.count -= 1;
    if (set.size === 0) this.byUser.delete(connection.userId);
  }

  of(userId: string): ReadonlySet<Connection> {
    return this.byUser.get(userId) ?? none;
  }

  hasUser(userId: string): boolean {
    return this.byUser.has(userId);
  }

  *all(): IterableIterator<Connection> {
    for (const set of this.byUser.values()) yield* set;
  }

  get size(): number {
    return this.count;
  }
}

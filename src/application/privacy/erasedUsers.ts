import { DomainError } from '../../domain/shared/decider';

/** An erased user tried to write (a process that had not heard of the erasure yet let them get this far). */
export class SenderErasedError extends DomainError {
  constructor(userId: string) {
    super('unauthorized', `the account ${userId} was erased`);
  }
}

/**
 * The users whose data this process knows to be erased (or being erased): their
 * messages read as erased whatever key is cached, their tokens are refused, and no data
 * key is made for them again. Filled at start from the erasures table and kept current
 * from the events every process follows (docs/privacy.md); user ids are never reused.
 */
export class ErasedUsers {
  private readonly users = new Set<string>();
  private readonly listeners = new Set<(userId: string) => void>();

  has(userId: string): boolean {
    return this.users.has(userId);
  }

  /** Marks a user erased; listeners hear of each user once. */
  add(userId: string): void {
    if (this.users.has(userId)) return;
    this.users.add(userId);
    for (const listener of this.listeners) listener(userId);
  }

  /** Called once for every user added from now on; returns the function that stops it. */
  onAdded(listener: (userId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

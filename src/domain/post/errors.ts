import { DomainError } from '../shared/decider';

/** A post the marketplace has not registered (yet): no room can be opened on it. */
export class PostNotFoundError extends DomainError {
  constructor(postId: string) {
    super('not_found', `post ${postId} not found`);
  }
}

import { DomainError } from '../shared/decider';

export class OwnPostError extends DomainError {
  constructor() {
    super('own_post', 'you cannot open a chat on your own post');
  }
}

/** Unknown room, or a room the actor is not part of: the two are indistinguishable on purpose. */
export class RoomNotFoundError extends DomainError {
  constructor(roomId: string) {
    super('not_found', `room ${roomId} not found`);
  }
}

export class RoomExpiredError extends DomainError {
  constructor(roomId: string) {
    super('room_expired', `room ${roomId} has expired; open it again to continue`);
  }
}

export class BlockedError extends DomainError {
  constructor() {
    super('blocked', 'the other participant has blocked you in this room');
  }
}

/** A command value the domain refuses; `field` names the offending field. */
export class InvalidCommandError extends DomainError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('bad_request', `${field}: ${message}`);
  }
}

/** A report names a message the reporter did not receive (their own, or the marketplace's notice). */
export class NotReportableError extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

export class MessageNotFoundError extends DomainError {
  constructor(roomId: string, seq: number) {
    super('not_found', `message ${seq} of room ${roomId} not found`);
  }
}

export class ReportNotFoundError extends DomainError {
  constructor(reportId: string) {
    super('not_found', `report ${reportId} not found`);
  }
}

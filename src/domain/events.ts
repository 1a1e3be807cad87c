import type { AuditEvent } from './audit';
import type { PostEvent } from './post';
import type { RoomEvent } from './room/events';
import type { UserEvent } from './user';
import type { AggregateStreamKind } from './streams';

/**
 * The event registry: every event the service records, keyed by its type. Each record
 * below is keyed by its family's event union, so a new member of a union that is not
 * registered here does not compile, and neither does a registered name that is not in
 * the union. Every consumer of stored events (the projection, the live fan-out, the
 * webhook feeder, the audit tools) decodes them with `decodeEvent` below and switches
 * exhaustively over the result, so a new event is handled by each of them or the build
 * names the one that is missing. docs/architecture.md, "How to add an event".
 */

/** Every event this version knows. */
export type DomainEvent = RoomEvent | PostEvent | UserEvent | AuditEvent;
export type DomainEventType = DomainEvent['type'];

/** The stream family an event lives in: a room's, a post's, a user's, or the audit trail's. */
export type EventFamily = AggregateStreamKind | 'audit';

export interface EventSpec<Family extends EventFamily, Evt extends DomainEvent> {
  family: Family;
  /**
   * Turns the data as stored by an older version into this version's shape (a field
   * added later gets its default). Absent: stored data already has the current shape.
   */
  upcast?(stored: Readonly<Record<string, unknown>>): Evt['data'];
}

export type EventSpecs<Family extends EventFamily, Evt extends DomainEvent> = {
  readonly [Type in Evt['type']]: EventSpec<Family, Extract<Evt, { type: Type }>>;
};

type RoomEventType = RoomEvent['type'];

export const roomEventSpecs: EventSpecs<'room', RoomEvent> = {
  RoomOpened: { family: 'room' },
  MessageSent: { family: 'room' },
  MessagesRead: { family: 'room' },
  RoomBlocked: { family: 'room' },
  RoomUnblocked: { family: 'room' },
  RoomExpired: { family: 'room' },
  RoomReopened: { family: 'room' },
  MessageReported: { family: 'room' },
  ReportResolved: { family: 'room' },
  MessageHidden: { family: 'room' },
  RoomRetentionElapsed: { family: 'room' },
};

export const postEventSpecs: EventSpecs<'post', PostEvent> = {
  PostUpserted: { family: 'post' },
};

export const userEventSpecs: EventSpecs<'user', UserEvent> = {
  UserSuspended: { family: 'user' },
  UserReinstated: { family: 'user' },
  UserErasureRequested: { family: 'user' },
  UserErased: { family: 'user' },
};

export function isUserEventType(type: string): type is UserEvent['type'] {
  return Object.hasOwn(userEventSpecs, type);
}

export const auditEventSpecs: EventSpecs<'audit', AuditEvent> = {
  AuditAccessed: { family: 'audit' },
  AuditAnchored: { family: 'audit' },
};

export const eventRegistry: { readonly [Type in DomainEventType]: EventSpec<EventFamily, Extract<DomainEvent, { type: Type }>> } = {
  ...roomEventSpecs,
  ...postEventSpecs,
  ...userEventSpecs,
  ...auditEventSpecs,
};

/** A stored record as far as decoding needs it (the event store's `RecordedEvent` is one). */
export interface StoredEvent {
  type: string;
  data: unknown;
}

export function isDomainEventType(type: string): type is DomainEventType {
  return Object.hasOwn(eventRegistry, type);
}

export function isRoomEventType(type: string): type is RoomEventType {
  return Object.hasOwn(roomEventSpecs, type);
}

/**
 * The one decoder from a stored record to a domain event. Null for a type this version
 * does not know (written by a newer one): every consumer skips it and goes on.
 */
export function decodeEvent(stored: StoredEvent): DomainEvent | null {
  if (!isDomainEventType(stored.type)) return null;
  const spec: EventSpec<EventFamily, DomainEvent> = eventRegistry[stored.type];
  const data = spec.upcast === undefined ? stored.data : spec.upcast(stored.data as Record<string, unknown>);
  // The one cast from stored JSON to the domain's types: the store holds only what this service appended.
  return { type: stored.type, data } as DomainEvent;
}

/** A stored record decoded when it is a room's event, else null. */
export function decodeRoomEvent(stored: StoredEvent): RoomEvent | null {
  return isRoomEventType(stored.type) ? (decodeEvent(stored) as RoomEvent) : null;
}

/**
 * One stored event folded into a decider's state, for code generic over the decider (the
 * command handler), whose `Evt` is the decider's own union. A registered type is decoded
 * (upcast included); any other is handed over as stored, and the decider's `evolve`
 * passes over a type it does not know (its exhaustive switch's default).
 */
export function evolveStored<State, Evt>(evolve: (state: State, event: Evt) => State, state: State, stored: StoredEvent): State {
  const event = decodeEvent(stored) ?? { type: stored.type, data: stored.data };
  return evolve(state, event as unknown as Evt);
}

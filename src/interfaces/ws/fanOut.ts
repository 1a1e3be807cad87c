import type { RecordedEvent } from '../../application/ports/eventStore';
import type { Logger } from '../../application/ports/logger';
import type { ChatQueries, ProjectionProgress } from '../../application/ports/readModels';
import { blocks, type RoomAccess, type RoomDirectory } from '../../application/ports/roomDirectory';
import { decodeEvent, decodeRoomEvent } from '../../domain/events';
import { defaultMessageViewOptions, toMessageView, type Message, type MessageViewOptions, type RoomEvent } from '../../domain/room';
import { parseStreamName } from '../../domain/streams';
import type { Connection } from './connection';
import type { ConnectionRegistry } from './registry';

/** Participants never change once a room is opened, so they are cached (up to this many rooms). */
const PARTICIPANT_CACHE_SIZE = 50_000;
const LOOKUP_ATTEMPTS = 4;
/**
 * Events waiting for the projection before the fan-out gives up on them: past this the
 * read models are far behind, and the connections the event was for are closed (1011)
 * so their clients reconnect and resume, instead of this queue growing without bound.
 */
const MAX_QUEUED_EVENTS = 10_000;

/**
 * Turns the live feed into frames for this process's connections. Events are handled
 * in the order the feed hands them over (each room's in revision order), so every
 * connection sees a room's events in the order they were recorded. Each room event
 * goes to every connection of both participants: MessageSent as `message` (or `ack` to
 * the connection that sent it), MessagesRead as `read`, the others as `room` with that
 * user's own view.
 *
 * A message of a room whose participants are known goes out at once. Everything else
 * reads the read models (a room view, the blocks, the participants of a room this
 * process has not seen), so it first waits for the projection to hold the event, in a
 * queue that keeps the order: messages behind such an event wait their turn.
 */
export class LiveFanOut {
  private readonly participants = new Map<string, readonly [string, string]>();
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private stopped = false;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly directory: RoomDirectory,
    private readonly queries: ChatQueries,
    private readonly progress: ProjectionProgress,
    private readonly logger: Logger,
    private readonly messageView: MessageViewOptions = defaultMessageViewOptions,
  ) {}

  /** The live feed's listener: returns at once, the event is handled after the ones before it. */
  readonly onEvent = (recorded: RecordedEvent): void => {
    const stream = parseStreamName(recorded.streamId);
    if (stream?.kind === 'user') {
      this.onUserEvent(recorded);
      return;
    }
    const event = stream?.kind === 'room' ? decodeRoomEvent(recorded) : null;
    if (event === null) return;
    if (this.queued === 0 && event.type === 'MessageSent') {
      const users = this.participants.get(event.data.roomId);
      if (users !== undefined) {
        this.deliverMessage(users, event.data);
        return;
      }
    }
    if (this.queued >= MAX_QUEUED_EVENTS) {
      const users = this.participants.get(event.data.roomId);
      this.logger.error({ roomId: event.data.roomId, queued: this.queued }, 'live fan-out is too far behind the projection; closing the connections that miss the event');
      const affected = users === undefined ? [...this.registry.all()] : users.flatMap((u) => [...this.registry.of(u)]);
      for (const connection of affected) connection.fail(new Error('live fan-out overloaded'));
      return;
    }
    this.queued += 1;
    this.queue = this.queue
      .then(() => this.handle(recorded.checkpoint, event))
      .catch((error: unknown) => this.logger.error({ err: error }, 'live fan-out failed'))
      .finally(() => {
        this.queued -= 1;
      });
  };

  /**
   * A suspension goes to the user's connections here as `suspended`, once the read
   * models hold it (from then on their writes are refused, in every process).
   */
  private onUserEvent(recorded: RecordedEvent): void {
    const event = decodeEvent(recorded);
    if (event?.type === 'UserErasureRequested') {
      this.onErasure(recorded.checkpoint, event.data.userId);
      return;
    }
    if (event?.type !== 'UserSuspended' || !this.registry.hasUser(event.data.userId)) return;
    const { userId, until } = event.data;
    this.queued += 1;
    this.queue = this.queue
      .then(() => this.projected(recorded.checkpoint))
      .then(() => {
        for (const connection of this.registry.of(userId)) connection.send({ type: 'suspended', until });
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'live fan-out failed'))
      .finally(() => {
        this.queued -= 1;
      });
  }

  /**
   * An erasure goes to the other participant of each of the user's rooms as `erased`,
   * once the read models hold it (the history then reads the user's messages erased).
   * The user's own connections are closed by the gateway (4003).
   */
  private onErasure(checkpoint: string, userId: string): void {
    const roomsOf = this.directory.roomsOf?.bind(this.directory);
    if (roomsOf === undefined) return;
    this.queued += 1;
    this.queue = this.queue
      .then(() => this.projected(checkpoint))
      .then(async () => {
        const rooms = await this.withRetries(() => roomsOf(userId), userId, []);
        for (const room of rooms ?? []) {
          const other = room.lenderId === userId ? room.borrowerId : room.lenderId;
          for (const connection of this.registry.of(other)) connection.send({ type: 'erased', roomId: room.roomId, userId });
        }
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'live fan-out failed'))
      .finally(() => {
        this.queued -= 1;
      });
  }

  /** Resolves once every event handed over so far has been handled. */
  drained(): Promise<void> {
    return this.queue;
  }

  /** No more waiting for the projection: the process is closing. */
  stop(): void {
    this.stopped = true;
  }

  private deliverMessage(users: readonly string[], message: Message): void {
    const view = toMessageView(message, this.messageView);
    for (const user of users) for (const connection of this.registry.of(user)) connection.deliverMessage(view);
  }

  /** Waits as long as it takes: reading the read models before they hold the event would give a stale view. */
  private async projected(checkpoint: string): Promise<void> {
    while (!this.stopped && !(await this.progress.waitFor(checkpoint, 5000))) {
      this.logger.warn({ checkpoint }, 'live fan-out waiting for the projection to catch up');
    }
  }

  private async handle(checkpoint: string, event: RoomEvent): Promise<void> {
    const roomId = event.data.roomId;
    if (event.type === 'RoomOpened') this.remember(roomId, [event.data.lenderId, event.data.borrowerId]);
    if (event.type !== 'MessageSent' || !this.participants.has(roomId)) await this.projected(checkpoint);
    let access: RoomAccess | null = null;
    let users = this.participants.get(roomId);
    // Reads need the blocks as they are now; everything else only needs who takes part.
    if (users === undefined || event.type === 'MessagesRead') {
      const found = await this.withRetries(() => this.directory.access(roomId), roomId, users);
      if (found === undefined) return;
      access = found;
      if (access === null) {
        this.logger.warn({ roomId, type: event.type }, 'live fan-out: room not in the read model; event not delivered');
        return;
      }
      users = [access.lenderId, access.borrowerId] as const;
      this.remember(roomId, users);
    }
    const local = users.filter((u) => this.registry.hasUser(u));
    if (local.length === 0) return;

    switch (event.type) {
      case 'MessageSent':
        this.deliverMessage(local, event.data);
        return;
      case 'MessagesRead': {
        const { userId, upToSeq } = event.data;
        for (const user of local) {
          if (user !== userId && access !== null && blocks(access, user, userId)) continue;
          for (const connection of this.registry.of(user)) connection.send({ type: 'read', roomId, userId, upToSeq });
        }
        return;
      }
      case 'MessageHidden':
        for (const user of local) {
          for (const connection of this.registry.of(user)) connection.send({ type: 'message_hidden', roomId, seq: event.data.seq });
        }
        return;
      // Reports and their resolutions are the moderators' business: no frame. A room past
      // its retention has been quiet for that long: its clients see the messages erased on
      // their next read (docs/privacy.md, Retention).
      case 'MessageReported':
      case 'ReportResolved':
      case 'RoomRetentionElapsed':
        return;
      case 'RoomOpened':
      case 'RoomReopened':
      case 'RoomExpired':
      case 'RoomBlocked':
      case 'RoomUnblocked': {
        for (const user of local) {
          const view = await this.withRetries(() => this.queries.getRoom(roomId, user), roomId, [user]);
          if (view === undefined || view === null) continue;
          for (const connection of this.registry.of(user)) connection.send({ type: 'room', room: view });
        }
        return;
      }
      default: {
        const exhaustive: never = event;
        return exhaustive;
      }
    }
  }

  private remember(roomId: string, users: readonly [string, string]): void {
    if (this.participants.has(roomId)) return;
    if (this.participants.size >= PARTICIPANT_CACHE_SIZE) {
      const oldest = this.participants.keys().next().value;
      if (oldest !== undefined) this.participants.delete(oldest);
    }
    this.participants.set(roomId, users);
  }

  /**
   * A lookup that keeps failing leaves some connections without an event they were owed:
   * they are closed with 1011 (all of them when we cannot tell whose), so they
   * reconnect and resume. Resolves to undefined in that case.
   */
  private async withRetries<T>(lookup: () => Promise<T>, roomId: string, users: readonly string[] | undefined): Promise<T | undefined> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= LOOKUP_ATTEMPTS; attempt += 1) {
      try {
        return await lookup();
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
    this.logger.error({ err: lastError, roomId }, 'live fan-out lookup failed; closing the connections that missed the event');
    const affected: Iterable<Connection> =
      users === undefined ? [...this.registry.all()] : users.flatMap((u) => [...this.registry.of(u)]);
    for (const connection of affected) connection.fail(lastError);
    return undefined;
  }
}

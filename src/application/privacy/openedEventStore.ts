import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionStart,
} from '../ports/eventStore';
import type { DataKey, DataKeys } from './dataKeys';
import type { ErasedUsers } from './erasedUsers';
import { erasedMessage, keyIdsOf, openMessage, sealedMessageOf } from './roomEventSealing';

/** The event that starts a user's erasure: every process that reads it stops trusting that user's keys. */
export const USER_ERASURE_REQUESTED = 'UserErasureRequested';

/** A room's retention ran out: every process that reads it drops that room's keys from its cache. */
export const ROOM_RETENTION_ELAPSED = 'RoomRetentionElapsed';

/**
 * Opens what the store holds sealed: each `MessageSent` comes back with its body in the
 * clear, or erased (body "", `erased: true`) when its data key is destroyed or its sender
 * erased. A batch needs at most one query for its keys (DataKeys caches them). Events
 * written before bodies were sealed come back as they are, erased too once their sender is.
 * Hashes and metadata are left as stored: they cover the sealed form.
 */
export class EventOpener {
  constructor(
    private readonly keys: DataKeys,
    private readonly erased: ErasedUsers,
  ) {}

  async open(events: RecordedEvent[]): Promise<RecordedEvent[]> {
    const keyIds = keyIdsOf(events);
    return this.openWith(events, keyIds.size === 0 ? null : (this.keys.keysAtHand(keyIds) ?? (await this.keys.keysById(keyIds))));
  }

  async openOne(event: RecordedEvent): Promise<RecordedEvent> {
    return (await this.open([event]))[0] as RecordedEvent;
  }

  /**
   * The event opened at once when every key it needs is cached (the usual case: the live
   * feed reads back what was just written), else undefined: then `openOne` asks the store.
   * The same result as `openOne`, without a wait per event.
   */
  openAtHand(event: RecordedEvent): RecordedEvent | undefined {
    const keyIds = keyIdsOf([event]);
    const keys = keyIds.size === 0 ? null : this.keys.keysAtHand(keyIds);
    return keys === undefined ? undefined : (this.openWith([event], keys)[0] as RecordedEvent);
  }

  private openWith(events: RecordedEvent[], keys: Map<string, DataKey> | null): RecordedEvent[] {
    return events.map((event) => {
      if (event.type === USER_ERASURE_REQUESTED) this.noteErasure(event);
      if (event.type === ROOM_RETENTION_ELAPSED) this.noteRetention(event);
      if (event.type !== 'MessageSent') return event;
      const sealed = sealedMessageOf(event);
      const senderId = (event.data as { senderId?: unknown }).senderId;
      if (typeof senderId === 'string' && this.erased.has(senderId)) {
        return { ...event, data: sealed !== null ? openMessage(sealed, undefined) : erasedMessage(event.data as never) };
      }
      if (sealed === null) return event;
      const key = keys?.get(sealed.sealedBody.keyId);
      return { ...event, data: openMessage(sealed, key, key === undefined ? undefined : this.keys.sealedBodyOf(sealed.sealedBody, sealed.messageId)) };
    });
  }

  /** The room's keys are (being) destroyed: a new message there gets a new key, never a cached old one. */
  private noteRetention(event: RecordedEvent): void {
    const roomId = (event.data as { roomId?: unknown }).roomId;
    if (typeof roomId === 'string') this.keys.forgetRoom(roomId);
  }

  private noteErasure(event: RecordedEvent): void {
    const userId = (event.data as { userId?: unknown }).userId;
    if (typeof userId !== 'string' || this.erased.has(userId)) return;
    this.erased.add(userId);
    this.keys.forgetSender(userId);
  }
}

/**
 * The event store as the application reads it: appends pass through (the command handler
 * seals before it hashes), reads come back opened. Audit reads use the store itself, to
 * show and verify what is stored.
 */
export class OpenedEventStore implements EventStore {
  readonly pipeline?: EventStore['pipeline'];
  readonly onAppended?: EventStore['onAppended'];

  constructor(
    private readonly inner: EventStore,
    private readonly opener: EventOpener,
  ) {
    if (inner.pipeline !== undefined) this.pipeline = (streamId) => (inner.pipeline as NonNullable<EventStore['pipeline']>).call(inner, streamId);
    if (inner.onAppended !== undefined) this.onAppended = (wake) => (inner.onAppended as NonNullable<EventStore['onAppended']>).call(inner, wake);
  }

  appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision, options?: AppendOptions): Promise<AppendResult> {
    return this.inner.appendToStream(streamId, events, expectedRevision, options);
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.opener.open(await this.inner.readStream(streamId, options));
  }

  async readAll(after: string | null, maxCount: number): Promise<RecordedEvent[]> {
    return this.opener.open(await this.inner.readAll(after, maxCount));
  }

  subscribeToAll(start: SubscriptionStart, options: SubscribeOptions): Subscription {
    return this.inner.subscribeToAll(start, {
      ...options,
      // Opened at once when its key is at hand: no wait per event for the feed's follower.
      onEvent: (event) => {
        try {
          const opened = this.opener.openAtHand(event);
          return opened !== undefined ? options.onEvent(opened) : this.opener.openOne(event).then(options.onEvent);
        } catch (error) {
          return Promise.reject(error);
        }
      },
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

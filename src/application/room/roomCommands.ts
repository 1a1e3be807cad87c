import { decodeRoomEvent } from '../../domain/events';
import { PostNotFoundError } from '../../domain/post';
import { DomainError } from '../../domain/shared/decider';
import type { AttachmentClaims } from '../ports/attachments';
import {
  isParticipant,
  recentMessage,
  RoomNotFoundError,
  roomDecider,
  roomStreamName,
  type ExistingRoom,
  defaultMessageViewOptions,
  lastActivityOf,
  toMessageView,
  InvalidCommandError,
  type MessageAttachment,
  type Message,
  type MessageView,
  type MessageViewOptions,
  type RoomCommand,
  type RoomEvent,
  type RoomState,
  type ReportReason,
  type ResolutionAction,
  reportOf,
  SYSTEM_SENDER,
} from '../../domain/room';
import type { ModerationQueries } from '../ports/moderation';
import type { Suspensions } from '../ports/suspensions';
import { SuspendedError } from '../../domain/user';
import { StreamCommandHandler, type CommandHandlerDeps, type CommandResult } from '../handleCommand';
import type { PrecedingEvent } from '../live/liveFeed';
import { makePostCommands } from '../post/postCommands';
import type { RecordedEvent } from '../ports/eventStore';
import type { RoomDirectory } from '../ports/roomDirectory';
import type { SnapshotStore } from '../ports/snapshots';
import { StreamStateCache } from '../streamStateCache';
import type { DataKey, DataKeys } from '../privacy/dataKeys';
import { SenderErasedError, type ErasedUsers } from '../privacy/erasedUsers';
import { sealMessage } from '../privacy/roomEventSealing';
import { sealedRoomSnapshots } from '../privacy/sealedRoomSnapshots';
import { roomIdFor } from './roomId';
import { sentMessageEventId } from './sentMessageEventId';

/** Who is acting and which request it belongs to; every event records both. */
export interface Actor {
  userId: string;
  correlationId: string;
}

export interface OpenRoomResult {
  room: ExistingRoom;
  /** True when this call opened or reopened the room (HTTP 201), false when it was already open (200). */
  opened: boolean;
  checkpoint: string | null;
}

export interface SendMessageResult {
  message: MessageView;
  /** False when this was a retry of a message already sent: the original comes back. */
  created: boolean;
  checkpoint: string | null;
}

export interface ChangeResult {
  /** False when the command changed nothing (already read, already blocked, ...). */
  changed: boolean;
  room: ExistingRoom;
  checkpoint: string | null;
}

export interface ExpireResult {
  expired: boolean;
  checkpoint: string | null;
}

export interface RetentionResult {
  /** True when this call recorded RoomRetentionElapsed. */
  elapsed: boolean;
  /**
   * True when, on the stream as it now stands, every message of the room is covered by a
   * RoomRetentionElapsed and the room has been quiet for the retention: its data keys may go.
   */
  erasable: boolean;
  checkpoint: string | null;
}

export type RoomCommands = ReturnType<typeof makeRoomCommands>;

export interface RoomCommandDeps extends CommandHandlerDeps {
  /** The read model's room directory: strangers are refused from it before any stream is loaded. */
  directory?: RoomDirectory;
  /** Room snapshots, so a process new to a long room loads it in two reads. */
  snapshots?: { store: SnapshotStore; onError(error: unknown): void };
  /** How many rooms' folded state this process keeps (default 10,000). */
  roomStateCacheSize?: number;
  /** Each room event this process commits, at once: the local path of live delivery. */
  onCommitted?(event: RecordedEvent, preceding: PrecedingEvent): void;
  /**
   * Crypto-shredding (docs/privacy.md): message bodies are stored sealed under the data
   * key of (room, sender), and so are the snapshots' recent messages. The event store
   * given must then open what is sealed (OpenedEventStore). Absent: stored as decided
   * (some tests of other concerns); the server always passes it.
   */
  privacy?: { keys: DataKeys; erased: ErasedUsers };
  /** How messages are shown (SAFETY_HINTS); default: hints on. */
  messageView?: MessageViewOptions;
  /** The photos a send takes; absent: a send with attachments is refused. */
  attachments?: AttachmentClaims;
  /** Where a reported message's sender is looked up (the room's state keeps only its latest messages). */
  moderation?: Pick<ModerationQueries, 'messageFacts'>;
  /** Who is suspended: their writes (send, open, reopen, report) are refused. Absent: nobody. */
  suspensions?: Suspensions;
}

export interface ReportResult {
  reportId: string;
  /** False when the reporter had already reported this message: the same report comes back. */
  created: boolean;
  checkpoint: string | null;
}

/** A snapshot every this many events of a room. */
const SNAPSHOT_EVERY = 100;
/** The shape of RoomState in snapshots; change it whenever RoomState changes. */
const ROOM_STATE_VERSION = 'room-state/4';

/** The room use cases: each is one command through the generic handler. */
export function makeRoomCommands(deps: RoomCommandDeps) {
  const privacy = deps.privacy;
  const snapshotStore =
    deps.snapshots === undefined || privacy === undefined ? deps.snapshots?.store : sealedRoomSnapshots(deps.snapshots.store, privacy.keys, privacy.erased);
  const messageView = deps.messageView ?? defaultMessageViewOptions;
  const snapshots =
    deps.snapshots === undefined || snapshotStore === undefined
      ? undefined
      : { ...deps.snapshots, store: snapshotStore, every: SNAPSHOT_EVERY, version: ROOM_STATE_VERSION };
  const rooms = new StreamCommandHandler<RoomState, RoomCommand, RoomEvent>(deps, roomDecider, {
    ...(privacy !== undefined
      ? {
          // A message's body is sealed under its sender's key in the room (the marketplace's
          // notices under "system"'s) before it is hashed and stored.
          encoderFor: (command: RoomCommand) => {
            const sender = command.type === 'SendMessage' ? command.data.senderId : command.type === 'PostNotice' ? SYSTEM_SENDER : null;
            if (sender === null) return undefined;
            if (privacy.erased.has(sender)) throw new SenderErasedError(sender);
            const sealingWith = (key: DataKey) => (event: RoomEvent) => {
              if (event.type !== 'MessageSent') return event.data;
              const stored = sealMessage(event.data, key);
              // Reading it back in this process (live feed, projection, feeder) then needs no decryption.
              privacy.keys.noteSealed(stored.sealedBody, event.data.messageId, key, event.data.body);
              return stored;
            };
            // A cached key seals without a wait; only a key to find or make is waited for.
            const key = privacy.keys.keyAtHand(command.data.roomId, sender);
            return key !== undefined ? sealingWith(key) : privacy.keys.keyFor(command.data.roomId, sender).then(sealingWith);
          },
        }
      : {}),
    cache: new StreamStateCache<RoomState>(deps.roomStateCacheSize ?? 10_000),
    ...(snapshots !== undefined ? { snapshots } : {}),
    ...(deps.onCommitted !== undefined ? { onCommitted: deps.onCommitted } : {}),
    eventIdFor: (event) =>
      event.type === 'MessageSent' ? sentMessageEventId(event.data.roomId, event.data.senderId, event.data.clientMessageId) : undefined,
  });
  /**
   * `admitted`: the participant acting, refused first if a stranger; `writes`: also refused
   * if suspended. Both are checked in the command's turn, so a sender's messages keep
   * their order whatever these reads take.
   */
  const run = (roomId: string, command: RoomCommand, actor: { actorId: string; correlationId: string }, admitted?: string, writes = false) =>
    rooms.execute(
      roomStreamName(roomId),
      command,
      { ...actor, causationId: deps.ids.newId() },
      admitted === undefined
        ? undefined
        : async () => {
            await admit(roomId, admitted);
            if (writes) await notSuspended(admitted);
          },
    );
  /**
   * Refuses a stranger before anything is loaded, from the cached state or else the read
   * model, so asking about any room costs the same whatever its length. A room the read
   * model does not hold yet (opened a moment ago elsewhere) is left to the decider.
   */
  const admit = async (roomId: string, userId: string): Promise<void> => {
    const cached = rooms.peek(roomStreamName(roomId));
    if (cached !== undefined) {
      if (cached.status === 'none' || !isParticipant(cached, userId)) throw new RoomNotFoundError(roomId);
      return;
    }
    const access = await deps.directory?.access(roomId);
    if (access !== undefined && access !== null && access.lenderId !== userId && access.borrowerId !== userId) {
      throw new RoomNotFoundError(roomId);
    }
  };
  /** A suspended user may read but not write: checked on the projected table in the write's own path. */
  const notSuspended = async (userId: string): Promise<void> => {
    const suspension = await deps.suspensions?.activeSuspension(userId, deps.clock.now());
    if (suspension !== undefined && suspension !== null) throw new SuspendedError(suspension.until);
  };
  // Opening a room reads its post; the post use cases themselves are in application/post.
  const posts = makePostCommands(deps);
  const asUser = (actor: Actor) => ({ actorId: actor.userId, correlationId: actor.correlationId });
  const existing = (result: CommandResult<RoomState, RoomEvent>): ExistingRoom => {
    if (result.state.status === 'none') throw new Error('a room command left no room behind');
    return result.state;
  };
  const change = async (roomId: string, command: RoomCommand, actor: Actor, writes = false): Promise<ChangeResult> => {
    const result = await run(roomId, command, asUser(actor), actor.userId, writes);
    return { changed: result.newEvents.length > 0, room: existing(result), checkpoint: result.checkpoint };
  };

  /** The message a send yielded: new, a retry answered from the room's recent messages, or a repeat the store caught. */
  const sentMessage = async (result: CommandResult<RoomState, RoomEvent>, senderId: string, clientMessageId: string): Promise<Message> => {
    const created = result.newEvents[0];
    if (created?.type === 'MessageSent') return created.data;
    const room = existing(result);
    const recent = recentMessage(room, senderId, clientMessageId);
    if (recent !== undefined) return recent;
    if (result.repeated && result.appended !== null) {
      const [original] = await deps.eventStore.readStream(roomStreamName(room.roomId), { fromRevision: result.appended.nextExpectedRevision, maxCount: 1 });
      const event = original === undefined ? null : decodeRoomEvent(original);
      if (event?.type === 'MessageSent') return event.data;
    }
    throw new Error('a sent message is missing from its room');
  };

  return {
    /** Get-or-open the caller's room on a post, as its borrower. */
    async openRoom(postId: string, actor: Actor): Promise<OpenRoomResult> {
      await notSuspended(actor.userId);
      const post = await posts.loadPost(postId);
      if (post.status === 'none') throw new PostNotFoundError(postId);
      const roomId = roomIdFor(postId, actor.userId);
      const result = await run(
        roomId,
        {
          type: 'OpenRoom',
          data: { roomId, postId, postTitle: post.title, lenderId: post.ownerId, borrowerId: actor.userId, now: deps.clock.now() },
        },
        asUser(actor),
      );
      return { room: existing(result), opened: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    async sendMessage(
      input: { roomId: string; clientMessageId: string; body: string; attachments?: readonly string[] },
      actor: Actor,
    ): Promise<SendMessageResult> {
      const { attachments: attachmentIds = [], ...text } = input;
      const send = (attachments: MessageAttachment[]) =>
        run(
          input.roomId,
          {
            type: 'SendMessage',
            data: { ...text, ...(attachments.length > 0 ? { attachments } : {}), senderId: actor.userId, messageId: deps.ids.newId(), now: deps.clock.now() },
          },
          asUser(actor),
          actor.userId,
          true,
        );
      if (attachmentIds.length === 0) {
        const result = await send([]);
        const message = toMessageView(await sentMessage(result, actor.userId, input.clientMessageId), messageView);
        return { message, created: result.newEvents.length > 0, checkpoint: result.checkpoint };
      }
      if (deps.attachments === undefined) throw new InvalidCommandError('attachments', 'this server does not take attachments');
      const claims = deps.attachments;
      // Claimed for this send (sender, clientMessageId) before it is decided: a second send of the
      // same photo finds it taken; a retry of this one claims it again.
      const attachments = await claims.claim(attachmentIds, input.roomId, actor.userId, input.clientMessageId);
      let result: CommandResult<RoomState, RoomEvent>;
      try {
        result = await send(attachments);
      } catch (error) {
        // Refused by a rule: nothing was recorded, so the photos are free again.
        if (error instanceof DomainError) await claims.release(attachmentIds, input.roomId, actor.userId, input.clientMessageId);
        throw error;
      }
      const sent = await sentMessage(result, actor.userId, input.clientMessageId);
      // A retry answered with the original: what it does not carry was not sent by it.
      const notInMessage = attachmentIds.filter((id) => !(sent.attachments ?? []).some((a) => a.attachmentId === id));
      if (notInMessage.length > 0) await claims.release(notInMessage, input.roomId, actor.userId, input.clientMessageId);
      return { message: toMessageView(sent, messageView), created: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    /** The marketplace posts a notice into a room; the same clientNoticeId again returns the original. */
    async postNotice(input: { roomId: string; clientNoticeId: string; text: string }, correlationId: string): Promise<SendMessageResult> {
      const result = await run(
        input.roomId,
        { type: 'PostNotice', data: { ...input, messageId: deps.ids.newId(), now: deps.clock.now() } },
        { actorId: 'system:marketplace', correlationId },
      );
      const message = toMessageView(await sentMessage(result, SYSTEM_SENDER, input.clientNoticeId), messageView);
      return { message, created: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    /** The participant who received the message at `seq` reports it; once per message and reporter. */
    async reportMessage(
      input: { roomId: string; seq: number; reason: ReportReason; note: string },
      actor: Actor,
    ): Promise<ReportResult> {
      const cached = rooms.peek(roomStreamName(input.roomId));
      const recent = cached === undefined || cached.status === 'none' ? undefined : cached.recentMessages.find((m) => m.seq === input.seq);
      const message =
        recent !== undefined
          ? { senderId: recent.senderId, kind: recent.kind ?? ('text' as const) }
          : ((await deps.moderation?.messageFacts(input.roomId, input.seq)) ?? null);
      const result = await run(
        input.roomId,
        {
          type: 'ReportMessage',
          data: { ...input, reporterId: actor.userId, reportId: deps.ids.newId(), message, now: deps.clock.now() },
        },
        asUser(actor),
        actor.userId,
        true,
      );
      const created = result.newEvents[0];
      if (created?.type === 'MessageReported') return { reportId: created.data.reportId, created: true, checkpoint: result.checkpoint };
      const reportId = reportOf(existing(result), input.seq, actor.userId);
      if (reportId === undefined) throw new Error('a report is missing from its room');
      return { reportId, created: false, checkpoint: result.checkpoint };
    },

    /** A moderator resolves a report of this room (dismiss, hide the message, or record a suspension). */
    async resolveReport(
      input: { roomId: string; reportId: string; action: ResolutionAction; note: string },
      moderator: Actor,
    ): Promise<ChangeResult> {
      const result = await run(
        input.roomId,
        { type: 'ResolveReport', data: { ...input, moderatorId: moderator.userId, now: deps.clock.now() } },
        asUser(moderator),
      );
      return { changed: result.newEvents.length > 0, room: existing(result), checkpoint: result.checkpoint };
    },

    markRead: (roomId: string, upToSeq: number, actor: Actor) =>
      change(roomId, { type: 'MarkRead', data: { roomId, userId: actor.userId, upToSeq, now: deps.clock.now() } }, actor),

    block: (roomId: string, actor: Actor) =>
      change(roomId, { type: 'BlockParticipant', data: { roomId, userId: actor.userId, now: deps.clock.now() } }, actor),

    unblock: (roomId: string, actor: Actor) =>
      change(roomId, { type: 'UnblockParticipant', data: { roomId, userId: actor.userId, now: deps.clock.now() } }, actor),

    /** Either participant reopens an expired room; an open room is left as it is. */
    reopenRoom: (roomId: string, actor: Actor) =>
      change(roomId, { type: 'ReopenRoom', data: { roomId, userId: actor.userId, now: deps.clock.now() } }, actor, true),

    /** Expire the room if its TTL has run out, judged on its stream (not the read model) at this moment. */
    async expireRoom(roomId: string, ttl: { emptyTtlMs: number; idleTtlMs: number }, correlationId: string): Promise<ExpireResult> {
      const result = await run(
        roomId,
        { type: 'ExpireRoom', data: { roomId, ...ttl, now: deps.clock.now() } },
        { actorId: 'system:scheduler', correlationId },
      );
      return { expired: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    /** Erase the room's messages if its last activity is older than the retention, judged on its stream at this moment. */
    async elapseRetention(roomId: string, retentionMs: number, correlationId: string): Promise<RetentionResult> {
      const now = deps.clock.now();
      const result = await run(roomId, { type: 'ElapseRetention', data: { roomId, retentionMs, now } }, { actorId: 'system:scheduler', correlationId });
      const room = result.state;
      const erasable =
        room.status !== 'none' && room.lastSeq <= room.retainedUpToSeq && now.getTime() - Date.parse(lastActivityOf(room)) >= retentionMs;
      return { elapsed: result.newEvents.length > 0, erasable, checkpoint: result.checkpoint };
    },
  };
}

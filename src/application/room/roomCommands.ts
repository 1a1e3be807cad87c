import { DomainError } from '../../domain/shared/decider';
import { postDecider, postStreamName, type PostState } from '../../domain/post';
import {
  clientMessageKey,
  roomDecider,
  roomStreamName,
  type ExistingRoom,
  type Message,
  type RoomCommand,
  type RoomEvent,
  type RoomState,
} from '../../domain/room';
import { serializeByKey } from '../serializeByKey';
import { handleCommand, toDomainEvent, type CommandHandlerDeps, type CommandResult } from '../handleCommand';
import { roomIdFor } from './roomId';

/** Who is acting and which request it belongs to; every event records both. */
export interface Actor {
  userId: string;
  correlationId: string;
}

export class PostNotFoundError extends DomainError {
  constructor(postId: string) {
    super('not_found', `post ${postId} not found`);
  }
}

export interface OpenRoomResult {
  room: ExistingRoom;
  /** True when this call opened or reopened the room (HTTP 201), false when it was already open (200). */
  opened: boolean;
  checkpoint: string | null;
}

export interface SendMessageResult {
  message: Message;
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

export type RoomCommands = ReturnType<typeof makeRoomCommands>;

/** The room use cases: each is one command through the generic handler. */
export function makeRoomCommands(deps: CommandHandlerDeps) {
  const oneAtATime = serializeByKey();
  const run = (roomId: string, command: RoomCommand, actor: { actorId: string; correlationId: string }) =>
    oneAtATime(roomId, () =>
      handleCommand<RoomState, RoomCommand, RoomEvent>(deps, roomStreamName(roomId), roomDecider, command, {
        ...actor,
        causationId: deps.ids.newId(),
      }),
    );
  const asUser = (actor: Actor) => ({ actorId: actor.userId, correlationId: actor.correlationId });
  const existing = (result: CommandResult<RoomState, RoomEvent>): ExistingRoom => {
    if (result.state.status === 'none') throw new Error('a room command left no room behind');
    return result.state;
  };
  const change = async (roomId: string, command: RoomCommand, actor: Actor): Promise<ChangeResult> => {
    const result = await run(roomId, command, asUser(actor));
    return { changed: result.newEvents.length > 0, room: existing(result), checkpoint: result.checkpoint };
  };

  return {
    async upsertPost(post: { postId: string; ownerId: string; title: string }, correlationId: string) {
      const result = await handleCommand(
        deps,
        postStreamName(post.postId),
        postDecider,
        { type: 'UpsertPost', data: { ...post, now: deps.clock.now() } },
        { actorId: 'system:marketplace', correlationId, causationId: deps.ids.newId() },
      );
      return { changed: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    /** The post as recorded, read from its stream so a post upserted a moment ago is found. */
    async loadPost(postId: string): Promise<PostState> {
      const events = await deps.eventStore.readStream(postStreamName(postId));
      return events.map((e) => toDomainEvent<Parameters<typeof postDecider.evolve>[1]>(e)).reduce(postDecider.evolve, postDecider.initialState());
    },

    /** Get-or-open the caller's room on a post, as its borrower. */
    async openRoom(postId: string, actor: Actor): Promise<OpenRoomResult> {
      const post = await this.loadPost(postId);
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
      input: { roomId: string; clientMessageId: string; body: string },
      actor: Actor,
    ): Promise<SendMessageResult> {
      const result = await run(
        input.roomId,
        {
          type: 'SendMessage',
          data: { ...input, senderId: actor.userId, messageId: deps.ids.newId(), now: deps.clock.now() },
        },
        asUser(actor),
      );
      const message = existing(result).messagesByClientId.get(clientMessageKey(actor.userId, input.clientMessageId));
      if (message === undefined) throw new Error('a sent message is missing from its room');
      return { message, created: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },

    markRead: (roomId: string, upToSeq: number, actor: Actor) =>
      change(roomId, { type: 'MarkRead', data: { roomId, userId: actor.userId, upToSeq, now: deps.clock.now() } }, actor),

    block: (roomId: string, actor: Actor) =>
      change(roomId, { type: 'BlockParticipant', data: { roomId, userId: actor.userId, now: deps.clock.now() } }, actor),

    unblock: (roomId: string, actor: Actor) =>
      change(roomId, { type: 'UnblockParticipant', data: { roomId, userId: actor.userId, now: deps.clock.now() } }, actor),

    /** Expire the room if its TTL has run out, judged on its stream (not the read model) at this moment. */
    async expireRoom(roomId: string, ttl: { emptyTtlMs: number; idleTtlMs: number }, correlationId: string): Promise<ExpireResult> {
      const result = await run(
        roomId,
        { type: 'ExpireRoom', data: { roomId, ...ttl, now: deps.clock.now() } },
        { actorId: 'system:scheduler', correlationId },
      );
      return { expired: result.newEvents.length > 0, checkpoint: result.checkpoint };
    },
  };
}

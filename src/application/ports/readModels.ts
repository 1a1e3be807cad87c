import type { MessageView } from '../../domain/room';

/** A room as one participant sees it: the contract's `room` object. */
export interface RoomView {
  roomId: string;
  postId: string;
  postTitle: string;
  lenderId: string;
  borrowerId: string;
  status: 'open' | 'expired';
  openedAt: string;
  lastActivityAt: string;
  lastMessage: MessageView | null;
  unreadCount: number;
  lastReadSeq: Record<string, number>;
  /** The viewer blocked the other participant in this room. */
  blockedByMe: boolean;
  /** The other participant blocked the viewer in this room. */
  blockedMe: boolean;
  /** The participants' names and pictures as their tokens last said; a user nothing is known of is absent. */
  participants: Record<string, ParticipantProfile>;
}

/** What is known of a participant: each field absent when unknown. */
export interface ParticipantProfile {
  name?: string;
  picture?: string;
}

export interface PostView {
  postId: string;
  ownerId: string;
  title: string;
}

export interface MessagePageQuery {
  before?: number;
  after?: number;
  limit: number;
}

export interface MessagePage {
  messages: MessageView[];
  hasMore: boolean;
}

export interface RoomPage {
  rooms: RoomView[];
  nextCursor: string | null;
}

export interface PostPage {
  posts: PostView[];
  nextCursor: string | null;
}

export interface ExpiryCandidate {
  roomId: string;
  /** With roomId, where a page of candidates ends: pass the last one as `after` for the next page. */
  lastActivityAt: string;
}

/** The queries the HTTP and WebSocket interfaces answer from, over the projected read models. */
export interface ChatQueries {
  getPost(postId: string): Promise<PostView | null>;
  /** The posts the service knows, most recently upserted first; `cursor` comes from the previous page. */
  listPosts(limit: number, cursor: string | null): Promise<PostPage>;
  /** Null when the room does not exist or the viewer is not one of its participants. */
  getRoom(roomId: string, viewerId: string): Promise<RoomView | null>;
  /** The viewer's open rooms, newest activity first; `cursor` comes from the previous page. */
  listRooms(viewerId: string, limit: number, cursor: string | null): Promise<RoomPage>;
  /** One page of a room's messages, ascending by seq. */
  getMessages(roomId: string, query: MessagePageQuery): Promise<MessagePage>;
  /**
   * Open rooms whose TTL may have run out at `now`, oldest activity first, after `after`
   * (the last candidate of the previous page) when given. The decision itself is made on the stream.
   */
  findExpiryCandidates(
    now: Date,
    emptyTtlMs: number,
    idleTtlMs: number,
    limit: number,
    after?: ExpiryCandidate | null,
  ): Promise<ExpiryCandidate[]>;
}

/** How far the read models have got: lets a writer answer only once its change is readable. */
export interface ProjectionProgress {
  /** Resolves once every projection has applied the event at `checkpoint` (or timeoutMs passes: false). */
  waitFor(checkpoint: string, timeoutMs?: number): Promise<boolean>;
  /** Whether the projections have caught up with the store's head. */
  caughtUp(): Promise<boolean>;
}

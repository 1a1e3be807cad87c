/**
 * The SDK's RoomView over a fake client: history and live messages merged by seq, the
 * outbox's unsent messages until delivered, hidden and erased messages, typing, read marks.
 */
import { Emitter } from '../../client/sdk/src/emitter';
import { RoomView, type RoomViewClient } from '../../client/sdk/src/roomView';
import type { ChatEvents, Message, MessagePage, OutgoingMessage, Room } from '../../client/sdk/src';

const ROOM = 'room-1';

const message = (seq: number, senderId = 'bob', clientMessageId = `c${seq}`): Message => ({
  messageId: `m${seq}`,
  roomId: ROOM,
  seq,
  senderId,
  body: `text ${seq}`,
  sentAt: '2026-05-01T09:00:00.000Z',
  clientMessageId,
  kind: 'text',
  hidden: false,
  safety: [],
  attachments: [],
});

const room: Room = {
  roomId: ROOM,
  postId: 'drill',
  postTitle: 'Drill',
  lenderId: 'lena',
  borrowerId: 'bob',
  status: 'open',
  openedAt: '2026-05-01T09:00:00.000Z',
  lastActivityAt: '2026-05-01T09:00:00.000Z',
  lastMessage: null,
  unreadCount: 0,
  lastReadSeq: {},
  blockedByMe: false,
  blockedMe: false,
  participants: {},
};

/** A ChatClient stand-in: the test emits its events and sets its answers. */
function fakeClient(pages: MessagePage[]) {
  const events = new Emitter<ChatEvents>();
  let outbox: OutgoingMessage[] = [];
  const calls = { follow: [] as Array<[string, number]>, markRead: [] as Array<[string, number]>, history: [] as object[], sent: [] as string[] };
  const client: RoomViewClient = {
    on: (type, listener) => events.on(type, listener),
    userId: 'lena',
    room: async () => room,
    history: async (_roomId, options = {}) => {
      calls.history.push(options);
      const page = pages.shift();
      if (page === undefined) throw new Error('no more pages');
      return page;
    },
    follow: (roomId, afterSeq) => void calls.follow.push([roomId, afterSeq]),
    unsent: () => outbox.map((o) => ({ ...o })),
    send: (roomId, body) => {
      const item: OutgoingMessage = { clientMessageId: `out-${outbox.length + 1}`, roomId, body, status: 'pending', createdAt: '2026-05-01T09:01:00.000Z', attempts: 0 };
      outbox = [...outbox, item];
      calls.sent.push(body);
      return item;
    },
    sendPhoto: (roomId, photo, options = {}) => {
      const bytes = photo instanceof ArrayBuffer ? photo.byteLength : photo instanceof Uint8Array ? photo.byteLength : photo.size;
      const item: OutgoingMessage = {
        clientMessageId: `out-${outbox.length + 1}`,
        roomId,
        body: options.body ?? '',
        status: 'pending',
        createdAt: '2026-05-01T09:01:00.000Z',
        attempts: 0,
        photo: { contentType: 'image/jpeg', bytes, loaded: 0, attachment: null },
      };
      outbox = [...outbox, item];
      return item;
    },
    retry: () => undefined,
    discard: (clientMessageId) => {
      outbox = outbox.filter((o) => o.clientMessageId !== clientMessageId);
    },
    markRead: async (roomId, upToSeq) => void calls.markRead.push([roomId, upToSeq]),
    typing: () => undefined,
  };
  const settle = (clientMessageId: string) => {
    outbox = outbox.filter((o) => o.clientMessageId !== clientMessageId);
  };
  /** The outbox's item changed (e.g. its upload went on), as the client would report it. */
  const change = (clientMessageId: string, update: (o: OutgoingMessage) => OutgoingMessage) => {
    outbox = outbox.map((o) => (o.clientMessageId === clientMessageId ? update(o) : o));
    const changed = outbox.find((o) => o.clientMessageId === clientMessageId);
    if (changed !== undefined) events.emit('outbox', { ...changed });
  };
  return { client, events, calls, settle, change };
}

describe('RoomView', () => {
  afterEach(() => jest.useRealTimers());

  it('shows the latest page, follows the room after it, and merges live and older messages by seq, each once', async () => {
    const fake = fakeClient([
      { messages: [message(3), message(4)], hasMore: true },
      { messages: [message(1), message(2)], hasMore: false },
    ]);
    const view = new RoomView(fake.client, ROOM, { pageSize: 2 });
    const seen: number[] = [];
    view.subscribe((s) => seen.push(s.messages.length));
    await view.open();
    expect(view.state).toMatchObject({ room, hasMore: true, loading: false, error: null });
    expect(fake.calls.follow).toEqual([[ROOM, 4]]);

    fake.events.emit('message', message(5));
    fake.events.emit('message', message(4)); // a copy: kept once
    fake.events.emit('message', { ...message(1), roomId: 'another-room' });
    expect(await view.loadOlder()).toBe(true);
    expect(fake.calls.history).toEqual([{ limit: 2 }, { before: 3, limit: 2 }]);
    expect(view.state.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(view.state.hasMore).toBe(false);
    expect(await view.loadOlder()).toBe(false);
    expect(seen.length).toBeGreaterThan(0);
    view.close();
  });

  it('shows an unsent message until it is delivered as a message', async () => {
    const fake = fakeClient([{ messages: [], hasMore: false }]);
    const view = new RoomView(fake.client, ROOM);
    await view.open();
    const sent = view.send('hello');
    expect(view.state.unsent.map((u) => u.body)).toEqual(['hello']);
    // Delivered (by its ack) before the outbox says so: shown once, as a message.
    fake.events.emit('message', message(1, 'lena', sent.clientMessageId));
    expect(view.state.unsent).toEqual([]);
    expect(view.state.messages.map((m) => m.clientMessageId)).toEqual([sent.clientMessageId]);
    fake.settle(sent.clientMessageId);
    fake.events.emit('outbox', { ...sent, status: 'sent' });
    expect(view.state.unsent).toEqual([]);
    view.close();
  });

  it("shows a photo message's upload progress in unsent until it is delivered; discard drops it", async () => {
    const fake = fakeClient([{ messages: [], hasMore: false }]);
    const view = new RoomView(fake.client, ROOM);
    await view.open();
    const photo = view.sendPhoto(new Uint8Array(1000), { body: 'the scratch' });
    expect(view.state.unsent).toMatchObject([{ body: 'the scratch', photo: { bytes: 1000, loaded: 0 } }]);
    fake.change(photo.clientMessageId, (o) => ({ ...o, photo: { ...o.photo!, loaded: 400 } }));
    expect(view.state.unsent[0]?.photo?.loaded).toBe(400);
    const other = view.sendPhoto(new Uint8Array(10));
    view.discard(other.clientMessageId);
    expect(view.state.unsent.map((u) => u.clientMessageId)).toEqual([photo.clientMessageId]);
    fake.events.emit('message', message(1, 'lena', photo.clientMessageId));
    expect(view.state.unsent).toEqual([]);
    view.close();
  });

  it('applies hidden and erased messages, the room, and read marks; shows typing for a while', async () => {
    jest.useFakeTimers();
    const fake = fakeClient([{ messages: [message(1), message(2, 'lena'), message(3)], hasMore: false }]);
    const view = new RoomView(fake.client, ROOM, { typingShownMs: 1000 });
    await view.open();
    fake.events.emit('messageHidden', { roomId: ROOM, seq: 1 });
    fake.events.emit('erased', { roomId: ROOM, userId: 'bob' });
    expect(view.state.messages.map((m) => [m.seq, m.hidden, m.erased === true, m.body])).toEqual([
      [1, true, true, ''],
      [2, false, false, 'text 2'],
      [3, false, true, ''],
    ]);
    fake.events.emit('read', { roomId: ROOM, userId: 'bob', upToSeq: 2 });
    expect(view.state.room?.lastReadSeq).toEqual({ bob: 2 });
    fake.events.emit('room', { ...room, blockedMe: true });
    expect(view.state.room?.blockedMe).toBe(true);

    fake.events.emit('typing', { roomId: ROOM, userId: 'bob' });
    expect(view.state.typing).toBe('bob');
    jest.advanceTimersByTime(1001);
    expect(view.state.typing).toBeNull();
    fake.events.emit('typing', { roomId: ROOM, userId: 'bob' });
    fake.events.emit('message', message(4));
    expect(view.state.typing).toBeNull();

    view.markRead();
    expect(fake.calls.markRead).toEqual([[ROOM, 4]]);
    view.close();
    fake.events.emit('message', message(5));
    expect(view.state.messages.at(-1)?.seq).toBe(4);
  });

  it('shows a failed read of the room as its error', async () => {
    const fake = fakeClient([]);
    const view = new RoomView(fake.client, ROOM);
    await view.open();
    expect(view.state).toMatchObject({ loading: false, error: 'no more pages' });
    view.close();
  });
});

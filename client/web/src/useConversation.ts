import { useCallback, useEffect, useRef, useState } from 'react';
import { RoomView, type ChatClient, type ReportReason, type Room, type RoomViewState } from '../../sdk/src';

/**
 * One conversation for a screen: the SDK's `RoomView` (history and live messages merged by
 * seq, unsent messages until delivered, typing, read marks, hidden and erased messages) as
 * React state, plus the room's actions. The room is marked read up to its newest message
 * whenever the page is visible; the SDK keeps and re-sends a mark the server refused.
 */
export function useConversation(client: ChatClient, roomId: string, known: Room | null, onRoom: (room: Room) => void) {
  const view = useRef<RoomView | null>(null);
  const [state, setState] = useState<RoomViewState>(() => ({
    room: known,
    messages: [],
    unsent: client.unsent(roomId),
    hasMore: false,
    loading: true,
    error: null,
    typing: null,
  }));

  // A view per mounted room (created in the effect, so React's strict double mount gets two, the first closed).
  const knownAtStart = useRef(known);
  const onRoomRef = useRef(onRoom);
  onRoomRef.current = onRoom;
  useEffect(() => {
    const current = new RoomView(client, roomId, { room: knownAtStart.current });
    view.current = current;
    setState(current.state);
    const off = current.subscribe(setState);
    void current.open().then(() => {
      if (current.state.room !== null && view.current === current) onRoomRef.current(current.state.room);
    });
    return () => {
      off();
      current.close();
      if (view.current === current) view.current = null;
    };
  }, [client, roomId]);

  // The app's copy of the room (room list, live `room` frames) is shown when it changes.
  useEffect(() => {
    if (known !== null) view.current?.setRoom(known);
  }, [known]);

  // Read up to the newest message while the conversation is on screen.
  const lastSeq = state.messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (lastSeq === 0) return;
    const mark = () => {
      if (document.visibilityState === 'visible') view.current?.markRead();
    };
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [lastSeq]);

  /** Runs a room action; its failure is shown in the view's error line. */
  const act = useCallback(async (action: () => Promise<void>): Promise<boolean> => {
    try {
      await action();
      return true;
    } catch (error) {
      view.current?.setError(error);
      return false;
    }
  }, []);

  const showRoom = useCallback(
    (room: Room) => {
      view.current?.setRoom(room);
      onRoom(room);
    },
    [onRoom],
  );

  // What this page shows of each photo it is sending, until it arrives (the outbox keeps no image).
  const [previews, setPreviews] = useState<ReadonlyMap<string, string>>(new Map());

  useEffect(() => {
    setPreviews((old) => {
      const kept = [...old].filter(([id]) => state.unsent.some((u) => u.clientMessageId === id));
      return kept.length === old.size ? old : new Map(kept);
    });
  }, [state.unsent]);

  const blocked = state.room?.blockedByMe === true;
  const actions = {
    previews,
    send: (body: string) => view.current?.send(body),
    /** Sends a photo (`preview`: a data: URL of it, shown while it uploads) with an optional caption. */
    sendPhoto: (file: File, body: string, preview: string | null) => {
      const item = view.current?.sendPhoto(file, { body });
      if (item !== undefined && preview !== null) setPreviews((old) => new Map(old).set(item.clientMessageId, preview));
    },
    discard: (clientMessageId: string) => view.current?.discard(clientMessageId),
    retry: (clientMessageId: string) => view.current?.retry(clientMessageId),
    notifyTyping: () => view.current?.typing(),
    loadOlder: () => view.current?.loadOlder() ?? Promise.resolve(false),
    /** Block or unblock the other participant (the room object then says which, on every device). */
    toggleBlock: () =>
      act(async () => {
        if (blocked) await client.unblock(roomId);
        else await client.block(roomId);
        showRoom(await client.room(roomId));
      }),
    reopen: () => act(async () => showRoom(await client.reopenRoom(roomId))),
    report: (seq: number, reason: ReportReason) => act(async () => void (await client.report(roomId, seq, reason))),
  };
  return { ...state, ...actions };
}

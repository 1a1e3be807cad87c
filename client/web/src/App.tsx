import { useCallback, useEffect, useMemo, useState } from 'react';
import { ChatApiError, ChatClient, tokenRoles, tokenSubject, type Room, type StateChange } from '../../sdk/src';
import { ModerationPage } from './ModerationPage';
import { ConnectionIndicator } from './ConnectionIndicator';
import { Conversation } from './Conversation';
import { ConversationList } from './ConversationList';
import { PostsPage } from './PostsPage';
import { forgetPush, PushNotifications } from './PushNotifications';
import { go, useRoute } from './route';
import { devSession, forgetDevUser, hostConfig, outboxStorage, rememberedDevUser, type Session } from './session';
import { SignIn } from './SignIn';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [booting, setBooting] = useState(true);
  const [signInError, setSignInError] = useState<string | null>(null);
  const embedded = useMemo(() => hostConfig(), []);

  const signIn = useCallback(async (userId: string) => {
    setSignInError(null);
    try {
      setSession(await devSession(userId));
    } catch (error) {
      setSignInError(
        error instanceof ChatApiError && error.status === 404
          ? 'This server is not in development mode: sign in through the marketplace.'
          : `Could not sign in: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }, []);

  useEffect(() => {
    void (async () => {
      if (embedded !== null) {
        let token: string;
        try {
          token = await embedded.getToken();
        } catch (error) {
          setSignInError(`The page embedding the chat gave no token: ${error instanceof Error ? error.message : String(error)}`);
          setBooting(false);
          return;
        }
        let spare: string | null = token;
        setSession({
          userId: tokenSubject(token) ?? 'me',
          baseUrl: embedded.baseUrl ?? window.location.origin,
          getToken: async () => {
            const t = spare ?? (await embedded.getToken());
            spare = null;
            return t;
          },
        });
      } else {
        const remembered = rememberedDevUser();
        if (remembered !== null) await signIn(remembered);
      }
      setBooting(false);
    })();
  }, [embedded, signIn]);

  if (booting) return <p className="boot">Loading…</p>;
  if (session === null && embedded !== null) {
    return (
      <p role="alert" className="error boot">
        {signInError}
      </p>
    );
  }
  if (session === null) return <SignIn onSignIn={signIn} error={signInError} />;
  return (
    <SignedIn
      session={session}
      onSignOut={
        embedded === null
          ? () => {
              forgetDevUser();
              setSession(null);
            }
          : null
      }
    />
  );
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut: (() => void) | null }) {
  const route = useRoute();
  const client = useMemo(
    () => new ChatClient({ baseUrl: session.baseUrl, getToken: session.getToken, outboxStorage: outboxStorage(session.userId) }),
    [session],
  );
  const [connection, setConnection] = useState<StateChange>(client.state);
  const [rooms, setRooms] = useState<Map<string, Room>>(new Map());
  const [moderator, setModerator] = useState(false);
  useEffect(() => {
    void session.getToken().then((token) => setModerator(tokenRoles(token).includes('moderator')), () => undefined);
  }, [session]);
  const viewing = route.view === 'room' ? route.roomId : null;

  const upsertRoom = useCallback((room: Room) => setRooms((all) => new Map(all).set(room.roomId, room)), []);
  const refreshRoom = useCallback(
    (roomId: string) => void client.room(roomId).then(upsertRoom, () => undefined),
    [client, upsertRoom],
  );

  useEffect(() => {
    const offs = [
      client.on('state', setConnection),
      client.on('room', upsertRoom),
      client.on('read', ({ roomId, userId, upToSeq }) => {
        if (userId === session.userId) refreshRoom(roomId);
        else
          setRooms((all) => {
            const room = all.get(roomId);
            if (room === undefined) return all;
            return new Map(all).set(roomId, { ...room, lastReadSeq: { ...room.lastReadSeq, [userId]: upToSeq } });
          });
      }),
    ];
    client.connect();
    void client.rooms({ limit: 100 }).then((page) => setRooms(new Map(page.rooms.map((r) => [r.roomId, r]))));
    return () => {
      for (const off of offs) off();
      client.close();
    };
  }, [client, session.userId, upsertRoom, refreshRoom]);

  // The list follows every message: last message, activity, and the unread badge of rooms not on screen.
  useEffect(
    () =>
      client.on('message', (message) =>
        setRooms((all) => {
          const room = all.get(message.roomId);
          if (room === undefined) {
            refreshRoom(message.roomId);
            return all;
          }
          const fromOther = message.senderId !== session.userId;
          const unread = fromOther && viewing !== message.roomId ? room.unreadCount + 1 : room.unreadCount;
          return new Map(all).set(message.roomId, {
            ...room,
            lastMessage: message,
            lastActivityAt: message.sentAt,
            unreadCount: unread,
          });
        }),
      ),
    [client, session.userId, viewing, refreshRoom],
  );

  const openPost = async (postId: string) => {
    const opened = await client.openRoom(postId);
    upsertRoom(opened.room);
    go({ view: 'room', roomId: opened.room.roomId });
  };

  // The name my token carries, as the service shows it to others (any room of mine has it), else my id.
  const myName = [...rooms.values()].map((r) => r.participants?.[session.userId]?.name).find((n) => n !== undefined) ?? session.userId;

  return (
    <div className={`app view-${route.view}`}>
      <header className="topbar">
        <a className="brand" href="#/">
          Rental chat
        </a>
        <nav aria-label="Main" className="tabs">
          <a href="#/" aria-current={route.view === 'posts' ? 'page' : undefined}>
            Posts
          </a>
          <a href="#/rooms" aria-current={route.view === 'rooms' || route.view === 'room' ? 'page' : undefined}>
            Chats
          </a>
          {moderator && (
            <a href="#/moderation" aria-current={route.view === 'moderation' ? 'page' : undefined}>
              Reports
            </a>
          )}
        </nav>
        <ConnectionIndicator state={connection} onReconnect={() => client.connect()} />
        <PushNotifications session={session} />
        <span className="me" title={`Signed in as ${session.userId}`}>
          {myName}
        </span>
        {onSignOut !== null && (
          <button type="button" className="link" onClick={() => void forgetPush(session).finally(onSignOut)}>
            Sign out
          </button>
        )}
      </header>
      <ConversationList rooms={[...rooms.values()]} me={session.userId} current={viewing} />
      <main className="pane">
        {route.view === 'posts' && <PostsPage client={client} me={session.userId} onChat={openPost} />}
        {route.view === 'moderation' && <ModerationPage client={client} />}
        {route.view === 'rooms' && <p className="hint">Pick a conversation, or find a post to chat about.</p>}
        {route.view === 'room' && (
          <Conversation
            key={route.roomId}
            client={client}
            me={session.userId}
            roomId={route.roomId}
            room={rooms.get(route.roomId) ?? null}
            onRoom={upsertRoom}
            online={connection.state === 'online'}
            baseUrl={session.baseUrl}
          />
        )}
      </main>
    </div>
  );
}

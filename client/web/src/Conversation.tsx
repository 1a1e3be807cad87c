import type { ChatClient, Room } from '../../sdk/src';
import { Composer } from './Composer';
import { counterpartOf } from './ConversationList';
import { MessageList } from './MessageList';
import { Avatar, displayName } from './people';
import { useConversation } from './useConversation';

/**
 * One conversation: the header with Block/Unblock, the expired banner with Reopen, the
 * block notices, the messages (MessageList), who is typing, and the Composer. The state is
 * the SDK's room view (useConversation).
 */
export function Conversation(props: {
  client: ChatClient;
  me: string;
  roomId: string;
  room: Room | null;
  onRoom: (room: Room) => void;
  online: boolean;
  /** The service's origin: attachment URLs are relative to it. */
  baseUrl: string;
}) {
  const { me } = props;
  const conversation = useConversation(props.client, props.roomId, props.room, props.onRoom);
  const { room } = conversation;

  // Who blocked whom is the room's own (`blockedByMe`, `blockedMe`), the same on every device.
  const blocked = room?.blockedByMe === true;
  const blockedMe = room?.blockedMe === true;
  const other = room === null ? null : counterpartOf(room, me);
  const otherName = other === null ? null : displayName(room, other);
  const otherRead = room === null || other === null ? 0 : (room.lastReadSeq[other] ?? 0);

  return (
    <section className="conversation-view" aria-label={room === null ? 'Conversation' : `Conversation with ${other} about ${room.postTitle}`}>
      <header className="conversation-head">
        <a href="#/rooms" className="back" aria-label="Back to conversations">
          ‹
        </a>
        {other !== null && <Avatar room={room} userId={other} />}
        <div className="title">
          <h1>{otherName ?? '…'}</h1>
          <p>{room?.postTitle ?? ''}</p>
        </div>
        <button type="button" onClick={() => void conversation.toggleBlock()} className="secondary">
          {blocked ? 'Unblock' : 'Block'}
        </button>
      </header>
      {room?.status === 'expired' && (
        <div className="banner" role="region" aria-label="Expired">
          <span>This conversation expired after a quiet spell. Reopen it to write again.</span>
          <button type="button" onClick={() => void conversation.reopen()}>
            Reopen
          </button>
        </div>
      )}
      {blocked && <p className="banner muted">You blocked {otherName}: you won’t receive their messages until you unblock.</p>}
      {blockedMe && (
        <p className="banner" role="status">
          {otherName} isn’t accepting messages from you in this conversation: what you write won’t be sent.
        </p>
      )}
      {conversation.error !== null && (
        <p role="alert" className="error">
          {conversation.error}
        </p>
      )}
      <MessageList
        me={me}
        messages={conversation.messages}
        unsent={conversation.unsent}
        hasMore={conversation.hasMore}
        loading={conversation.loading}
        online={props.online}
        otherRead={otherRead}
        empty={
          room === null ? null : (
            <p className="hint empty-conversation">
              No messages yet. Say hello to {otherName} about “{room.postTitle}”: when you could pick it up, for how long, any questions.
            </p>
          )
        }
        onLoadOlder={() => void conversation.loadOlder()}
        onRetry={conversation.retry}
        onDiscard={conversation.discard}
        previews={conversation.previews}
        nameOf={(userId) => displayName(room, userId)}
        resolve={(url) => new URL(url, props.baseUrl).toString()}
        onReport={conversation.report}
      />
      <p className="typing" aria-live="polite">
        {conversation.typing !== null && other !== null ? `${otherName} is typing…` : ''}
      </p>
      <Composer
        disabled={blockedMe}
        placeholder={blockedMe ? `${otherName} isn’t accepting your messages` : room?.status === 'expired' ? 'Reopen the conversation to write' : 'Write a message'}
        onSend={(body) => conversation.send(body)}
        onSendPhoto={conversation.sendPhoto}
        onTyping={conversation.notifyTyping}
      />
    </section>
  );
}

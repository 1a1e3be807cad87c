import type { Message, Room } from '../../sdk/src';
import { displayName } from './people';

export const counterpartOf = (room: Room, me: string) => (room.lenderId === me ? room.borrowerId : room.lenderId);

/** A message as one line of the list: its text, or "Photo" for a photo without a caption. */
const lastText = (m: Message): string => (m.body === '' && m.attachments.length > 0 ? 'Photo' : m.body);

/** The user's open rooms, newest activity first, with the unread badge. */
export function ConversationList({ rooms, me, current }: { rooms: Room[]; me: string; current: string | null }) {
  const open = rooms.filter((r) => r.status === 'open' || r.roomId === current).sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
  return (
    <nav aria-label="Conversations" className="conversations">
      {open.length === 0 ? (
        <p className="hint">No conversations yet.</p>
      ) : (
        <ul>
          {open.map((room) => (
            <li key={room.roomId}>
              <a href={`#/rooms/${room.roomId}`} aria-current={room.roomId === current ? 'page' : undefined} className="conversation">
                <span className="who">{displayName(room, counterpartOf(room, me))}</span>
                <span className="about">{room.postTitle}</span>
                <span className="last">{room.lastMessage === null ? 'No messages yet' : room.lastMessage.erased === true ? 'Message deleted' : lastText(room.lastMessage)}</span>
                {room.unreadCount > 0 && (
                  <span className="badge" aria-label={`${room.unreadCount} unread`}>
                    {room.unreadCount}
                  </span>
                )}
              </a>
            </li>
          ))}
        </ul>
      )}
    </nav>
  );
}

import type { Message, RoomState } from '../../domain/room';
import type { SnapshotStore, StreamSnapshot } from '../ports/snapshots';
import type { DataKeys } from './dataKeys';
import type { ErasedUsers } from './erasedUsers';
import { erasedMessage, openMessage, sealMessage, type StoredMessageSent } from './roomEventSealing';

type SnapshotMessage = Message | StoredMessageSent;

/**
 * Room snapshots that hold no text in the clear: the recent messages a room's state keeps
 * (to answer retries) are sealed under their data keys as the events are, and opened on
 * load; a message whose key is gone loads erased, like its event.
 */
export function sealedRoomSnapshots(store: SnapshotStore, keys: DataKeys, erased: ErasedUsers): SnapshotStore {
  return {
    async save(streamId, snapshot) {
      const state = snapshot.state as RoomState;
      if (state.status === 'none') return store.save(streamId, snapshot);
      const recentMessages: SnapshotMessage[] = [];
      for (const message of state.recentMessages) {
        if (message.erased === true || erased.has(message.senderId)) recentMessages.push(erasedMessage(message));
        else recentMessages.push(sealMessage(message, await keys.keyFor(message.roomId, message.senderId)));
      }
      return store.save(streamId, { ...snapshot, state: { ...state, recentMessages } });
    },

    async load(streamId): Promise<StreamSnapshot | null> {
      const snapshot = await store.load(streamId);
      if (snapshot === null) return null;
      const state = snapshot.state as RoomState | { status: 'open'; recentMessages: SnapshotMessage[] };
      if (state.status === 'none' || !Array.isArray(state.recentMessages)) return snapshot;
      const stored = state.recentMessages as SnapshotMessage[];
      const found = await keys.keysById(stored.flatMap((m) => ('sealedBody' in m ? [m.sealedBody.keyId] : [])));
      const recentMessages = stored.map((m): Message => {
        if (erased.has(m.senderId)) return 'sealedBody' in m ? openMessage(m, undefined) : erasedMessage(m);
        return 'sealedBody' in m ? openMessage(m, found.get(m.sealedBody.keyId)) : m;
      });
      return { ...snapshot, state: { ...state, recentMessages } };
    },
  };
}

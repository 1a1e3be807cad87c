/**
 * The table of data keys (crypto-shredding, docs/privacy.md). One live key per (room,
 * sender) encrypts that sender's personal data in that room; it is kept only wrapped
 * (encrypted) under a key-encryption key, whose id is recorded beside it. Destroying a
 * key removes its wrapped bytes for good: everything it encrypted can no longer be read.
 */
export interface WrappedDataKey {
  keyId: string;
  roomId: string;
  senderId: string;
  /** The key-encryption key that wrapped it. */
  kekId: string;
  /** AES-256-GCM: 12 bytes of IV, the 32-byte key encrypted, 16 bytes of tag. */
  wrapped: Buffer;
}

export interface DataKeyStore {
  /** The live key of (room, sender), or null when there is none (never made, or destroyed). */
  findLive(roomId: string, senderId: string): Promise<WrappedDataKey | null>;
  /**
   * Stores `key` as the live key of its (room, sender) unless another one got there
   * first (another process): answers the key that is live afterwards.
   */
  insertLive(key: WrappedDataKey): Promise<WrappedDataKey>;
  /**
   * The live key of each (room, sender) of `fresh`: the one already stored, else the
   * fresh one, stored now (at most one per (room, sender) in `fresh`). One statement for
   * the lot, where the store can; answers one key per (room, sender).
   */
  findOrInsertLive(fresh: readonly WrappedDataKey[]): Promise<WrappedDataKey[]>;
  /** The keys of these ids that are not destroyed. */
  findByIds(keyIds: readonly string[]): Promise<WrappedDataKey[]>;
  /** Destroys every key of this sender, in every room; answers what was destroyed now. */
  destroyBySender(senderId: string): Promise<Array<{ keyId: string; roomId: string }>>;
  /** Destroys every key of this room, of every sender; answers what was destroyed now. */
  destroyByRoom(roomId: string): Promise<Array<{ keyId: string; senderId: string }>>;
  /** Up to `limit` live keys not wrapped under `kekId`: the work left of a rotation. */
  findWrappedOtherThan(kekId: string, limit: number): Promise<WrappedDataKey[]>;
  /** Replaces a key's wrapping, only if it is still live and wrapped under `fromKekId`; true when replaced. */
  rewrap(keyId: string, fromKekId: string, to: { kekId: string; wrapped: Buffer }): Promise<boolean>;
}

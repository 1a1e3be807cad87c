import { randomBytes, randomUUID } from 'node:crypto';
import type { DataKeyStore, WrappedDataKey } from '../ports/dataKeys';
import type { KeyRing } from './keyRing';
import { LruMap } from './lruMap';
import type { SealedText } from './sealedText';

/** An unwrapped data key: 32 bytes of AES-256 key, and where it belongs. */
export interface DataKey {
  keyId: string;
  roomId: string;
  senderId: string;
  key: Buffer;
}

/** Unwrapped keys kept in memory by default: about 150 bytes each, so some 3 MB. */
export const DEFAULT_DATA_KEY_CACHE = 20_000;
/**
 * Bodies this process sealed lately, kept so that reading them back (the live feed, the
 * projection, the notification feeder: each reads every event) costs no decryption:
 * about 4,096 × (body + sealed text), well under 10 MB with the 4,000-character cap.
 */
const SEALED_HERE = 4_096;

export interface RewrapProgress {
  rewrapped: number;
  /** True when no live key is left wrapped under an older key-encryption key. */
  done: boolean;
}

/**
 * The data keys of personal data (docs/privacy.md), over the store of wrapped keys. Keys
 * are unwrapped once and kept in a bounded cache (least recently used out), so a send or a
 * page of history costs no unwrapping once its keys are warm; a batch of events needs at
 * most one query for the keys it misses. A destroyed key is dropped from this process's
 * cache by `forgetSender`/`forgetRoom`, which every process calls when it sees the
 * erasure's event (the destruction itself is in the database, for every process at once).
 */
export class DataKeys {
  private readonly byId: LruMap<string, DataKey>;
  /** (room, sender) → the id of its live key. */
  private readonly live: LruMap<string, string>;
  private readonly making = new Map<string, Promise<DataKey>>();
  /** Keys asked for and not cached, gathering for the next find-or-make (one statement for the lot). */
  private toMake: Array<{ roomId: string; senderId: string; resolve(key: DataKey): void; reject(error: unknown): void }> = [];
  private makingBatch = false;
  /** What a body was bound to (a message id) → the sealed text this process made of it, the body, and the key. */
  private readonly sealedHere = new LruMap<string, { ciphertext: string; keyId: string; roomId: string; senderId: string; body: string }>(SEALED_HERE);
  private batchScheduled = false;

  constructor(
    private readonly store: DataKeyStore,
    private readonly ring: KeyRing,
    cacheSize: number = DEFAULT_DATA_KEY_CACHE,
  ) {
    this.byId = new LruMap(cacheSize);
    this.live = new LruMap(cacheSize);
  }

  /** The live key of (room, sender) when it is cached, else undefined (then `keyFor`). */
  keyAtHand(roomId: string, senderId: string): DataKey | undefined {
    const cachedId = this.live.get(liveSlot(roomId, senderId));
    return cachedId === undefined ? undefined : this.byId.get(cachedId);
  }

  /** The live key of (room, sender), made now when there is none. */
  keyFor(roomId: string, senderId: string): Promise<DataKey> {
    const slot = liveSlot(roomId, senderId);
    const cachedId = this.live.get(slot);
    const cached = cachedId === undefined ? undefined : this.byId.get(cachedId);
    if (cached !== undefined) return Promise.resolve(cached);
    let making = this.making.get(slot);
    if (making === undefined) {
      making = this.findOrMake(roomId, senderId).finally(() => this.making.delete(slot));
      this.making.set(slot, making);
    }
    return making;
  }

  /** Notes a body this process has just sealed (bound to `boundTo`), so reading it back needs no decryption. */
  noteSealed(sealed: SealedText, boundTo: string, key: DataKey, body: string): void {
    this.sealedHere.set(boundTo, { ciphertext: sealed.ciphertext, keyId: key.keyId, roomId: key.roomId, senderId: key.senderId, body });
  }

  /**
   * The body of a sealed text this process sealed lately, or undefined. It says nothing of
   * whether the text may still be opened: the caller opens it only with its key at hand.
   */
  sealedBodyOf(sealed: SealedText, boundTo: string): string | undefined {
    const noted = this.sealedHere.peek(boundTo);
    return noted !== undefined && noted.ciphertext === sealed.ciphertext && noted.keyId === sealed.keyId ? noted.body : undefined;
  }

  /**
   * The keys of these ids when every one of them is cached (so none is destroyed), else
   * undefined: then `keysById` must ask the store. Lets a reader open without waiting.
   */
  keysAtHand(keyIds: Iterable<string>): Map<string, DataKey> | undefined {
    const found = new Map<string, DataKey>();
    for (const keyId of keyIds) {
      const cached = this.byId.get(keyId);
      if (cached === undefined) return undefined;
      found.set(keyId, cached);
    }
    return found;
  }

  /** The keys of these ids that exist (not destroyed), unwrapped; at most one query for the ones not cached. */
  async keysById(keyIds: Iterable<string>): Promise<Map<string, DataKey>> {
    const found = new Map<string, DataKey>();
    const missing: string[] = [];
    for (const keyId of new Set(keyIds)) {
      const cached = this.byId.get(keyId);
      if (cached !== undefined) found.set(keyId, cached);
      else missing.push(keyId);
    }
    if (missing.length > 0) {
      for (const row of await this.store.findByIds(missing)) found.set(row.keyId, this.remember(row));
    }
    return found;
  }

  /** Destroys every key of a sender (erasure); answers the rooms it had keys in. */
  async destroySenderKeys(senderId: string): Promise<{ destroyed: number; roomIds: string[] }> {
    const destroyed = await this.store.destroyBySender(senderId);
    this.forgetSender(senderId);
    return { destroyed: destroyed.length, roomIds: [...new Set(destroyed.map((d) => d.roomId))] };
  }

  /** Destroys every key of a room, of every sender (retention). */
  async destroyRoomKeys(roomId: string): Promise<{ destroyed: number }> {
    const destroyed = await this.store.destroyByRoom(roomId);
    this.forgetRoom(roomId);
    return { destroyed: destroyed.length };
  }

  /** Drops a sender's keys from this process's cache: another process destroyed them. */
  forgetSender(senderId: string): void {
    this.byId.deleteWhere((_, key) => key.senderId === senderId);
    this.live.deleteWhere((slot) => slot.endsWith(`\u0000${senderId}`));
    this.sealedHere.deleteWhere((_, noted) => noted.senderId === senderId);
  }

  /** Drops a room's keys from this process's cache. */
  forgetRoom(roomId: string): void {
    this.byId.deleteWhere((_, key) => key.roomId === roomId);
    this.live.deleteWhere((slot) => slot.startsWith(`${roomId}\u0000`));
    this.sealedHere.deleteWhere((_, noted) => noted.roomId === roomId);
  }

  /**
   * One step of a key-encryption key rotation: re-wraps up to `batch` keys wrapped under an
   * older key-encryption key with the newest. Resumable: each step picks up what is left.
   */
  async rewrapStep(batch = 500): Promise<RewrapProgress> {
    const rows = await this.store.findWrappedOtherThan(this.ring.currentId, batch);
    let rewrapped = 0;
    for (const row of rows) {
      const key = this.ring.unwrap(row.keyId, row.kekId, row.wrapped);
      if (await this.store.rewrap(row.keyId, row.kekId, this.ring.wrap(row.keyId, key))) rewrapped += 1;
    }
    return { rewrapped, done: rows.length < batch };
  }

  /** How many live keys are still wrapped under an older key-encryption key. */
  rewrapRemaining(): Promise<number> {
    return this.store.countWrappedOtherThan(this.ring.currentId);
  }

  /** The id of the key-encryption key new wrappings use (the first of DATA_KEY_ENCRYPTION_KEY). */
  get currentKeyEncryptionKeyId(): string {
    return this.ring.currentId;
  }

  /**
   * The live key of (room, sender) from the store, made now when there is none. The keys
   * asked for at about the same time (a burst of first messages) are found or made in
   * one statement, one at a time: a key is made by a commit of its own before the
   * message sealed under it is appended, so a key a stored message needs is stored.
   */
  private findOrMake(roomId: string, senderId: string): Promise<DataKey> {
    return new Promise((resolve, reject) => {
      this.toMake.push({ roomId, senderId, resolve, reject });
      this.scheduleBatch();
    });
  }

  private scheduleBatch(): void {
    if (this.makingBatch || this.batchScheduled) return;
    this.batchScheduled = true;
    setImmediate(() => {
      this.batchScheduled = false;
      void this.makeBatch();
    });
  }

  private async makeBatch(): Promise<void> {
    const batch = this.toMake;
    if (batch.length === 0) return;
    this.toMake = [];
    this.makingBatch = true;
    try {
      const fresh = batch.map(({ roomId, senderId }) => {
        const keyId = randomUUID();
        return { keyId, roomId, senderId, ...this.ring.wrap(keyId, randomBytes(32)) };
      });
      const stored = await this.store.findOrInsertLive(fresh);
      const bySlot = new Map(stored.map((row) => [liveSlot(row.roomId, row.senderId), row]));
      for (const asking of batch) {
        const row = bySlot.get(liveSlot(asking.roomId, asking.senderId));
        if (row === undefined) asking.reject(new Error(`no data key came back for room ${asking.roomId} and sender ${asking.senderId}`));
        else asking.resolve(this.remember(row));
      }
    } catch (error) {
      for (const asking of batch) asking.reject(error);
    } finally {
      this.makingBatch = false;
      if (this.toMake.length > 0) this.scheduleBatch();
    }
  }

  private remember(row: WrappedDataKey): DataKey {
    const key: DataKey = { keyId: row.keyId, roomId: row.roomId, senderId: row.senderId, key: this.ring.unwrap(row.keyId, row.kekId, row.wrapped) };
    this.byId.set(key.keyId, key);
    this.live.set(liveSlot(row.roomId, row.senderId), key.keyId);
    return key;
  }
}

function liveSlot(roomId: string, senderId: string): string {
  return `${roomId}\u0000${senderId}`;
}

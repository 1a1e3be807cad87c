import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A key-encryption key: its id is recorded beside every data key it wraps. */
export interface KeyEncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The data key's wrapping names a key-encryption key the configuration no longer holds. */
export class UnknownKeyEncryptionKeyError extends Error {
  constructor(readonly kekId: string) {
    super(`data key wrapped under key-encryption key ${kekId}, which DATA_KEY_ENCRYPTION_KEY does not hold`);
    this.name = 'UnknownKeyEncryptionKeyError';
  }
}

/**
 * The key-encryption keys of this process, newest first (DATA_KEY_ENCRYPTION_KEY). Data
 * keys are wrapped with AES-256-GCM under the newest; the data key's id is the additional
 * data, so a wrapped key moved to another row does not unwrap.
 */
export class KeyRing {
  constructor(private readonly keys: readonly KeyEncryptionKey[]) {
    if (keys.length === 0) throw new Error('a key ring needs at least one key-encryption key');
  }

  /** The id of the key new wrappings use. */
  get currentId(): string {
    return (this.keys[0] as KeyEncryptionKey).id;
  }

  holds(kekId: string): boolean {
    return this.keys.some((k) => k.id === kekId);
  }

  wrap(keyId: string, dataKey: Buffer): { kekId: string; wrapped: Buffer } {
    const kek = this.keys[0] as KeyEncryptionKey;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', kek.key, iv);
    cipher.setAAD(Buffer.from(keyId));
    const wrapped = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return { kekId: kek.id, wrapped };
  }

  unwrap(keyId: string, kekId: string, wrapped: Buffer): Buffer {
    const kek = this.keys.find((k) => k.id === kekId);
    if (kek === undefined) throw new UnknownKeyEncryptionKeyError(kekId);
    const decipher = createDecipheriv('aes-256-gcm', kek.key, wrapped.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES));
    return Buffer.concat([decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)), decipher.final()]);
  }
}

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Personal bytes as stored (a photo and its thumbnail): AES-256-GCM under a data key.
 * Layout: `RCS1`, one byte giving the key id's length, the key id (ASCII), the 12-byte IV,
 * the ciphertext and the 16-byte tag. The key id travels with the bytes because the
 * attachment store knows nothing of keys; the additional data binds the bytes to where
 * they belong (attachment id and rendition), so bytes copied onto another attachment do
 * not open. Bytes without the prefix were stored before photos were sealed and are
 * returned as they are (a JPEG, PNG or WebP never starts with `RCS1`).
 */
const MAGIC = Buffer.from('RCS1', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function sealBytes(key: Buffer, keyId: string, data: Buffer, boundTo: string): Buffer {
  const id = Buffer.from(keyId, 'ascii');
  if (id.length > 255) throw new Error('a data key id is at most 255 characters');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(boundTo));
  return Buffer.concat([MAGIC, Buffer.of(id.length), id, iv, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
}

export type StoredBytes =
  | { sealed: false; data: Buffer }
  | { sealed: true; keyId: string; open(key: Buffer): Buffer | null };

/** What stored bytes are: in the clear (stored before sealing), or sealed under a named key. */
export function readStoredBytes(stored: Buffer, boundTo: string): StoredBytes {
  if (stored.length < MAGIC.length + 1 || !stored.subarray(0, MAGIC.length).equals(MAGIC)) return { sealed: false, data: stored };
  const idLength = stored[MAGIC.length]!;
  const start = MAGIC.length + 1 + idLength;
  if (stored.length < start + IV_BYTES + TAG_BYTES) return { sealed: false, data: stored };
  const keyId = stored.subarray(MAGIC.length + 1, start).toString('ascii');
  return {
    sealed: true,
    keyId,
    open(key: Buffer): Buffer | null {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(start, start + IV_BYTES));
        decipher.setAAD(Buffer.from(boundTo));
        decipher.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
        return Buffer.concat([decipher.update(stored.subarray(start + IV_BYTES, stored.length - TAG_BYTES)), decipher.final()]);
      } catch {
        return null;
      }
    },
  };
}

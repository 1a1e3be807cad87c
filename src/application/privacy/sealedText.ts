import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';

/**
 * Personal text as stored: AES-256-GCM under a data key, `v1.` + base64url of the 12-byte
 * IV, the ciphertext and the 16-byte tag. The additional data binds it to where it
 * belongs (e.g. the message id), so a sealed text copied elsewhere does not open.
 */
export interface SealedText {
  /** The data key it is sealed under. */
  keyId: string;
  ciphertext: string;
}

const PREFIX = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Random IVs are cut from a pool filled 512 at a time: one system call per 512 seals
 * instead of one each (each IV is used once; the pool is refilled, never reread).
 */
const ivPool = Buffer.alloc(IV_BYTES * 512);
let ivTaken = ivPool.length;

function freshIv(): Buffer {
  if (ivTaken + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivTaken = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivTaken, ivTaken + IV_BYTES));
  ivTaken += IV_BYTES;
  return iv;
}

export function sealText(key: Buffer, keyId: string, text: string, boundTo: string): SealedText {
  const iv = freshIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(boundTo));
  const sealed = Buffer.concat([iv, cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { keyId, ciphertext: PREFIX + sealed.toString('base64url') };
}

/** The text, or null when it does not open under this key (a wrong key or a changed ciphertext). */
export function openText(key: Buffer, sealed: SealedText, boundTo: string): string | null {
  if (!sealed.ciphertext.startsWith(PREFIX)) return null;
  const bytes = Buffer.from(sealed.ciphertext.slice(PREFIX.length), 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** SHA-256 (hex) of what is stored: lets an auditor tie an erased message to its event. */
export function sealedDigest(sealed: SealedText): string {
  return createHash('sha256').update(sealed.ciphertext).digest('hex');
}

export function isSealedText(value: unknown): value is SealedText {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SealedText).keyId === 'string' &&
    typeof (value as SealedText).ciphertext === 'string'
  );
}

import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, type ECDH } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** A browser's side of a push subscription: its P-256 key pair and auth secret. */
export interface BrowserSubscription {
  ecdh: ECDH;
  auth: Buffer;
  /** What `PushSubscription.toJSON()` gives a server. */
  json(endpoint: string): { endpoint: string; keys: { p256dh: string; auth: string } };
}

export function newBrowserSubscription(): BrowserSubscription {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh,
    auth,
    json: (endpoint) => ({ endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } }),
  };
}

/**
 * Decrypts a Web Push message body as the browser does (RFC 8291 over RFC 8188's
 * aes128gcm): header salt(16) | record size(4) | key id length(1) | the sender's
 * public key; then ECDH with the subscription's private key, HKDF keyed with the
 * auth secret, and AES-128-GCM. One record, padding ended by the 0x02 delimiter.
 */
export function decryptPush(body: Buffer, subscription: BrowserSubscription): string {
  const salt = body.subarray(0, 16);
  const idLength = body.readUInt8(20);
  const senderPublicKey = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  const ecdhSecret = subscription.ecdh.computeSecret(senderPublicKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), subscription.ecdh.getPublicKey(), senderPublicKey]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, subscription.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (padded[end] !== 2) throw new Error('not the last record of an aes128gcm message');
  return padded.subarray(0, end).toString('utf8');
}

/**
 * Checks the VAPID `Authorization: vapid t=<jwt>, k=<key>` header (RFC 8292): the JWT is
 * ES256-signed by the key, for the push service's origin. Returns the key.
 */
export function verifyVapid(authorization: string, endpoint: string): { publicKey: string; subject: string } {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization);
  if (match === null) throw new Error(`not a VAPID authorization: ${authorization}`);
  const [, token, key] = match as unknown as [string, string, string];
  const raw = Buffer.from(key, 'base64url');
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') },
    format: 'jwk',
  });
  const claims = jwt.verify(token, publicKey, { algorithms: ['ES256'], audience: new URL(endpoint).origin }) as { sub: string };
  return { publicKey: key, subject: claims.sub };
}

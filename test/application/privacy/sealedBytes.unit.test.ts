import { randomBytes } from 'node:crypto';
import { readStoredBytes, sealBytes } from '../../../src/application/privacy/sealedBytes';

describe('sealed photo bytes', () => {
  const key = randomBytes(32);
  const image = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(2000)]);

  it('open under their key, bound to where they were stored, and name the key', () => {
    const stored = sealBytes(key, 'key-1', image, 'a/image');
    expect(stored.includes(image.subarray(4, 68))).toBe(false);
    const read = readStoredBytes(stored, 'a/image');
    expect(read.sealed && read.keyId).toBe('key-1');
    expect(read.sealed && read.open(key)?.equals(image)).toBe(true);
  });

  it('do not open under another key, at another place, or once changed', () => {
    const stored = sealBytes(key, 'key-1', image, 'a/image');
    const elsewhere = readStoredBytes(stored, 'b/image');
    expect(elsewhere.sealed && elsewhere.open(key)).toBeNull();
    const read = readStoredBytes(stored, 'a/image');
    expect(read.sealed && read.open(randomBytes(32))).toBeNull();
    const changed = Buffer.from(stored);
    changed.writeUInt8(changed.readUInt8(changed.length - 40) ^ 1, changed.length - 40);
    const readChanged = readStoredBytes(changed, 'a/image');
    expect(readChanged.sealed && readChanged.open(key)).toBeNull();
  });

  it('come back as they are when stored before sealing (a plain image)', () => {
    const read = readStoredBytes(image, 'a/image');
    expect(read).toEqual({ sealed: false, data: image });
  });
});

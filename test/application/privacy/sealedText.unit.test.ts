import { randomBytes } from 'node:crypto';
import { openText, sealText } from '../../../src/application/privacy/sealedText';

describe('sealed text', () => {
  const key = randomBytes(32);

  it('opens what it sealed, only under its key and where it was bound', () => {
    const sealed = sealText(key, 'k1', 'door code 4711', 'message-1');
    expect(sealed.ciphertext.startsWith('v1.')).toBe(true);
    expect(openText(key, sealed, 'message-1')).toBe('door code 4711');
    expect(openText(key, sealed, 'message-2')).toBeNull();
    expect(openText(randomBytes(32), sealed, 'message-1')).toBeNull();
  });

  it('never uses an IV twice, across refills of its pool of random IVs', () => {
    const ivs = new Set<string>();
    for (let i = 0; i < 2_000; i += 1) {
      const bytes = Buffer.from(sealText(key, 'k1', 'same words', 'message-1').ciphertext.slice(3), 'base64url');
      ivs.add(bytes.subarray(0, 12).toString('hex'));
    }
    expect(ivs.size).toBe(2_000);
  });
});

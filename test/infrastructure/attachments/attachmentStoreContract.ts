import { randomBytes, randomUUID } from 'node:crypto';
import { storageKey, type AttachmentStore } from '../../../src/application/ports/attachments';

/**
 * What every attachment store promises (the AttachmentStore port), run against each
 * adapter: bytes come back exactly as put, with their type; a missing key is null;
 * delete removes what it names and nothing else.
 */
export function attachmentStoreContract(name: string, open: () => Promise<{ store: AttachmentStore; close(): Promise<void> }>): void {
  describe(`attachment store contract: ${name}`, () => {
    let store: AttachmentStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => {
      await close();
    });
    const key = (variant: 'image' | 'thumbnail' = 'image') => storageKey(randomUUID(), variant);

    it('gives back exactly the bytes put, with their content type, for an image of a few megabytes', async () => {
      const data = Buffer.concat([Buffer.from([0x00, 0xff, 0xd8, 0x00]), randomBytes(3 * 1024 * 1024)]);
      const k = key();
      await store.put(k, data, 'image/jpeg');
      const got = await store.get(k);
      expect(got?.contentType).toBe('image/jpeg');
      expect(got?.data.equals(data)).toBe(true);
    });

    it('answers null for a key nothing was put under', async () => {
      expect(await store.get(key())).toBeNull();
    });

    it('replaces what a second put under the same key stores', async () => {
      const k = key('thumbnail');
      await store.put(k, Buffer.from('first'), 'image/png');
      await store.put(k, Buffer.from('second'), 'image/webp');
      const got = await store.get(k);
      expect(got?.data.toString()).toBe('second');
      expect(got?.contentType).toBe('image/webp');
    });

    it('deletes the keys it is given and no other; missing keys and an empty list are no error', async () => {
      const [a, b, kept] = [key(), key('thumbnail'), key()];
      for (const k of [a, b, kept]) await store.put(k, randomBytes(100), 'image/png');
      await store.delete([a, b, key()]);
      await store.delete([]);
      expect(await store.get(a)).toBeNull();
      expect(await store.get(b)).toBeNull();
      expect((await store.get(kept))?.data.length).toBe(100);
    });

    it('keeps every one of many puts made at once', async () => {
      const items = Array.from({ length: 20 }, () => ({ k: key(), data: randomBytes(10_000) }));
      await Promise.all(items.map((item) => store.put(item.k, item.data, 'image/jpeg')));
      for (const item of items) expect((await store.get(item.k))?.data.equals(item.data)).toBe(true);
    });
  });
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { randomBytes, randomUUID } from 'node:crypto';
import { migrateDatabase, migrations } from '../../../src/infrastructure/migrations';
import { runMigrations } from '../../../src/infrastructure/migrations/runner';
import { attachmentBlobParts } from '../../../src/infrastructure/migrations/014_attachment_blob_parts';
import { PART_BYTES, PostgresAttachmentStore } from '../../../src/infrastructure/attachments/postgresAttachmentStore';
import { storageKey } from '../../../src/application/ports/attachments';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { S3AttachmentStore } from '../../../src/infrastructure/attachments/s3AttachmentStore';
import { createTestDatabase, databaseKinds } from '../../support/databases';
import { attachmentStoreContract } from './attachmentStoreContract';

for (const kind of databaseKinds) {
  attachmentStoreContract(`PostgreSQL adapter on ${kind}`, async () => {
    const database = await createTestDatabase(kind);
    const db = await database.connect();
    await migrateDatabase(db);
    return { store: new PostgresAttachmentStore(db), close: () => database.drop() };
  });
}

for (const kind of databaseKinds) {
  describe(`PostgreSQL adapter on ${kind}: bytes in parts`, () => {
    let db: SqlDatabase;
    let close: () => Promise<void>;
    // A photo stored before parts existed: the schema as it was then, the row written whole.
    const before = { key: storageKey(randomUUID(), 'image'), data: randomBytes(2 * PART_BYTES + 1234) };
    beforeAll(async () => {
      const database = await createTestDatabase(kind);
      db = await database.connect();
      close = () => database.drop();
      await runMigrations(db, migrations.filter((m) => m !== attachmentBlobParts));
      await db.query(`INSERT INTO attachment_blobs (key, content_type, data) VALUES ($1, 'image/jpeg', decode($2, 'base64'))`, [before.key, before.data.toString('base64')]);
      await migrateDatabase(db);
    });
    afterAll(async () => {
      await close();
    });
    const partsOf = async (key: string) =>
      (await db.query<{ part: number; bytes: number }>(`SELECT part, octet_length(data) AS bytes FROM attachment_blob_parts WHERE key = $1 ORDER BY part`, [key])).rows;

    it('still reads a photo stored whole before parts existed, and a put over it replaces it', async () => {
      const got = await new PostgresAttachmentStore(db).get(before.key);
      expect(got?.contentType).toBe('image/jpeg');
      expect(got?.data.equals(before.data)).toBe(true);
      const next = randomBytes(1000);
      await new PostgresAttachmentStore(db).put(before.key, next, 'image/png');
      expect((await new PostgresAttachmentStore(db).get(before.key))?.data.equals(next)).toBe(true);
      const { rows } = await db.query<{ inline: boolean }>(`SELECT data IS NOT NULL AS inline FROM attachment_blobs WHERE key = $1`, [before.key]);
      expect(rows).toEqual([{ inline: false }]);
    });

    it('writes a photo of megabytes as parts of at most 256 KiB, and a second put leaves none of the first behind', async () => {
      const store = new PostgresAttachmentStore(db);
      const key = storageKey(randomUUID(), 'image');
      await store.put(key, randomBytes(5 * 1024 * 1024 + 7), 'image/jpeg');
      const parts = await partsOf(key);
      expect(parts).toHaveLength(21);
      expect(Math.max(...parts.map((p) => Number(p.bytes)))).toBe(PART_BYTES);
      const second = randomBytes(PART_BYTES + 1);
      await store.put(key, second, 'image/jpeg');
      expect((await partsOf(key)).map((p) => Number(p.bytes))).toEqual([PART_BYTES, 1]);
      expect((await store.get(key))?.data.equals(second)).toBe(true);
      await store.delete([key]);
      expect(await partsOf(key)).toEqual([]);
    });
  });
}

/**
 * The S3 adapter against S3_TEST_ENDPOINT when set (a real S3-compatible server: S3_TEST_BUCKET,
 * S3_TEST_REGION and the AWS credentials with it), else against s3rver on loopback.
 */
attachmentStoreContract(process.env.S3_TEST_ENDPOINT ? `S3 adapter at ${process.env.S3_TEST_ENDPOINT}` : 'S3 adapter on s3rver (loopback)', async () => {
  const endpoint = process.env.S3_TEST_ENDPOINT;
  if (endpoint !== undefined) {
    const store = new S3AttachmentStore({
      bucket: process.env.S3_TEST_BUCKET ?? 'chat-attachments-test',
      endpoint,
      region: process.env.S3_TEST_REGION ?? 'us-east-1',
      forcePathStyle: true,
    });
    return { store, close: async () => store.close() };
  }
  const directory = mkdtempSync(path.join(tmpdir(), 'chat-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'chat-attachments', configs: [] }] });
  const address = await server.run();
  const store = new S3AttachmentStore({
    bucket: 'chat-attachments',
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    // s3rver's fixed credentials; it checks the request signatures made with them.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    store,
    close: async () => {
      store.close();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
});

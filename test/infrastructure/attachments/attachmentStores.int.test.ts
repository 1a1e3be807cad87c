import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { PostgresAttachmentStore } from '../../../src/infrastructure/attachments/postgresAttachmentStore';
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

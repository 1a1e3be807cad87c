import type { AttachmentStore } from '../../application/ports/attachments';
import type { AttachmentStoreConfig } from '../../config';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { PostgresAttachmentStore } from './postgresAttachmentStore';
import { S3AttachmentStore } from './s3AttachmentStore';

/** The attachment store ATTACHMENT_STORE names. */
export function openAttachmentStore(config: AttachmentStoreConfig, db: SqlDatabase): AttachmentStore {
  switch (config.kind) {
    case 'postgres':
      return new PostgresAttachmentStore(db);
    case 's3':
      return new S3AttachmentStore(config);
    default: {
      const exhaustive: never = config;
      return exhaustive;
    }
  }
}

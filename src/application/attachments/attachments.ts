import { RoomExpiredError, RoomNotFoundError } from '../../domain/room';
import { DomainError } from '../../domain/shared/decider';
import {
  ImageRefusedError,
  storageKey,
  type AttachmentCatalog,
  type AttachmentRecord,
  type AttachmentStore,
  type AttachmentVariant,
  type ImagePipeline,
  type ImageType,
} from '../ports/attachments';
import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/ids';
import type { Logger } from '../ports/logger';
import type { ChatQueries } from '../ports/readModels';
import type { UploadBudget } from './uploadBudget';

export class UploadBudgetSpentError extends DomainError {
  constructor() {
    super('rate_limited', 'too many uploads or too many bytes uploaded in the last minute; try again in a moment');
  }
}

export interface AttachmentDeps {
  store: AttachmentStore;
  catalog: AttachmentCatalog;
  pipeline: ImagePipeline;
  rooms: Pick<ChatQueries, 'getRoom'>;
  budget: UploadBudget;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** An attachment never sent is deleted this long after its upload. */
  unsentTtlMs: number;
}

export type Attachments = ReturnType<typeof makeAttachments>;

/** The photo attachment use cases: upload, the checks of a send, download, and the orphan sweep. */
export function makeAttachments(deps: AttachmentDeps) {
  return {
    /**
     * Before an upload's body is read: the caller is a participant of this open room and
     * has budget left. Throws the refusal otherwise.
     */
    async admitUpload(roomId: string, userId: string): Promise<void> {
      const room = await deps.rooms.getRoom(roomId, userId);
      if (room === null) throw new RoomNotFoundError(roomId);
      if (room.status !== 'open') throw new RoomExpiredError(roomId);
      if (!deps.budget.tryStart(userId)) throw new UploadBudgetSpentError();
    },

    /** The image type of an upload from its first bytes; throws ImageRefusedError when it is none accepted. */
    async typeOf(head: Uint8Array): Promise<ImageType> {
      const type = await deps.pipeline.sniff(head);
      if (type === null) throw new ImageRefusedError('unsupported_type', 'the body is not a JPEG, PNG or WebP image');
      return type;
    },

    /** Decodes, strips and stores an admitted upload; the record comes back. */
    async upload(roomId: string, userId: string, data: Buffer): Promise<AttachmentRecord> {
      deps.budget.charge(userId, data.length);
      const type = await this.typeOf(data.subarray(0, 4100));
      const processed = await deps.pipeline.process(data, type);
      const attachmentId = deps.ids.newId();
      // Both renditions are stored before the record exists: a record always has its bytes.
      await deps.store.put(storageKey(attachmentId, 'image'), processed.image.data, processed.image.rendition.contentType);
      await deps.store.put(storageKey(attachmentId, 'thumbnail'), processed.thumbnail.data, processed.thumbnail.rendition.contentType);
      const record: AttachmentRecord = {
        attachmentId,
        roomId,
        uploaderId: userId,
        image: processed.image.rendition,
        thumbnail: processed.thumbnail.rendition,
        uploadedAt: deps.clock.now().toISOString(),
        sentBy: null,
      };
      await deps.catalog.record(record);
      return record;
    },

    /** The stored bytes of one rendition, or null when the attachment (or its bytes) is gone. */
    async open(attachmentId: string, variant: AttachmentVariant): Promise<{ record: AttachmentRecord; data: Buffer; contentType: string } | null> {
      const record = await deps.catalog.get(attachmentId);
      if (record === null) return null;
      const stored = await deps.store.get(storageKey(attachmentId, variant));
      if (stored === null) return null;
      return { record, data: stored.data, contentType: stored.contentType };
    },

    /** Deletes the attachments uploaded more than the TTL ago and never sent; how many went. */
    async deleteUnsent(): Promise<number> {
      const before = new Date(deps.clock.now().getTime() - deps.unsentTtlMs);
      let deleted = 0;
      for (;;) {
        const batch = await deps.catalog.unsentBefore(before, 100);
        for (const attachment of batch) {
          await deps.store.delete([storageKey(attachment.attachmentId, 'image'), storageKey(attachment.attachmentId, 'thumbnail')]);
          await deps.catalog.remove(attachment.attachmentId);
          deleted += 1;
        }
        if (batch.length < 100) return deleted;
      }
    },
  };
}

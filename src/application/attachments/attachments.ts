import { InvalidCommandError, RoomExpiredError, RoomNotFoundError, type MessageAttachment } from '../../domain/room';
import { DomainError } from '../../domain/shared/decider';
import {
  ImageRefusedError,
  storageKey,
  type AttachmentCatalog,
  type AttachmentClaims,
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
import type { UploadSlots } from './uploadSlots';
import type { DataKeys } from '../privacy/dataKeys';
import { readStoredBytes } from '../privacy/sealedBytes';

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
  /** Uploads this process handles at once. */
  slots: UploadSlots;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** An attachment never sent is deleted this long after its upload. */
  unsentTtlMs: number;
  /** The bytes are sealed under the uploader's data key in the room (docs/privacy.md). */
  keys: Pick<DataKeys, 'keyFor' | 'keysById'>;
}

/**
 * Stored bytes, opened: the image; `erased` when its data key was destroyed (erasure,
 * retention); `unreadable` when they do not open under their key (changed after upload).
 */
type Opened = { kind: 'clear'; data: Buffer } | { kind: 'erased' } | { kind: 'unreadable'; stored: Buffer };

export type Attachments = ReturnType<typeof makeAttachments>;

async function openStoredPhoto(
  store: AttachmentStore,
  keys: Pick<DataKeys, 'keysById'>,
  attachmentId: string,
  variant: AttachmentVariant,
): Promise<{ opened: Opened; contentType: string } | null> {
  const key = storageKey(attachmentId, variant);
  const stored = await store.get(key);
  if (stored === null) return null;
  const read = readStoredBytes(stored.data, key);
  if (!read.sealed) return { opened: { kind: 'clear', data: read.data }, contentType: stored.contentType };
  const dataKey = (await keys.keysById([read.keyId])).get(read.keyId);
  if (dataKey === undefined) return { opened: { kind: 'erased' }, contentType: stored.contentType };
  const data = read.open(dataKey.key);
  return { opened: data === null ? { kind: 'unreadable', stored: stored.data } : { kind: 'clear', data }, contentType: stored.contentType };
}

/**
 * What `audit verify` digests: a photo's image as uploaded, or null when there is none to
 * check (never stored, deleted, or its key destroyed). Bytes that no longer open under
 * their key come back as stored, so their digest shows them replaced.
 */
export function auditedPhotoBytes(store: AttachmentStore, keys: Pick<DataKeys, 'keysById'>) {
  return async (attachmentId: string, variant: AttachmentVariant): Promise<Buffer | null> => {
    const found = await openStoredPhoto(store, keys, attachmentId, variant);
    if (found === null || found.opened.kind === 'erased') return null;
    return found.opened.kind === 'clear' ? found.opened.data : found.opened.stored;
  };
}

/** The photo attachment use cases: upload, the checks of a send, download, and the orphan sweep. */
export function makeAttachments(deps: AttachmentDeps) {
  const openStored = (attachmentId: string, variant: AttachmentVariant) => openStoredPhoto(deps.store, deps.keys, attachmentId, variant);

  return {
    /**
     * Before an upload's body is read: the caller is a participant of this open room, the
     * process has a free upload slot, and the caller has budget left. Throws the refusal
     * otherwise; the function returned gives the slot back once the upload is answered.
     */
    async admitUpload(roomId: string, userId: string): Promise<() => void> {
      const room = await deps.rooms.getRoom(roomId, userId);
      if (room === null) throw new RoomNotFoundError(roomId);
      if (room.status !== 'open') throw new RoomExpiredError(roomId);
      // The slot first: an upload refused for want of one costs the user none of their budget.
      const release = deps.slots.take();
      if (!deps.budget.tryStart(userId)) {
        release();
        throw new UploadBudgetSpentError();
      }
      return release;
    },

    /** The image type of an upload from its first bytes; throws ImageRefusedError when it is none accepted. */
    async typeOf(head: Uint8Array): Promise<ImageType> {
      const type = await deps.pipeline.sniff(head);
      if (type === null) throw new ImageRefusedError('unsupported_type', 'the body is not a JPEG, PNG or WebP image');
      return type;
    },

    /** Decodes, strips, seals and stores an admitted upload; the record comes back. */
    async upload(roomId: string, userId: string, data: Buffer): Promise<AttachmentRecord> {
      deps.budget.charge(userId, data.length);
      const type = await this.typeOf(data.subarray(0, 4100));
      const attachmentId = deps.ids.newId();
      // Sealed under the uploader's key in this room, like their messages: destroying it
      // (erasure, retention) leaves bytes nobody can open, wherever copies of them are.
      // The pipeline seals where it decodes, off the event loop.
      const dataKey = await deps.keys.keyFor(roomId, userId);
      const imageKey = storageKey(attachmentId, 'image');
      const thumbnailKey = storageKey(attachmentId, 'thumbnail');
      const processed = await deps.pipeline.process(data, type, { keyId: dataKey.keyId, key: dataKey.key, boundTo: { image: imageKey, thumbnail: thumbnailKey } });
      // Both renditions are stored before the record exists: a record always has its bytes.
      await deps.store.put(imageKey, processed.image.stored, processed.image.rendition.contentType);
      await deps.store.put(thumbnailKey, processed.thumbnail.stored, processed.thumbnail.rendition.contentType);
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

    /** The attachments a send takes (the AttachmentClaims port). */
    claims: {
      async claim(attachmentIds: readonly string[], roomId: string, senderId: string, clientMessageId: string): Promise<MessageAttachment[]> {
        const taken: MessageAttachment[] = [];
        for (const [index, attachmentId] of attachmentIds.entries()) {
          const outcome = await deps.catalog.claim(attachmentId, roomId, senderId, clientMessageId);
          if (outcome !== 'claimed') {
            // Nothing of a refused send stays claimed.
            for (const claimed of taken) await deps.catalog.unclaim(claimed.attachmentId, senderId, clientMessageId);
            throw new InvalidCommandError(
              `attachments[${index}]`,
              outcome === 'already_sent'
                ? `attachment ${attachmentId} was already sent in another message; upload the photo again to send it again`
                : `no attachment ${attachmentId} uploaded by you to this room (an attachment is sent in the room it was uploaded to, within a day)`,
            );
          }
          const record = await deps.catalog.get(attachmentId);
          if (record === null) throw new InvalidCommandError(`attachments[${index}]`, `attachment ${attachmentId} is gone`);
          taken.push({ attachmentId, ...record.image, thumbnail: record.thumbnail });
        }
        return taken;
      },
      async release(attachmentIds: readonly string[], _roomId: string, senderId: string, clientMessageId: string): Promise<void> {
        for (const attachmentId of attachmentIds) await deps.catalog.unclaim(attachmentId, senderId, clientMessageId);
      },
    } satisfies AttachmentClaims,

    /** The image of one rendition, opened, or null when the attachment, its bytes or its key is gone. */
    async open(attachmentId: string, variant: AttachmentVariant): Promise<{ record: AttachmentRecord; data: Buffer; contentType: string } | null> {
      const record = await deps.catalog.get(attachmentId);
      if (record === null) return null;
      const found = await openStored(attachmentId, variant);
      if (found === null || found.opened.kind === 'erased') return null;
      if (found.opened.kind === 'unreadable') {
        deps.logger.warn({ attachmentId, variant }, 'stored attachment bytes do not open under their data key: changed after upload');
        return null;
      }
      return { record, data: found.opened.data, contentType: found.contentType };
    },

    /** What `audit verify` digests (auditedPhotoBytes). */
    storedBytes: auditedPhotoBytes(deps.store, deps.keys),

    /**
     * Erasure's seam: deletes the bytes and the record of every photo this user uploaded,
     * sent or not. The MessageSent events keep each photo's metadata and digest (the
     * record is append-only); the images themselves are gone. How many went.
     */
    async eraseUploadsOf(userId: string): Promise<number> {
      const uploads = await deps.catalog.uploadedBy(userId);
      for (const attachment of uploads) {
        await deps.store.delete([storageKey(attachment.attachmentId, 'image'), storageKey(attachment.attachmentId, 'thumbnail')]);
        await deps.catalog.remove(attachment.attachmentId);
      }
      return uploads.length;
    },

    /**
     * Retention (docs/privacy.md): deletes the photos sent in a room whose messages its
     * retention erased, bytes and record; the events keep their metadata and digests. How many went.
     */
    async eraseSentIn(roomId: string): Promise<number> {
      const sent = await deps.catalog.sentIn(roomId);
      for (const attachment of sent) {
        await deps.store.delete([storageKey(attachment.attachmentId, 'image'), storageKey(attachment.attachmentId, 'thumbnail')]);
        await deps.catalog.remove(attachment.attachmentId);
      }
      return sent.length;
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

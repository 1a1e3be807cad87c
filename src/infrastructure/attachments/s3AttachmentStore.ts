import { DeleteObjectsCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { AttachmentStore, ImageType } from '../../application/ports/attachments';

export interface S3StoreOptions {
  bucket: string;
  /** Null: AWS's own endpoint for the region. */
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Attachment bytes in an S3 bucket (AWS S3, or any S3-compatible server: MinIO, Ceph, R2),
 * one object per rendition under its key. The bucket must exist; the service never
 * makes it public: images leave only through the service's signed URLs.
 */
export class S3AttachmentStore implements AttachmentStore {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(private readonly options: S3StoreOptions) {
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Checksums only where S3 requires them: S3-compatible servers do not all know the newer ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.endpoint !== null ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    });
  }

  async put(key: string, data: Buffer, contentType: ImageType): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: data, ContentType: contentType }));
  }

  async get(key: string): Promise<{ data: Buffer; contentType: string } | null> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      if (answer.Body === undefined) return null;
      const data = Buffer.from(await answer.Body.transformToByteArray());
      return { data, contentType: answer.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return null;
      throw error;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    // DeleteObjects takes at most 1,000 keys a call; deleting a missing key is no error in S3.
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const answer = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      const failed = answer.Errors?.[0];
      if (failed !== undefined) throw new Error(`S3 refused to delete ${failed.Key ?? 'an object'}: ${failed.Code ?? ''} ${failed.Message ?? ''}`);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

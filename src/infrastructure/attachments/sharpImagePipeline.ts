import { webcrypto } from 'node:crypto';
import { fromBuffer as fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import {
  ACCEPTED_IMAGE_TYPES,
  ImageRefusedError,
  type ImagePipeline,
  type ImageType,
  type ProcessedImage,
  type Rendition,
  type RenditionSealing,
} from '../../application/ports/attachments';
import { sealBytes } from '../../application/privacy/sealedBytes';

/** The thumbnail's longer side, in pixels. */
export const THUMBNAIL_SIZE = 320;


// One libvips thread per image: several uploads at once share the cores with the chat
// rather than each taking them all (the pipelines themselves run on libuv's pool).
sharp.concurrency(1);
// No cache of decoded images: each upload is seen once.
sharp.cache(false);

/**
 * The image pipeline on sharp (libvips): decode, apply the EXIF orientation, write the
 * pixels again with no metadata (sharp keeps none unless asked: no EXIF, GPS, XMP, IPTC
 * or ICC profile; colour is converted to sRGB), and a thumbnail; then seals both under
 * the uploader's data key. Decoding runs on libuv's thread pool, and so does hashing
 * (WebCrypto); sealing (AES-256-GCM over megabytes) runs on the calling thread, which in
 * the server is an image worker process (imageWorkerPool.ts), never the event loop.
 */
export class SharpImagePipeline implements ImagePipeline {
  constructor(private readonly maxPixels: number) {}

  async sniff(head: Uint8Array): Promise<ImageType | null> {
    const found = await fileTypeFromBuffer(head);
    return found !== undefined && (ACCEPTED_IMAGE_TYPES as readonly string[]).includes(found.mime) ? (found.mime as ImageType) : null;
  }

  async process(data: Buffer, type: ImageType, sealing: RenditionSealing): Promise<ProcessedImage> {
    // Read the header first: the pixel count is known before anything is decoded.
    const meta = await sharp(data, { limitInputPixels: false }).metadata().catch(() => {
      throw new ImageRefusedError('undecodable', `the ${describe(type)} image could not be read`);
    });
    if (meta.format !== formatOf(type)) {
      throw new ImageRefusedError('undecodable', `the ${describe(type)} image could not be read`);
    }
    const pixels = (meta.width ?? 0) * (meta.height ?? 0);
    if (pixels > this.maxPixels) {
      throw new ImageRefusedError(
        'too_many_pixels',
        `the image is ${meta.width}×${meta.height} (${megapixels(pixels)} megapixels); at most ${megapixels(this.maxPixels)} megapixels are accepted`,
      );
    }
    // limitInputPixels again for the decode itself, in case the header lied.
    const decoded = () => sharp(data, { limitInputPixels: this.maxPixels, failOn: 'error' }).rotate();
    const [image, thumbnail] = await Promise.all([
      encode(decoded(), type).toBuffer({ resolveWithObject: true }),
      encode(decoded().resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true }), type).toBuffer({
        resolveWithObject: true,
      }),
    ]).catch(() => {
      throw new ImageRefusedError('undecodable', `the ${describe(type)} image could not be decoded`);
    });
    const seal = (clear: Buffer, boundTo: string) => sealBytes(sealing.key, sealing.keyId, clear, boundTo);
    return {
      image: { stored: seal(image.data, sealing.boundTo.image), rendition: await rendition(image.data, type, image.info) },
      thumbnail: { stored: seal(thumbnail.data, sealing.boundTo.thumbnail), rendition: await rendition(thumbnail.data, type, thumbnail.info) },
    };
  }
}

function encode(pipeline: sharp.Sharp, type: ImageType): sharp.Sharp {
  switch (type) {
    case 'image/jpeg':
      return pipeline.jpeg({ quality: 85 });
    case 'image/png':
      return pipeline.png();
    case 'image/webp':
      return pipeline.webp({ quality: 85 });
    default: {
      const exhaustive: never = type;
      return exhaustive;
    }
  }
}

async function rendition(data: Buffer, contentType: ImageType, info: sharp.OutputInfo): Promise<Rendition> {
  const digest = await webcrypto.subtle.digest('SHA-256', data);
  return { contentType, bytes: data.length, width: info.width, height: info.height, sha256: Buffer.from(digest).toString('hex') };
}

const formatOf = (type: ImageType): string => ({ 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' })[type];
const describe = (type: ImageType): string => ({ 'image/jpeg': 'JPEG', 'image/png': 'PNG', 'image/webp': 'WebP' })[type];
const megapixels = (pixels: number): string => (pixels / 1_000_000).toFixed(1).replace(/\.0$/, '');

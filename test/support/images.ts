/** Test images made on the spot with sharp: nothing binary is kept in the repository. */
import { deflateSync, crc32 } from 'node:zlib';
import sharp from 'sharp';

/** Where the test photos say they were taken: a place the received file must not reveal. */
export const TEST_GPS = { latitude: 52.52, longitude: 13.405 };

/**
 * A JPEG as a phone writes it: EXIF with the camera, a GPS position and an orientation
 * (6: the pixels are stored turned, to be shown rotated 90° clockwise), `width`×`height` as stored.
 */
export async function aPhoneJpeg(width = 400, height = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 120, b: 40 } } })
    .jpeg({ quality: 90 })
    .withExif({
      IFD0: { Make: 'TestPhone', Model: 'TestPhone 15' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '52/1 31/1 12/1',
        GPSLongitudeRef: 'E',
        GPSLongitude: '13/1 24/1 18/1',
      },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

export async function aPng(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 128, b: 255, alpha: 0.5 } } }).png().toBuffer();
}

export async function aWebp(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 200, b: 10 } } }).webp().toBuffer();
}

/**
 * A decompression bomb: a PNG of a few hundred bytes whose header claims `width`×`height`
 * pixels (its image data is one deflated run of zeros for the first rows only).
 */
export function aPngBomb(width = 10_000, height = 5_000): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(0, 9); // greyscale
  const rows = deflateSync(Buffer.alloc((width + 1) * 4));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

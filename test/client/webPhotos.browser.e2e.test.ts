/**
 * Photos in the web app, in Debian's Chromium (playwright-core) against a real server
 * process in development mode, by accessible names: the borrower attaches a phone photo
 * that carries a GPS position, sees its preview and its upload progress (the upload is
 * throttled through the DevTools Protocol so the bar is on screen for a while), and sends
 * it; the lender sees the thumbnail, opens the full image, and the image the browser got
 * has no location in it (parsed, not trusted). A file that is not a photo and one past
 * ATTACHMENT_MAX_BYTES are refused with a clear message. Skipped, with one line saying so,
 * where /usr/bin/chromium is absent.
 */
import exifr from 'exifr';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { chatAbout, demoPost, describeInChromium, messageHistory as history, openConversationWith, sendAndSee, typeAndSend as send, useWebApp } from '../support/browser';
import { TEST_GPS } from '../support/images';

const drill = demoPost('demo-drill');
const MAX_BYTES = 2 * 1024 * 1024;

/** What the test reads of page elements (the project's TypeScript has no DOM library). */
type ImageElement = { complete: boolean; naturalWidth: number; naturalHeight: number };
type ProgressElement = { value: number; max: number };
const loaded = (img: unknown) => (img as ImageElement).complete && (img as ImageElement).naturalWidth > 0;

/**
 * A phone photo of a few hundred kB (noise does not compress), with the camera, a GPS
 * position (TEST_GPS) and an orientation in its EXIF.
 */
async function aNoisyPhoneJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 900, height: 600, channels: 3, background: { r: 200, g: 120, b: 40 }, noise: { type: 'gaussian', mean: 120, sigma: 40 } } })
    .jpeg({ quality: 85 })
    .withExif({
      IFD0: { Make: 'TestPhone', Model: 'TestPhone 15' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '52/1 31/1 12/1', GPSLongitudeRef: 'E', GPSLongitude: '13/1 24/1 18/1' },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

describeInChromium('photos browser e2e')('photos in the web app', () => {
  // The refused uploads are answered 413/415: the browser logs those as failed resources.
  const app = useWebApp({ env: { ATTACHMENT_MAX_BYTES: String(MAX_BYTES) }, expectedConsoleErrors: /Failed to load resource|WebSocket connection/ });
  const attach = async (p: Page, file: { name: string; mimeType: string; buffer: Buffer }) => {
    const chooser = p.waitForEvent('filechooser');
    await p.getByRole('button', { name: 'Attach photo' }).click();
    await (await chooser).setFiles(file);
  };

  let lender: Page;
  let borrower: Page;

  it('sends a photo with a preview and upload progress; the other side opens it, with no location in it', async () => {
    lender = await app.signedIn(drill.ownerId);
    borrower = await app.signedIn('bora');
    await chatAbout(borrower, drill.title);
    await sendAndSee(borrower, 'Here is the drill as I got it');
    await openConversationWith(lender, 'bora');
    await history(lender).getByText('Here is the drill as I got it').waitFor();

    const photo = await aNoisyPhoneJpeg();
    expect(await exifr.gps(photo)).toMatchObject({ latitude: expect.closeTo(TEST_GPS.latitude, 1), longitude: expect.closeTo(TEST_GPS.longitude, 1) });
    expect(photo.length).toBeGreaterThan(150_000);

    // A preview before sending, which can be removed.
    await attach(borrower, { name: 'drill.jpg', mimeType: 'image/jpeg', buffer: photo });
    const preview = borrower.getByRole('figure', { name: 'Photo to send' }).getByRole('img', { name: 'Preview of drill.jpg' });
    await preview.waitFor();
    await borrower.getByRole('button', { name: 'Remove photo' }).click();
    await preview.waitFor({ state: 'detached' });
    await attach(borrower, { name: 'drill.jpg', mimeType: 'image/jpeg', buffer: photo });
    await preview.waitFor();
    expect(await preview.evaluate(loaded)).toBe(true);

    // The upload at about 100 kB/s: the progress bar is there, part way, then gone once uploaded.
    const cdp = await borrower.context().newCDPSession(borrower);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 100 * 1024 });
    await borrower.getByLabel('Message', { exact: true }).fill('the scratch on the left');
    await borrower.getByRole('button', { name: 'Send' }).click();
    const progress = history(borrower).getByRole('progressbar', { name: 'Upload progress' });
    await progress.waitFor();
    let partWay = false;
    for (let i = 0; i < 100 && !partWay; i += 1) {
      const bar = await progress.evaluate((el: ProgressElement) => ({ value: el.value, max: el.max })).catch(() => ({ value: 0, max: 0 }));
      partWay = bar.value > 0 && bar.value < bar.max;
      if (!partWay) await borrower.waitForTimeout(50);
    }
    expect(partWay).toBe(true);
    await progress.waitFor({ state: 'detached', timeout: 30_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await borrower.getByText(/Uploading photo…|Sending…/).waitFor({ state: 'detached' });

    // The lender sees the thumbnail with its caption, and opens the full image.
    const thumbnail = history(lender).getByRole('button', { name: 'Open photo from bora' });
    await thumbnail.waitFor();
    await history(lender).getByText('the scratch on the left').waitFor();
    const thumbImage = thumbnail.getByRole('img', { name: 'Photo from bora' });
    await lender.waitForFunction(loaded, await thumbImage.elementHandle());
    await thumbnail.click();
    const dialog = lender.getByRole('dialog', { name: 'Photo' });
    const full = dialog.getByRole('img', { name: 'Full-size photo from bora' });
    await full.waitFor();
    await lender.waitForFunction(loaded, await full.elementHandle());
    // Orientation applied: the stored 900×600 turned upright is 600 wide, 900 high.
    expect(await full.evaluate((img: ImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([600, 900]);

    // What the browser was given, fetched again from the same URL: no EXIF, no GPS.
    const src = (await full.getAttribute('src')) as string;
    for (const url of [src, (await thumbImage.getAttribute('src')) as string]) {
      const response = await lender.request.get(url);
      expect(response.status()).toBe(200);
      expect(response.headers()['content-type']).toBe('image/jpeg');
      const image = await response.body();
      expect(await exifr.gps(image)).toBeUndefined();
      expect(await exifr.parse(image, true)).toBeUndefined();
      expect((await sharp(image).metadata()).exif).toBeUndefined();
    }
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('says clearly why a file was refused: not a photo (415), too large (413)', async () => {
    await attach(borrower, { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('these are my notes, not a photo\n'.repeat(300)) });
    await borrower.getByRole('button', { name: 'Send' }).click();
    await borrower.getByRole('alert').filter({ hasText: 'This file is not a photo the chat can send: use a JPEG, PNG or WebP image.' }).waitFor();
    await borrower.getByRole('button', { name: 'Dismiss' }).click();
    await borrower.getByRole('alert').waitFor({ state: 'detached' });

    const big = Buffer.concat([await aNoisyPhoneJpeg(), Buffer.alloc(MAX_BYTES)]);
    await attach(borrower, { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: big });
    await borrower.getByRole('button', { name: 'Send' }).click();
    await borrower.getByRole('alert').filter({ hasText: 'This photo is too large to send.' }).waitFor({ timeout: 30_000 });
    await borrower.getByRole('button', { name: 'Dismiss' }).click();

    // The conversation goes on.
    await send(borrower, 'never mind, see you Saturday');
    await history(lender).getByText('never mind, see you Saturday').waitFor();
    expect(await history(lender).getByRole('button', { name: /^Open photo/ }).count()).toBe(1);
  });
});

/**
 * The reference web app (client/web) in a real browser, Debian's Chromium driven by
 * playwright-core, against a real server process in development mode: a lender and a
 * borrower in two browser contexts (the borrower at phone width). Skipped, with one line
 * saying so, where /usr/bin/chromium is absent (`.ci/run` installs it).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { DEMO_POSTS } from '../../src/application/demo/demoPosts';
import { chatAbout, demoPost, describeInChromium, messageHistory as messages, typeAndSend as send, until, useWebApp } from '../support/browser';
import { freePort } from '../support/freePort';

const root = path.resolve(__dirname, '../..');
const drill = demoPost('demo-drill');
const tent = demoPost('demo-tent');

/**
 * A marketplace page on another origin that frames the app and hands it tokens by
 * postMessage, getting them from its own backend (here: the dev sign-in, called server-side).
 */
function marketplacePage(chatOrigin: string, userId: string): Server {
  const page = `<!doctype html><title>Marketplace</title><h1>Marketplace</h1>
    <iframe src="${chatOrigin}/" title="Chat" width="900" height="600"></iframe>
    <script>
      window.addEventListener('message', async (event) => {
        if (event.origin !== ${JSON.stringify(chatOrigin)} || !event.data || event.data.type !== 'rental-chat:token-request') return;
        const token = await (await fetch('/token')).text();
        event.source.postMessage({ type: 'rental-chat:token', token }, event.origin);
      });
    </script>`;
  return createServer((req, res) => {
    if (req.url === '/token') {
      void fetch(`${chatOrigin}/api/dev/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId }),
      })
        .then((r) => r.json() as Promise<{ token: string }>)
        .then(({ token }) => res.end(token), () => res.writeHead(502).end());
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(page);
  });
}

/**
 * A photo for the screenshot: a cordless drill in its open case on a workbench, drawn as
 * SVG and written as a 1200×900 JPEG, as a phone would send it.
 */
function aPhotoOfTheDrill(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="900" viewBox="0 0 1200 900">
    <defs>
      <linearGradient id="wall" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#dfe7ec"/><stop offset="1" stop-color="#c4d0d8"/></linearGradient>
      <linearGradient id="bench" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#c8955a"/><stop offset="1" stop-color="#8a5a2b"/></linearGradient>
      <linearGradient id="body" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#2f8f6b"/><stop offset="1" stop-color="#1d5f47"/></linearGradient>
    </defs>
    <rect width="1200" height="900" fill="url(#wall)"/>
    <rect y="560" width="1200" height="340" fill="url(#bench)"/>
    <g stroke="#6f4520" stroke-width="3" opacity="0.5"><path d="M0 640 H1200"/><path d="M0 740 H1200"/><path d="M0 830 H1200"/></g>
    <rect x="150" y="420" width="900" height="330" rx="28" fill="#23272b"/>
    <rect x="180" y="450" width="840" height="270" rx="18" fill="#3a4047"/>
    <g transform="translate(260 250) rotate(4)">
      <rect x="120" y="200" width="150" height="250" rx="26" fill="url(#body)"/>
      <rect x="90" y="430" width="210" height="80" rx="18" fill="#1b1e21"/>
      <rect x="60" y="110" width="380" height="130" rx="48" fill="url(#body)"/>
      <rect x="440" y="140" width="70" height="70" rx="10" fill="#9aa3ab"/>
      <rect x="510" y="165" width="170" height="20" rx="6" fill="#c9d1d7"/>
      <circle cx="140" cy="175" r="26" fill="#1b1e21"/>
      <rect x="250" y="240" width="30" height="60" rx="10" fill="#f2b632"/>
    </g>
    <g transform="translate(760 500)">
      <rect width="190" height="110" rx="16" fill="#1b1e21"/>
      <rect x="14" y="14" width="162" height="30" rx="8" fill="#2f8f6b"/>
      <rect x="0" y="130" width="190" height="110" rx="16" fill="#1b1e21" opacity="0.9"/>
    </g>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
}

describeInChromium('web app e2e')('the web app in Chromium: a lender and a borrower chat about a demo post', () => {
  let marketplacePort: number;
  let marketplace: Server;
  let borrowerContext: BrowserContext;
  let lender: Page;
  let borrower: Page;

  const bubbles = (page: Page, text: string) => messages(page).locator('li .body', { hasText: text });
  const conversationLink = (page: Page, who: string) =>
    page.getByRole('navigation', { name: 'Conversations' }).getByRole('link').filter({ hasText: who });
  /**
   * A message from `from`, shown as sent there and shown to `to`: a room's messages arrive in
   * seq order, so a message that reached the server before it, or a stray copy, would be there first.
   */
  const marker = async (from: Page, to: Page, text: string) => {
    await send(from, text);
    await bubbles(to, text).waitFor();
    await until('the marker to be sent', async () => (await from.getByText(/Sending…|Waiting for connection…/).count()) === 0);
  };

  beforeAll(async () => {
    marketplacePort = await freePort();
  });
  // The service's own origin and a marketplace origin (another host name, so another
  // origin) may open /chat and frame the app. A room nobody writes in expires after 4 s,
  // swept every second: the expired banner's test.
  const app = useWebApp(() => ({
    env: { ROOM_EMPTY_TTL: '4s', EXPIRY_SWEEP_CRON: '* * * * * *' },
    otherOrigins: [`http://localhost:${marketplacePort}`],
    expectedConsoleErrors: /Failed to load resource|ERR_INTERNET_DISCONNECTED|WebSocket connection/,
  }));
  beforeAll(async () => {
    marketplace = marketplacePage(app.url, 'emma');
    await new Promise<void>((resolve) => marketplace.listen(marketplacePort, '127.0.0.1', resolve));
    lender = await app.newPage('lender', { viewport: { width: 1100, height: 720 }, locale: 'ko-KR' });
    borrower = await app.newPage('borrower', { viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true });
    borrowerContext = borrower.context();
  });
  afterAll(() => {
    marketplace?.closeAllConnections();
    marketplace?.close();
  });

  it('shows Chat on other people’s posts and none on one’s own', async () => {
    await app.signIn(lender, drill.ownerId);
    await app.signIn(borrower, 'bora');

    const lendersOwn = lender.getByRole('article', { name: drill.title });
    await lendersOwn.waitFor();
    expect(await lendersOwn.getByRole('button', { name: 'Chat' }).count()).toBe(0);
    expect(await lendersOwn.getByText('Your post').isVisible()).toBe(true);
    // The other demo lender's post has Chat for this lender too.
    expect(await lender.getByRole('article', { name: tent.title }).getByRole('button', { name: 'Chat' }).isVisible()).toBe(true);

    const chat = borrower.getByRole('article', { name: drill.title }).getByRole('button', { name: 'Chat' });
    await chat.waitFor();
    await until('every demo post to have Chat for the borrower', async () => (await borrower.getByRole('button', { name: 'Chat' }).count()) === DEMO_POSTS.length);
  });

  it('delivers live both ways, with Korean and emoji intact, and counts then clears the unread badge', async () => {
    await chatAbout(borrower, drill.title);
    await borrower.getByLabel('Message', { exact: true }).waitFor();
    // An empty conversation says how to begin.
    await borrower.getByText(/^No messages yet\. Say hello to lena/).waitFor();
    const hello = '안녕하세요! 토요일에 드릴 빌릴 수 있을까요? 🙏';
    await send(borrower, hello);
    await until('the borrower’s message to be sent', async () => (await bubbles(borrower, hello).count()) === 1 && (await borrower.getByText('Sending…').count()) === 0);

    // The lender's list shows it live, with one unread.
    const link = conversationLink(lender, 'bora');
    await link.waitFor();
    await until('one unread', async () => (await link.getByLabel('1 unread').count()) === 1);
    expect(await link.textContent()).toContain(hello);
    await link.click();
    await bubbles(lender, hello).waitFor();
    await until('the badge to clear', async () => (await link.getByLabel(/unread/).count()) === 0);

    // Typing shows on the other side; the answer arrives live.
    await lender.getByLabel('Message', { exact: true }).pressSequentially('네', { delay: 50 });
    await borrower.getByText(`${drill.ownerId} is typing…`).waitFor();
    await send(lender, '네, 가능해요 🙂 Saturday 10:00?');
    await bubbles(borrower, '네, 가능해요 🙂 Saturday 10:00?').waitFor();
    // The borrower read it on screen, and the lender sees the read mark.
    await lender.getByText('· Read').waitFor();

    // Away from the conversation, the borrower's badge counts new messages and clears on opening.
    await borrower.goto(`${app.url}/#/rooms`);
    await send(lender, 'I will leave it at the door');
    await send(lender, 'batteries are charged 🔋');
    const borrowerLink = conversationLink(borrower, drill.ownerId);
    await until('two unread', async () => (await borrowerLink.getByLabel('2 unread').count()) === 1);
    await borrowerLink.click();
    await bubbles(borrower, 'batteries are charged 🔋').waitFor();
    await borrower.goto(`${app.url}/#/rooms`);
    await until('the borrower’s badge to clear', async () => (await borrowerLink.getByLabel(/unread/).count()) === 0);
    await borrowerLink.click();
  });

  it('keeps the history across a reload', async () => {
    await borrower.reload();
    for (const text of ['안녕하세요! 토요일에 드릴 빌릴 수 있을까요? 🙏', '네, 가능해요 🙂 Saturday 10:00?', 'I will leave it at the door', 'batteries are charged 🔋']) {
      await bubbles(borrower, text).waitFor();
    }
    expect(await messages(borrower).locator('li:not(.day)').count()).toBe(4);
  });

  it('queues a message typed offline and delivers it exactly once when the network is back', async () => {
    await borrower.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Online' }).waitFor();
    await borrowerContext.setOffline(true);
    await borrower.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Offline' }).waitFor();
    const queued = 'sent from the subway 🚇 지하철';
    await send(borrower, queued);
    await borrower.getByText('Waiting for connection…').waitFor();
    // Nothing reaches the lender while the borrower is offline: the lender's own message, sent now, comes first.
    await send(lender, 'are you there?');
    await bubbles(lender, 'are you there?').waitFor();
    await until('the lender’s message to be sent', async () => (await lender.getByText('Sending…').count()) === 0);
    expect(await bubbles(lender, queued).count()).toBe(0);

    await borrowerContext.setOffline(false);
    await bubbles(lender, queued).waitFor();
    await until('the borrower’s copy to be sent', async () => (await borrower.getByText('Waiting for connection…').count()) === 0 && (await borrower.getByText('Sending…').count()) === 0);
    await marker(lender, borrower, 'back online then');
    expect(await bubbles(lender, queued).count()).toBe(1);
    expect(await bubbles(borrower, queued).count()).toBe(1);
    expect(await bubbles(borrower, 'are you there?').count()).toBe(1);
    expect(await messages(lender).locator('li:not(.day)').count()).toBe(7);
  });

  it('while the lender blocks, the borrower is told before typing and cannot send; after Unblock, a message goes through once', async () => {
    await lender.getByRole('button', { name: 'Block', exact: true }).click();
    await lender.getByRole('button', { name: 'Unblock', exact: true }).waitFor();
    // The room's blockedMe reaches the borrower live: a notice, and a composer that takes nothing.
    await borrower.getByRole('status').filter({ hasText: 'isn’t accepting messages from you' }).waitFor();
    expect(await borrower.getByLabel('Message', { exact: true }).isDisabled()).toBe(true);
    expect(await borrower.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);

    await lender.getByRole('button', { name: 'Unblock', exact: true }).click();
    await lender.getByRole('button', { name: 'Block', exact: true }).waitFor();
    await until('the borrower’s composer to be enabled', async () => !(await borrower.getByLabel('Message', { exact: true }).isDisabled()));
    expect(await borrower.getByRole('status').filter({ hasText: 'isn’t accepting messages from you' }).count()).toBe(0);
    const later = 'can I pick it up earlier?';
    await send(borrower, later);
    await bubbles(lender, later).waitFor();
    await until('the message to be sent', async () => (await borrower.getByText(/^Not sent:|Sending…/).count()) === 0);
    await marker(lender, borrower, 'sure, any time');
    expect(await bubbles(lender, later).count()).toBe(1);
    expect(await bubbles(borrower, later).count()).toBe(1);
  });

  it('shows links as safe links, a separator for the day, and at phone width the signed-in name and the whole composer', async () => {
    const link = 'https://maps.example.com/pickup?spot=3';
    await send(borrower, `the pickup spot: ${link}. ok? javascript:alert(1)`);
    const anchor = messages(lender).getByRole('link', { name: link, exact: true });
    await anchor.waitFor();
    expect(await anchor.getAttribute('href')).toBe(link);
    expect(await anchor.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await anchor.getAttribute('target')).toBe('_blank');
    expect(await messages(lender).getByRole('link', { name: /javascript:/ }).count()).toBe(0);
    expect(await lender.getByRole('separator').filter({ hasText: 'Today' }).count()).toBeGreaterThan(0);
    // 390 px: the signed-in user is named in the top bar, and the composer fits the screen.
    const me = borrower.locator('.me');
    expect(await me.isVisible()).toBe(true);
    expect((await me.textContent())?.length).toBeGreaterThan(0);
    const width = 390;
    for (const part of [borrower.getByLabel('Message', { exact: true }), borrower.getByRole('button', { name: 'Send' })]) {
      const box = await part.boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(width);
      expect(box!.y + box!.height).toBeLessThanOrEqual(760);
    }
  });

  it('takes screenshots of the conversation view (desktop and phone), with a photo the borrower sent', async () => {
    // The borrower sends a photo with a caption; the lender sees its thumbnail, loaded.
    const chooser = borrower.waitForEvent('filechooser');
    await borrower.getByRole('button', { name: 'Attach photo' }).click();
    await (await chooser).setFiles({ name: 'drill.jpg', mimeType: 'image/jpeg', buffer: await aPhotoOfTheDrill() });
    await borrower.getByRole('figure', { name: 'Photo to send' }).waitFor();
    await send(borrower, 'this is how it looks in its case');
    const thumbnail = messages(lender).getByRole('button', { name: 'Open photo from bora' }).getByRole('img', { name: 'Photo from bora' });
    await thumbnail.waitFor();
    await lender.waitForFunction((img) => {
      // What the test reads of the element (the project's TypeScript has no DOM library).
      const element = img as unknown as { complete: boolean; naturalWidth: number };
      return element.complete && element.naturalWidth > 0;
    }, await thumbnail.elementHandle());
    await until('the photo to be sent', async () => (await borrower.getByText(/Uploading photo…|Sending…/).count()) === 0);
    await thumbnail.scrollIntoViewIfNeeded();
    await lender.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Online' }).waitFor();
    // UPDATE_SCREENSHOTS=1 refreshes the one in the README; otherwise it goes to a temp dir.
    const dir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(root, 'docs/images') : mkdtempSync(path.join(tmpdir(), 'chat-shot-'));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'conversation.png');
    const png = await lender.screenshot({ path: file });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(10_000);
    // And the borrower's side at phone width.
    const phone = await borrower.screenshot({ path: path.join(dir, 'conversation-phone.png') });
    expect(phone.subarray(1, 4).toString()).toBe('PNG');
  });

  it('shows an expired room’s banner live, and Reopen lets the conversation go on', async () => {
    await borrower.getByRole('link', { name: 'Posts' }).click();
    await chatAbout(borrower, tent.title);
    const expired = borrower.getByRole('region', { name: 'Expired' });
    // Nobody writes: the sweeper expires it, and the open conversation says so.
    await expired.waitFor({ timeout: 20_000 });
    await expired.getByRole('button', { name: 'Reopen' }).click();
    await expired.waitFor({ state: 'detached' });
    await send(borrower, 'is the tent still free? ⛺');
    await until('the message to be sent', async () => (await bubbles(borrower, 'is the tent still free? ⛺').count()) === 1 && (await borrower.getByText(/Sending…|^Not sent:/).count()) === 0);
  });

  it('shows the latest page and loads older messages when scrolled to the top', async () => {
    const roomId = /#\/rooms\/([0-9a-f-]{36})$/.exec(borrower.url())?.[1] as string;
    const session = await fetch(`${app.url}/api/dev/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: tent.ownerId }),
    });
    const { token } = (await session.json()) as { token: string };
    for (let i = 1; i <= 40; i += 1) {
      const sent = await fetch(`${app.url}/api/rooms/${roomId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ clientMessageId: `page-${i}`, body: `page test ${i}` }),
      });
      expect(sent.status).toBe(201);
    }
    await borrower.reload();
    await bubbles(borrower, 'page test 40').waitFor();
    expect(await messages(borrower).locator('li:not(.day)').count()).toBe(30);
    await borrower.locator('.messages').evaluate((el) => el.scrollTo(0, 0));
    await bubbles(borrower, 'is the tent still free? ⛺').waitFor();
    expect(await messages(borrower).locator('li:not(.day)').count()).toBe(41);
    expect(await messages(borrower).locator('li .body').first().textContent()).toBe('is the tent still free? ⛺');
  });

  it('embedded in a marketplace page on another origin, takes its token from that page and goes online', async () => {
    const context = await app.browser.newContext({ viewport: { width: 1000, height: 700 } });
    try {
      const page = await app.newPage('marketplace', context);
      await page.goto(`http://localhost:${marketplacePort}`);
      const chat = page.frameLocator('iframe[title="Chat"]');
      await chat.getByRole('heading', { name: 'Posts' }).waitFor();
      expect(await chat.getByText('emma', { exact: true }).isVisible()).toBe(true);
      expect(await chat.getByLabel('User name').count()).toBe(0);
      await chat.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Online' }).waitFor();
      // The marketplace user can chat from inside the frame.
      await chat.getByRole('article', { name: drill.title }).getByRole('button', { name: 'Chat' }).click();
      await chat.getByLabel('Message', { exact: true }).fill('hello from the marketplace page');
      await chat.getByRole('button', { name: 'Send' }).click();
      await conversationLink(lender, 'emma').waitFor();
    } finally {
      await context.close();
    }
  });
});

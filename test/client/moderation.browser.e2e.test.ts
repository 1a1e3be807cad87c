/**
 * Trust and safety in the web app, in Debian's Chromium (playwright-core) against a real
 * server process in development mode: the borrower sees a warning under the lender's
 * message that asks to move to KakaoTalk, reports it, the moderator (`mod`) hides it from
 * the Reports page, and both chat windows show it hidden. Skipped, with one line saying so,
 * where /usr/bin/chromium is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_POSTS } from '../../src/application/demo/demoPosts';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import { freePort } from '../support/freePort';
import { spawnServer, stopServer, type ServerProcess } from '../support/serverProcess';
import { TEST_INTERNAL_TOKEN } from '../support/tokens';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) ? describe : describe.skip;
if (!existsSync(CHROMIUM)) process.stdout.write(`[moderation browser e2e] skipped: no Chromium at ${CHROMIUM}\n`);

const root = path.resolve(__dirname, '../..');
const drill = DEMO_POSTS.find((p) => p.postId === 'demo-drill') as (typeof DEMO_POSTS)[number];
const tent = DEMO_POSTS.find((p) => p.postId === 'demo-tent') as (typeof DEMO_POSTS)[number];

withBrowser('reporting and moderating in the web app', () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist/web/index.html'))) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });
    database = await createTestDatabase('postgres');
    const port = await freePort();
    server = await spawnServer(database, { JWT_SECRET: '', PORT: String(port), ALLOWED_ORIGINS: `http://127.0.0.1:${port}` });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (server !== undefined) await stopServer(server);
    await database?.drop();
  });
  afterEach(() => expect(problems).toEqual([]));

  const page = async (who: string): Promise<Page> => {
    const p = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
    p.on('pageerror', (error) => problems.push(`${who}: ${error.message}`));
    await p.goto(server.url);
    await p.getByLabel('User name').fill(who);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Posts' }).waitFor();
    return p;
  };
  const history = (p: Page) => p.getByRole('list', { name: 'Message history' });
  const send = async (p: Page, text: string) => {
    await p.getByLabel('Message', { exact: true }).fill(text);
    await p.getByRole('button', { name: 'Send' }).click();
  };

  it('warns the borrower, takes the report, and shows the moderator’s hide in both windows', async () => {
    const lender = await page(drill.ownerId);
    const borrower = await page('bora');
    await borrower.getByRole('article', { name: drill.title }).getByRole('button', { name: 'Chat' }).click();
    await send(borrower, 'Is the drill free on Saturday?');
    await history(borrower).getByText('Is the drill free on Saturday?').waitFor();
    await borrower.getByText(/Sending…|Waiting for connection…/).waitFor({ state: 'detached' });
    // The lender's list, read after the message is stored.
    await lender.reload();
    await lender.getByRole('navigation', { name: 'Conversations' }).getByRole('link').filter({ hasText: 'bora' }).click();
    await history(lender).getByText('Is the drill free on Saturday?').waitFor();
    const scam = '카톡으로 연락주세요 010-1234-5678';
    await send(lender, scam);

    // The recipient sees the warning under it; the sender does not, and has no Report on their own message.
    const theirs = history(borrower).getByRole('listitem').filter({ hasText: scam });
    await theirs.getByRole('note').waitFor();
    await history(lender).getByText(scam).waitFor();
    expect(await history(lender).getByRole('listitem').filter({ hasText: scam }).getByRole('note').count()).toBe(0);
    expect(await history(lender).getByRole('listitem').filter({ hasText: scam }).getByRole('button', { name: 'Report' }).count()).toBe(0);

    await theirs.getByRole('button', { name: 'Report' }).click();
    await theirs.getByLabel('Reason').selectOption('scam');
    await theirs.getByRole('button', { name: 'Send report' }).click();
    await theirs.getByText('Reported').waitFor();

    // The moderator signs in as `mod` (development mode) and resolves it from the Reports page.
    const moderator = await page('mod');
    await moderator.getByRole('link', { name: 'Reports' }).click();
    await moderator.getByRole('heading', { name: 'Reports' }).waitFor();
    await moderator.getByRole('button', { name: /scam: bora reported/ }).click();
    await moderator.getByRole('list', { name: 'Reported message in context' }).getByText(scam).waitFor();
    await moderator.getByRole('button', { name: 'Hide message' }).click();
    await moderator.getByText('No open reports.').waitFor();

    for (const p of [borrower, lender]) await history(p).getByText('This message was hidden by a moderator.').waitFor();
    expect(await history(borrower).getByText(scam).count()).toBe(0);
    // And after a reload.
    await borrower.reload();
    await history(borrower).getByText('This message was hidden by a moderator.').waitFor();
    expect(await history(borrower).getByText('Is the drill free on Saturday?').count()).toBe(1);
  }, 90_000);

  it('suspends the sender from the Reports page (their sends refused, reads kept) and shows a marketplace notice in both windows', async () => {
    const lender = await page(tent.ownerId);
    const borrower = await page('cato');
    await borrower.getByRole('article', { name: tent.title }).getByRole('button', { name: 'Chat' }).click();
    await send(borrower, 'Is the tent still free next weekend?');
    await history(borrower).getByText('Is the tent still free next weekend?').waitFor();
    await borrower.getByText(/Sending…|Waiting for connection…/).waitFor({ state: 'detached' });
    const roomId = /#\/rooms\/([0-9a-f-]{36})$/.exec(borrower.url())?.[1] as string;
    expect(roomId).toMatch(/^[0-9a-f-]{36}$/);
    await lender.reload();
    await lender.getByRole('navigation', { name: 'Conversations' }).getByRole('link').filter({ hasText: 'cato' }).click();
    await history(lender).getByText('Is the tent still free next weekend?').waitFor();
    const scam = 'Send the deposit first to 계좌 110-123-456789';
    await send(lender, scam);

    const theirs = history(borrower).getByRole('listitem').filter({ hasText: scam });
    await theirs.getByRole('note').waitFor();
    await theirs.getByRole('button', { name: 'Report' }).click();
    await theirs.getByLabel('Reason').selectOption('scam');
    await theirs.getByRole('button', { name: 'Send report' }).click();
    await theirs.getByText('Reported').waitFor();

    const moderator = await page('mod');
    await moderator.getByRole('link', { name: 'Reports' }).click();
    await moderator.getByRole('button', { name: /scam: cato reported/ }).click();
    await moderator.getByRole('list', { name: 'Reported message in context' }).getByText(scam).waitFor();
    await moderator.getByRole('button', { name: 'Suspend sender' }).click();
    await moderator.getByText('No open reports.').waitFor();

    // The suspended lender still reads the room, but a new message is refused as suspended.
    await send(lender, 'still there?');
    await history(lender).getByRole('listitem', { name: 'Not sent' }).filter({ hasText: 'still there?' }).getByText(/suspended/).waitFor();
    expect(await history(borrower).getByText('still there?').count()).toBe(0);
    await history(lender).getByText('Is the tent still free next weekend?').waitFor();

    // The marketplace posts a notice into the room through the internal API: both windows show it.
    const notice = 'Booking confirmed for Saturday';
    const posted = await fetch(`${server.url}/api/internal/rooms/${roomId}/notices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_INTERNAL_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clientNoticeId: 'booking-1', text: notice }),
    });
    expect(posted.status).toBe(201);
    for (const p of [borrower, lender]) await history(p).getByRole('listitem', { name: 'Notice from the marketplace' }).filter({ hasText: notice }).waitFor();
  }, 90_000);
});

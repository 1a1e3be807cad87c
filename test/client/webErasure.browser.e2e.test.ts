/**
 * Erasure in the web app, in Debian's Chromium (playwright-core) against a real server
 * process in development mode: the marketplace erases the borrower through the internal
 * API (`POST /api/internal/users/:userId/erasure`); the lender's open conversation shows
 * each of the borrower's messages as "Message deleted" live (the `erased` frame) and again
 * after a reload (history), with the lender's own messages untouched; the borrower's
 * window is signed out (close code 4003). Skipped, with one line saying so, where
 * /usr/bin/chromium is absent.
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
if (!existsSync(CHROMIUM)) process.stdout.write(`[erasure browser e2e] skipped: no Chromium at ${CHROMIUM}\n`);

const root = path.resolve(__dirname, '../..');
const drill = DEMO_POSTS.find((p) => p.postId === 'demo-drill') as (typeof DEMO_POSTS)[number];

withBrowser('an erased user’s messages in the web app', () => {
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
    await history(p).getByText(text).waitFor();
    await p.getByText(/Sending…|Waiting for connection…/).waitFor({ state: 'detached' });
  };

  it('shows each of the erased user’s messages as "Message deleted", live and after a reload; the erased user is signed out', async () => {
    const lender = await page(drill.ownerId);
    const borrower = await page('erin');
    await borrower.getByRole('article', { name: drill.title }).getByRole('button', { name: 'Chat' }).click();
    await send(borrower, 'I live at 12 Elm Street, flat 3');
    await send(borrower, 'call me on 010-2222-3333');
    await lender.reload();
    await lender.getByRole('navigation', { name: 'Conversations' }).getByRole('link').filter({ hasText: 'erin' }).click();
    await history(lender).getByText('call me on 010-2222-3333').waitFor();
    await send(lender, 'Thanks, see you Saturday');

    const asked = await fetch(`${server.url}/api/internal/users/erin/erasure`, { method: 'POST', headers: { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` } });
    expect(asked.status).toBe(202);

    // Live: the borrower's two messages become "Message deleted"; their words are gone; the lender's stays.
    const deleted = history(lender).getByText('Message deleted', { exact: true });
    await deleted.nth(1).waitFor({ timeout: 30_000 });
    expect(await deleted.count()).toBe(2);
    expect(await history(lender).getByText(/Elm Street|010-2222-3333/).count()).toBe(0);
    expect(await history(lender).getByText('Thanks, see you Saturday').count()).toBe(1);

    // From history, after a reload: the same, in the same places (seq kept).
    await lender.reload();
    await history(lender).getByText('Thanks, see you Saturday').waitFor();
    const items = history(lender).locator('li:not(.day)');
    expect(await items.allTextContents()).toEqual([
      expect.stringMatching(/^Message deleted/),
      expect.stringMatching(/^Message deleted/),
      expect.stringMatching(/^Thanks, see you Saturday/),
    ]);
    expect(await history(lender).getByText(/Elm Street|010-2222-3333/).count()).toBe(0);

    // The erased user's window: the connection closed with 4003, shown as signed out.
    await borrower.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Account deleted: signed out' }).waitFor({ timeout: 30_000 });
  }, 120_000);
});

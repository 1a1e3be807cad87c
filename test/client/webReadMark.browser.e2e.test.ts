/**
 * A refused read mark in the web app, in Debian's Chromium (playwright-core) against a real
 * server process: the borrower's page talks to the server through Playwright's WebSocket
 * route, which answers the page's first `read` frame itself with the `rate_limited` error
 * the server gives past the read budget (the frame never reaches the server). The mark is
 * sent again by itself, and the lender sees "Read" without the borrower doing anything
 * more. (Before, a refused mark was dropped: "Read" came only with the next message.)
 * Skipped, with one line saying so, where /usr/bin/chromium is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_POSTS } from '../../src/application/demo/demoPosts';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import { freePort } from '../support/freePort';
import { spawnServer, stopServer, type ServerProcess } from '../support/serverProcess';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) ? describe : describe.skip;
if (!existsSync(CHROMIUM)) process.stdout.write(`[read mark browser e2e] skipped: no Chromium at ${CHROMIUM}\n`);

const root = path.resolve(__dirname, '../..');
const drill = DEMO_POSTS.find((p) => p.postId === 'demo-drill') as (typeof DEMO_POSTS)[number];

withBrowser('a refused read mark in the web app', () => {
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

  const page = async (who: string, setUp?: (p: Page) => Promise<void>): Promise<Page> => {
    const p = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
    p.on('pageerror', (error) => problems.push(`${who}: ${error.message}`));
    await setUp?.(p);
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
  };

  it('sends a refused read mark again, so the other side sees "Read" without another message', async () => {
    const lender = await page(drill.ownerId);
    const reads: Array<{ upToSeq: number; refused: boolean }> = [];
    let refusedOne = false;
    const borrower = await page('rhea', (p) =>
      p.routeWebSocket(/\/chat$/, (ws) => {
        const toServer = ws.connectToServer();
        ws.onMessage((message) => {
          const frame = JSON.parse(String(message)) as { type: string; id?: string; upToSeq?: number };
          if (frame.type === 'read' && !refusedOne && (frame.upToSeq ?? 0) >= 2) {
            refusedOne = true;
            reads.push({ upToSeq: frame.upToSeq ?? 0, refused: true });
            ws.send(JSON.stringify({ type: 'error', code: 'rate_limited', message: 'too many read marks: slow down', ref: frame.id ?? 'read' }));
            return;
          }
          if (frame.type === 'read') reads.push({ upToSeq: frame.upToSeq ?? 0, refused: false });
          toServer.send(message);
        });
      }),
    );
    await borrower.getByRole('article', { name: drill.title }).getByRole('button', { name: 'Chat' }).click();
    await send(borrower, 'Is the drill free on Sunday?');
    await lender.reload();
    await lender.getByRole('navigation', { name: 'Conversations' }).getByRole('link').filter({ hasText: 'rhea' }).click();
    await history(lender).getByText('Is the drill free on Sunday?').waitFor();

    // The lender answers; the borrower's page, on screen, marks seq 2 read: refused once, then sent again.
    await send(lender, 'Yes, from 9 on');
    await history(borrower).getByText('Yes, from 9 on').waitFor();
    await lender.getByText('· Read').waitFor({ timeout: 20_000 });
    expect(reads.filter((r) => r.upToSeq >= 2)).toEqual([
      { upToSeq: 2, refused: true },
      { upToSeq: 2, refused: false },
    ]);
  }, 90_000);
});

/**
 * What the browser tests share: Debian's Chromium (`/usr/bin/chromium`, or CHROMIUM_PATH)
 * driven by playwright-core, and the web app served by a real server process in
 * development mode, with pages signed in by name. Where Chromium is absent a suite prints
 * one line saying so and skips.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { DEMO_POSTS } from '../../src/application/demo/demoPosts';
import { createTestDatabase, type TestDatabase } from './databases';
import { freePort } from './freePort';
import { spawnServer, stopServer, type ServerProcess } from './serverProcess';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumInstalled = existsSync(CHROMIUM);

const root = path.resolve(__dirname, '../..');

function sayNoChromium(what: string): void {
  process.stdout.write(`[${what}] skipped: no Chromium at ${CHROMIUM}\n`);
}

/** `describe` where Chromium is installed; elsewhere `describe.skip`, with one line naming the suite. */
export function describeInChromium(suite: string): jest.Describe {
  if (chromiumInstalled) return describe;
  sayNoChromium(suite);
  return describe.skip;
}

/** `it` where Chromium is installed; elsewhere `it.skip`, with one line naming the case. */
export function itInChromium(what: string): jest.It {
  if (chromiumInstalled) return it;
  sayNoChromium(what);
  return it.skip;
}

/** Headless Chromium as every browser test runs it (no sandbox: CI runs it as root in a container). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A post the server makes in development mode (src/application/demo/demoPosts.ts). */
export function demoPost(postId: string): (typeof DEMO_POSTS)[number] {
  const post = DEMO_POSTS.find((p) => p.postId === postId);
  if (post === undefined) throw new Error(`no demo post ${postId}`);
  return post;
}

/**
 * Polls a page check until it holds; a check that throws (the page navigating) counts as
 * not yet. The failure names what was awaited.
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The open conversation's messages. */
export const messageHistory = (page: Page) => page.getByRole('list', { name: 'Message history' });

/** Types `text` into the composer and presses Send (what happens next is the test's to wait for). */
export async function typeAndSend(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** Sends `text` and waits until the page shows it sent: in the history, with nothing left sending. */
export async function sendAndSee(page: Page, text: string): Promise<void> {
  await typeAndSend(page, text);
  await messageHistory(page).getByText(text).waitFor();
  await page.getByText(/Sending…|Waiting for connection…/).waitFor({ state: 'detached' });
}

/** The borrower's first step: Chat on a post of the list. */
export async function chatAbout(page: Page, postTitle: string): Promise<void> {
  await page.getByRole('article', { name: postTitle }).getByRole('button', { name: 'Chat' }).click();
}

/** Opens the conversation with `who` from the page's list, loaded afresh (the room made after the page was). */
export async function openConversationWith(page: Page, who: string): Promise<void> {
  await page.reload();
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('link').filter({ hasText: who }).click();
}

export interface WebAppOptions {
  /** More server settings; the server runs in development mode (no JWT secret: demo sign-in and demo posts). */
  env?: Record<string, string>;
  /** Origins besides the app's own that may open /chat and frame the app (ALLOWED_ORIGINS). */
  otherOrigins?: string[];
  /** Console errors these match are expected; any other is a problem. Unset: the console is not watched. */
  expectedConsoleErrors?: RegExp;
}

export interface WebApp {
  readonly url: string;
  readonly server: ServerProcess;
  readonly database: TestDatabase;
  readonly browser: Browser;
  /** Script errors (and unexpected console errors) of every page, by who: each test must end with none. */
  readonly problems: string[];
  /** A new page, watched for errors, not loaded yet: in a context of its own (with these options), or in the one given. */
  newPage(who: string, context?: BrowserContext | BrowserContextOptions): Promise<Page>;
  /** Loads the app in the page and signs in by name, as development mode allows. */
  signIn(page: Page, who: string): Promise<void>;
  /** `newPage`, then `setUp` (routes and the like, before the app loads), then `signIn`. */
  signedIn(who: string, options?: { context?: BrowserContext | BrowserContextOptions; setUp?: (page: Page) => Promise<void> }): Promise<Page>;
}

const DESKTOP: BrowserContextOptions = { viewport: { width: 1100, height: 760 } };

/**
 * Registers the suite's hooks: before all, the web app built when missing (`npm test`
 * builds it first), a fresh PostgreSQL database, a server process in development mode on
 * a free port, and Chromium; after each test, no script error on any page; after all,
 * everything stopped. `options` may be a function, read when the suite starts (after the
 * suite's own earlier `beforeAll`s).
 */
export function useWebApp(options: WebAppOptions | (() => WebAppOptions) = {}): WebApp {
  let started: { server: ServerProcess; database: TestDatabase; browser: Browser } | null = null;
  const problems: string[] = [];
  const running = () => {
    if (started === null) throw new Error('the web app is not started: use it inside the suite’s tests or hooks');
    return started;
  };
  let expectedConsoleErrors: RegExp | undefined;

  beforeAll(async () => {
    const { env = {}, otherOrigins = [], expectedConsoleErrors: expected } = typeof options === 'function' ? options() : options;
    expectedConsoleErrors = expected;
    if (!existsSync(path.join(root, 'dist/web/index.html')) || !existsSync(path.join(root, 'dist/web/chat-sw.js'))) {
      execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });
    }
    const database = await createTestDatabase('postgres');
    const port = await freePort();
    const server = await spawnServer(database, { JWT_SECRET: '', PORT: String(port), ...env, ALLOWED_ORIGINS: [`http://127.0.0.1:${port}`, ...otherOrigins].join(',') });
    started = { database, server, browser: await launchChromium() };
  }, 120_000);
  afterAll(async () => {
    if (started === null) return;
    await started.browser.close();
    await stopServer(started.server);
    await started.database.drop();
  });
  afterEach(() => {
    // A script error (a CSP violation included) is a failure whatever the page showed.
    expect(problems.splice(0)).toEqual([]);
  });

  const app: WebApp = {
    get url() {
      return running().server.url;
    },
    get server() {
      return running().server;
    },
    get database() {
      return running().database;
    },
    get browser() {
      return running().browser;
    },
    problems,
    async newPage(who, context = DESKTOP) {
      const page = await ('newPage' in context ? context : await running().browser.newContext(context)).newPage();
      page.on('pageerror', (error) => problems.push(`${who}: ${error.message}`));
      page.on('console', (message) => {
        if (expectedConsoleErrors !== undefined && message.type() === 'error' && !expectedConsoleErrors.test(message.text())) {
          problems.push(`${who} console: ${message.text()}`);
        }
      });
      return page;
    },
    async signIn(page, who) {
      await page.goto(running().server.url);
      await page.getByLabel('User name').fill(who);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Posts' }).waitFor();
    },
    async signedIn(who, { context, setUp } = {}) {
      const page = await app.newPage(who, context);
      await setUp?.(page);
      await app.signIn(page, who);
      return page;
    },
  };
  return app;
}

/**
 * Web Push in the reference web app, in Debian's Chromium driven by playwright-core,
 * against a real server process in development mode (so it has VAPID keys). No push
 * service is reachable from here, so Chromium cannot subscribe: what is tested is the
 * worker served at the app's root and registered with the whole app as its scope, the
 * "Enable notifications" button and its outcomes (a refused permission, a failed
 * subscription shown as an error), and the worker's handling of a push: the Chrome
 * DevTools Protocol hands it a payload built by the server's own builder, as a push
 * service would after decrypting, and the notification it shows is read back.
 * Skipped, with one line saying so, where /usr/bin/chromium is absent.
 */
import { randomUUID } from 'node:crypto';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { pushPayload } from '../../src/application/notifications/webhookEvents';
import { describeInChromium, until, useWebApp } from '../support/browser';
import { withConnection } from '../support/databases';

/** The few browser globals the scripts run in the page and the worker use (the tests' tsconfig has no DOM lib). */
interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  data: unknown;
}
interface WorkerRegistration {
  scope: string;
  active: { scriptURL: string } | null;
  getNotifications(): Promise<ShownNotification[]>;
}
declare const navigator: { serviceWorker: { ready: Promise<WorkerRegistration>; getRegistration(): Promise<WorkerRegistration | undefined> } };
declare const window: { location: { hash: string } };
declare const self: { clients: { matchAll(options: object): Promise<Array<{ postMessage(message: unknown): void }>> } };

/** The notifications the app's worker shows now, as the page sees them. */
const shownNotifications = (page: Page) =>
  page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    const shown = (await registration?.getNotifications()) ?? [];
    return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
  });

describeInChromium('web push browser e2e')('Web Push in the web app, in Chromium', () => {
  // No JWT secret and no NODE_ENV=production: development mode, with generated VAPID keys.
  const app = useWebApp();
  const signIn = (context: BrowserContext, name: string): Promise<Page> => app.signedIn(name, { context });
  const subscriptionsOf = (userId: string) =>
    withConnection(app.database, async (db) => (await db.query(`SELECT endpoint FROM push_subscriptions WHERE user_id = $1`, [userId])).rowCount);

  it('serves the worker at the app root, never cached stale, as JavaScript', async () => {
    const res = await fetch(`${app.url}/chat-sw.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain("addEventListener('push'");
  });

  it('says notifications are blocked when the user refuses the permission, and offers no button then', async () => {
    // Headless Chromium answers a permission prompt nobody granted with "denied".
    const context = await app.browser.newContext();
    try {
      const page = await signIn(context, `nora-${randomUUID().slice(0, 6)}`);
      await page.getByRole('button', { name: 'Enable notifications' }).click();
      await page.getByRole('status', { name: 'Notifications' }).filter({ hasText: 'Notifications blocked in this browser' }).waitFor();
      expect(await page.getByRole('button', { name: 'Enable notifications' }).count()).toBe(0);
      // A reload remembers the refusal without asking again.
      await page.reload();
      await page.getByRole('status', { name: 'Notifications' }).filter({ hasText: 'Notifications blocked in this browser' }).waitFor();
    } finally {
      await context.close();
    }
  });

  describe('with the notification permission granted', () => {
    let context: BrowserContext;
    let page: Page;
    let cdp: CDPSession;
    const registrations = new Map<string, string>();
    const userId = `pia-${randomUUID().slice(0, 6)}`;

    beforeAll(async () => {
      context = await app.browser.newContext();
      await context.grantPermissions(['notifications'], { origin: app.url });
      page = await signIn(context, userId);
      cdp = await context.newCDPSession(page);
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => {
        for (const r of updated) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
      });
      await cdp.send('ServiceWorker.enable');
    });
    afterAll(async () => {
      await context?.close();
    });

    it('registers the worker for the whole app on "Enable notifications", and shows the failed subscription as an error', async () => {
      const enable = page.getByRole('button', { name: 'Enable notifications' });
      await enable.click();
      // Chromium's push service (Google's) is out of reach: subscribing fails, visibly, and the button stays to retry.
      const error = page.getByRole('alert').filter({ hasText: 'Could not enable notifications' });
      await error.waitFor();
      expect(await error.textContent()).toMatch(/Could not enable notifications: \w*Error: .+/);
      expect(await enable.isEnabled()).toBe(true);
      expect(await subscriptionsOf(userId)).toBe(0);

      const registered = await page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        return { scope: registration.scope, script: registration.active?.scriptURL ?? null };
      });
      expect(registered).toEqual({ scope: `${app.url}/`, script: `${app.url}/chat-sw.js` });
      // The app is still there and working.
      expect(await page.getByRole('heading', { name: 'Posts' }).isVisible()).toBe(true);
    });

    it('shows a push the server sends as a notification for its room, one per room, the body only when sent', async () => {
      await until('the worker registration to be reported', async () => registrations.has(`${app.url}/`));
      const registrationId = registrations.get(`${app.url}/`) as string;
      const roomId = randomUUID();
      const room = { roomId, postId: 'demo-drill', postTitle: 'Cordless drill', lenderId: userId, borrowerId: 'bora' };
      const message = (seq: number, body: string) =>
        ({
          type: 'MessageSent',
          data: { roomId, messageId: randomUUID(), seq, senderId: 'bora', body, clientMessageId: randomUUID(), sentAt: new Date().toISOString() },
        }) as const;
      const deliver = (payload: string) => cdp.send('ServiceWorker.deliverPushMessage', { origin: app.url, registrationId, data: payload });

      await deliver(pushPayload(message(1, 'Is it free on Saturday?'), room, false));
      await until('a notification', async () => (await shownNotifications(page)).length === 1);
      expect(await shownNotifications(page)).toEqual([
        { title: 'New message about Cordless drill', body: 'bora sent you a message', tag: `room-${roomId}`, data: { roomId, seq: 1 } },
      ]);

      // A newer message of the same room replaces the notification; with PUSH_INCLUDE_BODY it shows the text.
      await deliver(pushPayload(message(2, '토요일 10시 괜찮아요?'), room, true));
      await until('the notification of message 2', async () => (await shownNotifications(page))[0]?.body === 'bora: 토요일 10시 괜찮아요?');
      expect(await shownNotifications(page)).toEqual([
        { title: 'New message about Cordless drill', body: 'bora: 토요일 10시 괜찮아요?', tag: `room-${roomId}`, data: { roomId, seq: 2 } },
      ]);
    });

    it("opens the room when the worker asks the app window to (the notification click's message)", async () => {
      const roomId = randomUUID();
      const [worker] = context.serviceWorkers();
      expect(worker?.url()).toBe(`${app.url}/chat-sw.js`);
      // What the worker's notificationclick handler posts to an open app window.
      await worker!.evaluate(async (id) => {
        for (const client of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
          client.postMessage({ type: 'open-room', roomId: id, url: `/#/rooms/${id}` });
        }
      }, roomId);
      await until('the room route', async () => (await page.evaluate(() => window.location.hash)) === `#/rooms/${roomId}`);
    });
  });
});

/**
 * The browser side of Web Push for the chat: registers the service worker, asks for
 * permission, subscribes with the server's VAPID key and hands the subscription to the
 * chat service. Plain TypeScript with DOM types only; the React app calls it after
 * sign-in (client/web/src/PushNotifications.tsx; docs/webhooks.md, "Web Push in the app").
 */

export interface RegisterPushOptions {
  /** The chat service's base URL, e.g. "https://chat.example.com" ("" for the same origin). */
  apiBaseUrl: string;
  /** The signed-in user's JWT (or a function giving a fresh one). */
  token: string | (() => string | Promise<string>);
  /** Where the service worker is served; its scope is its folder. */
  serviceWorkerUrl?: string;
}

export type RegisterPushResult =
  | { status: 'subscribed'; subscription: PushSubscription }
  | { status: 'unsupported' | 'denied' | 'disabled-on-server' };

/**
 * What this browser and server allow, without asking the user anything: whether to offer
 * an "Enable notifications" button ('available'), say it is on ('subscribed': this
 * browser has a subscription and permission), or say why not.
 */
export type PushAvailability = 'available' | 'subscribed' | 'unsupported' | 'denied' | 'disabled-on-server';

/** The reference app serves the worker at its root (client/web/public/chat-sw.js), so its scope is the whole app. */
const DEFAULT_WORKER_URL = '/chat-sw.js';

async function bearer(token: RegisterPushOptions['token']): Promise<string> {
  return `Bearer ${typeof token === 'function' ? await token() : token}`;
}

function applicationServerKey(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64url.length / 4) * 4, '=');
  const raw = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function supported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** The server's VAPID public key, or null when Web Push is off there (404). */
async function vapidPublicKey(options: RegisterPushOptions): Promise<string | null> {
  const response = await fetch(`${options.apiBaseUrl}/api/push/vapid-public-key`, { headers: { authorization: await bearer(options.token) } });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`could not read the push key: HTTP ${response.status}`);
  return ((await response.json()) as { publicKey: string }).publicKey;
}

export async function pushAvailability(options: RegisterPushOptions): Promise<PushAvailability> {
  if (!supported()) return 'unsupported';
  if ((await vapidPublicKey(options)) === null) return 'disabled-on-server';
  if (Notification.permission === 'denied') return 'denied';
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager.getSubscription();
  return Notification.permission === 'granted' && subscription != null ? 'subscribed' : 'available';
}

/**
 * Subscribes this browser to the user's chat notifications. Call it from a user gesture
 * the first time (browsers refuse a permission prompt otherwise); calling it again is
 * cheap and re-sends the current subscription, which keeps the server's copy fresh.
 */
export async function registerPush(options: RegisterPushOptions): Promise<RegisterPushResult> {
  if (!supported()) return { status: 'unsupported' };
  const registration = await navigator.serviceWorker.register(options.serviceWorkerUrl ?? DEFAULT_WORKER_URL);
  const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (permission !== 'granted') return { status: 'denied' };

  const publicKey = await vapidPublicKey(options);
  if (publicKey === null) return { status: 'disabled-on-server' };

  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  const serverKey = applicationServerKey(publicKey);
  const current = subscription?.options.applicationServerKey;
  // A subscription made with another key (the server's keys changed) cannot be pushed to.
  if (subscription !== null && current != null && !sameBytes(new Uint8Array(current), serverKey)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: serverKey });

  const saved = await fetch(`${options.apiBaseUrl}/api/push/subscriptions`, {
    method: 'POST',
    headers: { authorization: await bearer(options.token), 'content-type': 'application/json' },
    body: JSON.stringify(subscription.toJSON()),
  });
  if (saved.status !== 201) throw new Error(`the chat service refused the subscription: HTTP ${saved.status}`);
  return { status: 'subscribed', subscription };
}

/** On sign-out: the server forgets this browser, and the browser drops the subscription. */
export async function unregisterPush(options: Omit<RegisterPushOptions, 'serviceWorkerUrl'>): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager.getSubscription();
  if (subscription == null) return;
  await fetch(`${options.apiBaseUrl}/api/push/subscriptions`, {
    method: 'DELETE',
    headers: { authorization: await bearer(options.token), 'content-type': 'application/json' },
    body: JSON.stringify({ endpoint: subscription.endpoint }),
  });
  await subscription.unsubscribe();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

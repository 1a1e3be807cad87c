import { devSignIn } from '../../sdk/src';
import { local, session } from './storage';

/**
 * How the app gets its tokens. A marketplace that embeds the app defines
 * `window.rentalChat = { getToken, baseUrl? }` before loading it (docs/client.md); on a
 * development server the app signs in by user name through POST /api/dev/session.
 */
export interface HostConfig {
  getToken: () => Promise<string>;
  baseUrl?: string;
}

export interface Session {
  userId: string;
  getToken: () => Promise<string>;
  baseUrl: string;
}

const STORAGE_KEY = 'rental-chat:dev-user';

/**
 * Where the tokens come from when the app is embedded: a page that loads the app's script
 * itself defines `window.rentalChat`; a page that frames the app (an iframe of the service's
 * `/`) answers the app's token requests by postMessage. Null: not embedded.
 */
export function hostConfig(): HostConfig | null {
  const config = (window as { rentalChat?: Partial<HostConfig> }).rentalChat;
  if (config !== undefined && typeof config.getToken === 'function') return config as HostConfig;
  return window.parent !== window ? { getToken: tokenFromParent } : null;
}

export const TOKEN_REQUEST = 'rental-chat:token-request';
export const TOKEN_RESPONSE = 'rental-chat:token';

/**
 * Asks the framing page for a fresh token: `{type: "rental-chat:token-request"}` to the
 * parent, answered with `{type: "rental-chat:token", token}`. Only the parent window's answer
 * counts; which sites may be the parent is the CSP's frame-ancestors (ALLOWED_ORIGINS).
 */
function tokenFromParent(): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      window.removeEventListener('message', onMessage);
      reject(new Error('the page embedding the chat did not answer the token request'));
    }, 10_000);
    function onMessage(event: MessageEvent) {
      const data = event.data as { type?: unknown; token?: unknown } | null;
      if (event.source !== window.parent || data?.type !== TOKEN_RESPONSE || typeof data.token !== 'string') return;
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      resolve(data.token);
    }
    window.addEventListener('message', onMessage);
    window.parent.postMessage({ type: TOKEN_REQUEST }, '*');
  });
}

/** Development sign-in: every token (the first and each refresh) is a new dev session for the name. */
export async function devSession(userId: string): Promise<Session> {
  const baseUrl = window.location.origin;
  const first = await devSignIn(baseUrl, userId);
  let spare: string | null = first.token;
  session.setItem(STORAGE_KEY, first.userId);
  return {
    userId: first.userId,
    baseUrl,
    getToken: async () => {
      if (spare !== null) {
        const token = spare;
        spare = null;
        return token;
      }
      return (await devSignIn(baseUrl, first.userId)).token;
    },
  };
}

/** The user name this tab signed in with, so a reload stays signed in. */
export function rememberedDevUser(): string | null {
  return session.getItem(STORAGE_KEY);
}

export function forgetDevUser(): void {
  session.removeItem(STORAGE_KEY);
}

/** Outgoing messages survive a reload in this tab, per user. */
export function outboxStorage(userId: string) {
  const key = `rental-chat:outbox:${userId}`;
  return {
    load: () => {
      try {
        return JSON.parse(local.getItem(key) ?? '[]');
      } catch {
        return [];
      }
    },
    save: (unsent: unknown[]) => local.setItem(key, JSON.stringify(unsent)),
  };
}

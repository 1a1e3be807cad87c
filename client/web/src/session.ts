import { devSignIn } from '../../sdk/src';

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

export function hostConfig(): HostConfig | null {
  const config = (window as { rentalChat?: Partial<HostConfig> }).rentalChat;
  return config !== undefined && typeof config.getToken === 'function' ? (config as HostConfig) : null;
}

/** Development sign-in: every token (the first and each refresh) is a new dev session for the name. */
export async function devSession(userId: string): Promise<Session> {
  const baseUrl = window.location.origin;
  const first = await devSignIn(baseUrl, userId);
  let spare: string | null = first.token;
  sessionStorage.setItem(STORAGE_KEY, first.userId);
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
  return sessionStorage.getItem(STORAGE_KEY);
}

export function forgetDevUser(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Outgoing messages survive a reload in this tab, per user. */
export function outboxStorage(userId: string) {
  const key = `rental-chat:outbox:${userId}`;
  return {
    load: () => {
      try {
        return JSON.parse(localStorage.getItem(key) ?? '[]');
      } catch {
        return [];
      }
    },
    save: (unsent: unknown[]) => localStorage.setItem(key, JSON.stringify(unsent)),
  };
}

import type { ChatClient } from '../../sdk/src';

/**
 * What runs once a user is signed in and the client exists. This is where Web Push
 * registration belongs when the app takes it up: ask for permission, subscribe through the
 * service worker with the server's VAPID public key, then POST /api/push/subscriptions
 * (`{endpoint, keys}`) with the user's token, and DELETE it on sign-out. Nothing yet.
 */
export function afterSignIn(_client: ChatClient, _userId: string): void {}

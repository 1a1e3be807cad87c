/** The rental-chat client SDK: see docs/client.md. */
export { ChatClient } from './client';
export type { ChatClientOptions, ChatEvents, ConnectionState, NetworkStatus, StateChange, WebSocketConstructor, WebSocketLike } from './client';
export { ChatApiError, PERMANENT_SEND_ERRORS } from './errors';
export { devSignIn } from './http';
export type { OutboxStorage, OutgoingMessage } from './outbox';
export { backoffDelay, type BackoffOptions } from './backoff';
export { RoomTimeline } from './timeline';
export { tokenExpiresAt, tokenSubject } from './jwt';
export * from './types';

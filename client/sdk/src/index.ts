/** The rental-chat client SDK: see docs/client.md. */
export { ChatClient } from './client.js';
export type { ChatClientOptions, ChatEvents, ConnectionState, NetworkStatus, StateChange, WebSocketConstructor, WebSocketLike } from './client.js';
export { ChatApiError, PERMANENT_SEND_ERRORS, TEMPORARY_ERRORS } from './errors.js';
export { devSignIn } from './http.js';
export type { OutboxStorage, OutgoingErrorCode, OutgoingMessage, OutgoingPhoto } from './outbox.js';
export type { PhotoData, UploadOptions, UploadProgress, XhrLike, XMLHttpRequestConstructor } from './upload.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { RoomTimeline } from './timeline.js';
export { tokenExpiresAt, tokenRoles, tokenSubject } from './jwt.js';
export * from './types.js';
export { RoomView, type RoomViewClient, type RoomViewOptions, type RoomViewState } from './roomView.js';

/* global self, clients, URL */
/**
 * The chat's service worker: shows a notification for each Web Push message the chat
 * service sends (a message arrived while this user had no live connection), and opens
 * or focuses the room when the notification is clicked. Vite copies it from
 * client/web/public to dist/web, so the service serves it at /chat-sw.js and its scope
 * covers the whole app; client/push/registerPush.ts registers it.
 *
 * The payload (docs/webhooks.md, "Web Push"):
 *   {type: "message.created", roomId, postTitle, senderId, messageId, seq, sentAt, body?}
 */

self.addEventListener('push', (event) => {
  let payload = null;
  try {
    payload = event.data ? event.data.json() : null;
  } catch {
    payload = null;
  }
  if (payload === null || payload.type !== 'message.created') return;
  const title = payload.postTitle ? `New message about ${payload.postTitle}` : 'New message';
  const body = typeof payload.body === 'string' ? `${payload.senderId}: ${payload.body}` : `${payload.senderId} sent you a message`;
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      // One notification per room: a newer message replaces the older one.
      tag: `room-${payload.roomId}`,
      renotify: true,
      data: { roomId: payload.roomId, seq: payload.seq },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const roomId = event.notification.data && event.notification.data.roomId;
  // The reference app routes by hash (#/rooms/<roomId>): the page itself is always /.
  const url = new URL(roomId ? `/#/rooms/${encodeURIComponent(roomId)}` : '/', self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).origin === self.location.origin && 'focus' in client) {
          await client.focus();
          // The app listens for this and sets location.hash; a page of this worker's scope can also be navigated.
          client.postMessage({ type: 'open-room', roomId, url });
          return;
        }
      }
      await clients.openWindow(url);
    })(),
  );
});

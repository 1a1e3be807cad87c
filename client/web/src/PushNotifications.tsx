import { useEffect, useState } from 'react';
import { pushAvailability, registerPush, unregisterPush, type PushAvailability } from '../../push/registerPush';
import { go, parseRoute } from './route';
import type { Session } from './session';

type PushState = { kind: 'checking' | 'working' | 'framed' } | { kind: PushAvailability } | { kind: 'error'; message: string };

const labels: Partial<Record<PushState['kind'], string>> = {
  subscribed: 'Notifications on',
  denied: 'Notifications blocked in this browser',
  unsupported: 'Notifications unavailable in this browser',
  'disabled-on-server': 'Notifications unavailable on this server',
  framed: 'Notifications unavailable in an embedded chat',
};

const messageOf = (error: unknown) => (error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error));

function pushOptions(session: Session) {
  return { apiBaseUrl: session.baseUrl, token: session.getToken };
}

/**
 * Web Push for the signed-in user (client/push/registerPush.ts): an "Enable notifications"
 * button when this browser and the server can push, else why not. Only in a top-level
 * window: a framed app cannot ask for the permission, and its worker would not be the
 * one the browser wakes for this origin.
 */
export function PushNotifications({ session }: { session: Session }) {
  const [state, setState] = useState<PushState>({ kind: 'checking' });

  useEffect(() => {
    let current = true;
    if (window.top !== window) {
      setState({ kind: 'framed' });
      return;
    }
    pushAvailability(pushOptions(session)).then(
      (kind) => current && setState({ kind }),
      (error: unknown) => current && setState({ kind: 'error', message: messageOf(error) }),
    );
    return () => {
      current = false;
    };
  }, [session]);

  // The worker asks an open window to show a room when its notification is clicked.
  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    const onMessage = (event: MessageEvent) => {
      const data = event.data as { type?: unknown; roomId?: unknown } | null;
      if (data?.type !== 'open-room' || typeof data.roomId !== 'string') return;
      const route = parseRoute(`#/rooms/${data.roomId}`);
      if (route.view === 'room') go(route);
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    return () => navigator.serviceWorker.removeEventListener('message', onMessage);
  }, []);

  const enable = async () => {
    setState({ kind: 'working' });
    try {
      const result = await registerPush(pushOptions(session));
      setState({ kind: result.status });
    } catch (error) {
      setState({ kind: 'error', message: messageOf(error) });
    }
  };

  if (state.kind === 'checking') return null;
  const label = labels[state.kind];
  return (
    <span className={`push push-${state.kind}`}>
      {label !== undefined && (
        <span role="status" aria-label="Notifications">
          {label}
        </span>
      )}
      {state.kind === 'error' && (
        <span role="alert" className="error">
          Could not enable notifications: {state.message}
        </span>
      )}
      {(state.kind === 'available' || state.kind === 'working' || state.kind === 'error') && (
        <button type="button" className="secondary" disabled={state.kind === 'working'} onClick={() => void enable()}>
          Enable notifications
        </button>
      )}
    </span>
  );
}

/** On sign-out: the server forgets this browser's subscription. Never keeps the user from signing out. */
export async function forgetPush(session: Session): Promise<void> {
  await unregisterPush(pushOptions(session)).catch(() => undefined);
}

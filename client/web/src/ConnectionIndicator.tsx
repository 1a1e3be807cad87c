import type { StateChange } from '../../sdk/src';

const labels: Record<StateChange['state'], string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  closed: 'Disconnected',
  erased: 'Account deleted: signed out',
};

/** The connection as the SDK reports it; a live region, so a screen reader hears it change. */
export function ConnectionIndicator({ state, onReconnect }: { state: StateChange; onReconnect: () => void }) {
  const retry = state.state === 'reconnecting' && state.retryInMs !== null && state.retryInMs >= 1000 ? ` (retry in ${Math.round(state.retryInMs / 1000)} s)` : '';
  return (
    <>
      <span role="status" aria-label="Connection" className={`connection connection-${state.state}`}>
        {labels[state.state]}
        {retry}
      </span>
      {state.state === 'closed' && (
        // Closed by the server on purpose (1008: e.g. too many open tabs): only the user reconnects.
        <button type="button" className="link" onClick={onReconnect}>
          Reconnect
        </button>
      )}
    </>
  );
}

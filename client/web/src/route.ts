import { useEffect, useState } from 'react';

/** Hash routes, so a reload (or a shared link) lands on the same view: #/, #/rooms, #/rooms/<id>. */
export type Route = { view: 'posts' } | { view: 'rooms' } | { view: 'room'; roomId: string } | { view: 'moderation' };

export function parseRoute(hash: string): Route {
  const room = /^#\/rooms\/([0-9a-fA-F-]{36})$/.exec(hash);
  if (room !== null) return { view: 'room', roomId: (room[1] as string).toLowerCase() };
  if (hash === '#/rooms') return { view: 'rooms' };
  if (hash === '#/moderation') return { view: 'moderation' };
  return { view: 'posts' };
}

export function go(route: Route): void {
  window.location.hash =
    route.view === 'room' ? `#/rooms/${route.roomId}` : route.view === 'rooms' ? '#/rooms' : route.view === 'moderation' ? '#/moderation' : '#/';
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

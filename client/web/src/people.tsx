import type { Room } from '../../sdk/src';

/** How a user is shown: the name their token carried (the room's `participants`), else their id. */
export const displayName = (room: Room | null, userId: string): string => room?.participants?.[userId]?.name ?? userId;

/** The user's picture when their token gave one (an https URL), else their initial. */
export function Avatar({ room, userId }: { room: Room | null; userId: string }) {
  const picture = room?.participants?.[userId]?.picture;
  if (picture !== undefined) return <img className="avatar" src={picture} alt="" referrerPolicy="no-referrer" loading="lazy" />;
  return (
    <span className="avatar initial" aria-hidden="true">
      {[...displayName(room, userId)][0]?.toUpperCase() ?? '?'}
    </span>
  );
}

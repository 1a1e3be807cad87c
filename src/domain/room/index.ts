import type { Decider } from '../shared/decider';
import type { RoomCommand } from './commands';
import { decideRoom } from './decide';
import type { RoomEvent } from './events';
import { evolveRoom, initialRoomState, type RoomState } from './state';

export * from './commands';
export * from './decide';
export * from './errors';
export * from './events';
export * from './messageView';
export * from './state';

export const roomDecider: Decider<RoomState, RoomCommand, RoomEvent> = {
  initialState: initialRoomState,
  evolve: evolveRoom,
  decide: decideRoom,
};

export { roomStreamName } from '../streams';

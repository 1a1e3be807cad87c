import type { RecordedEvent } from '../../../src/application/ports/eventStore';
import { silentLogger } from '../../../src/application/ports/logger';
import type { ChatQueries, ProjectionProgress } from '../../../src/application/ports/readModels';
import type { RoomDirectory } from '../../../src/application/ports/roomDirectory';
import type { RoomEvent } from '../../../src/domain/room';
import { roomStreamName } from '../../../src/domain/streams';
import type { Connection } from '../../../src/interfaces/ws/connection';
import { LiveFanOut } from '../../../src/interfaces/ws/fanOut';
import type { ServerFrame } from '../../../src/interfaces/ws/frames';
import { ConnectionRegistry } from '../../../src/interfaces/ws/registry';
import { aMessageSent, aRoomOpened, BORROWER, LENDER, ROOM_ID } from '../../support/builders';

let position = 0;
const recorded = (event: RoomEvent): RecordedEvent => {
  position += 1;
  return {
    streamId: roomStreamName(event.data.roomId),
    streamRevision: BigInt(position - 1),
    globalPosition: BigInt(position),
    checkpoint: String(position).padStart(20, '0'),
    eventId: `e-${position}`,
    type: event.type,
    data: event.data,
    metadata: { actorId: LENDER, correlationId: 'c', causationId: 'c', recordedAt: '2026-01-01T00:00:00.000Z', prevHash: '', hash: '' },
  };
};

/** What one connection of the lender was sent, in order: `room`, or a message's seq. */
function aConnection(userId: string) {
  const got: Array<string | number> = [];
  const connection = {
    userId,
    deliverMessage: (message: { seq: number }) => got.push(message.seq),
    send: (frame: ServerFrame) => got.push(frame.type),
    fail: (error: unknown) => {
      throw error;
    },
  } as unknown as Connection;
  return { connection, got };
}

/**
 * The live fan-out hands a room's events to its connections in the order they were
 * recorded, whether an event goes out at once (a message of a known room) or waits for
 * the projection (a room view).
 */
describe('the live fan-out', () => {
  it("does not let a new room's later message overtake its `room` frame and first message while they wait for the projection", async () => {
    const registry = new ConnectionRegistry();
    const lender = aConnection(LENDER);
    registry.add(lender.connection);
    let projected!: () => void;
    const projection = new Promise<void>((resolve) => (projected = resolve));
    const progress: ProjectionProgress = { waitFor: () => projection.then(() => true), caughtUp: async () => true };
    const directory: RoomDirectory = { access: async () => null };
    const queries = { getRoom: async () => ({ roomId: ROOM_ID }) } as unknown as ChatQueries;
    const fanOut = new LiveFanOut(registry, directory, queries, progress, silentLogger);

    fanOut.onEvent(recorded(aRoomOpened()));
    fanOut.onEvent(recorded(aMessageSent({ seq: 1, senderId: BORROWER })));
    // The room's view waits for the projection; by now the fan-out knows who takes part.
    await new Promise((resolve) => setImmediate(resolve));
    fanOut.onEvent(recorded(aMessageSent({ seq: 2, senderId: BORROWER })));
    expect(lender.got).toEqual([]);

    projected();
    await fanOut.drained();
    expect(lender.got).toEqual(['room', 1, 2]);
  });
});

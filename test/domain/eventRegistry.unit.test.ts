/**
 * The event registry, the one decoder and the stream names: what every consumer of
 * stored events relies on to see each event as the domain wrote it.
 */
import {
  decodeEvent,
  decodeRoomEvent,
  eventRegistry,
  evolveStored,
  roomEventSpecs,
  type DomainEvent,
  type EventSpecs,
} from '../../src/domain/events';
import { roomDecider, type RoomEvent } from '../../src/domain/room';
import {
  ANCHOR_STREAM,
  auditAccessStreamName,
  parseStreamName,
  postStreamName,
  roomIdOfStream,
  roomStreamName,
  userStreamName,
} from '../../src/domain/streams';
import {
  aMessageSent,
  aMessagesRead,
  aPostUpserted,
  aRoomBlocked,
  aRoomExpired,
  aRoomOpened,
  aRoomReopened,
  aMessageReported,
  aRoomUnblocked,
  ROOM_ID,
} from '../support/builders';

const roomEvents: RoomEvent[] = [
  aRoomOpened(),
  aMessageSent(),
  aMessagesRead(),
  aRoomBlocked(),
  aRoomUnblocked(),
  aRoomExpired(),
  aRoomReopened(),
  aMessageReported(),
  { type: 'ReportResolved', data: { roomId: ROOM_ID, reportId: 'report-1', action: 'dismiss', note: '', moderatorId: 'mod-1', resolvedAt: '2026-01-01T00:00:00.000Z' } },
  { type: 'MessageHidden', data: { roomId: ROOM_ID, seq: 1, reportId: 'report-1', hiddenBy: 'mod-1', hiddenAt: '2026-01-01T00:00:00.000Z' } },
  { type: 'RoomRetentionElapsed', data: { roomId: ROOM_ID, upToSeq: 1, lastActivityAt: '2026-01-01T00:00:00.000Z', retentionMs: 3_600_000, elapsedAt: '2026-01-01T01:00:00.000Z' } },
];

/** As the store gives it back: JSON in, JSON out. */
const stored = (event: { type: string; data: unknown }) => JSON.parse(JSON.stringify({ type: event.type, data: event.data })) as { type: string; data: unknown };

describe('the event registry', () => {
  it('decodes every room event as the domain wrote it', () => {
    for (const event of roomEvents) {
      expect(decodeEvent(stored(event))).toEqual(event);
      expect(decodeRoomEvent(stored(event))).toEqual(event);
    }
  });

  it('decodes a post event, but not as a room event', () => {
    const post = aPostUpserted();
    expect(decodeEvent(stored(post))).toEqual(post);
    expect(decodeRoomEvent(stored(post))).toBeNull();
  });

  it('gives null for a type this version does not know, so consumers pass over it', () => {
    expect(decodeEvent({ type: 'SomethingNewer', data: { roomId: ROOM_ID } })).toBeNull();
    expect(decodeRoomEvent({ type: 'SomethingNewer', data: { roomId: ROOM_ID } })).toBeNull();
    // Inherited names of a plain object are not event types.
    expect(decodeEvent({ type: 'toString', data: {} })).toBeNull();
  });

  it('files each room event under the room family', () => {
    expect(Object.keys(roomEventSpecs).sort()).toEqual(roomEvents.map((e) => e.type).sort());
    for (const type of Object.keys(roomEventSpecs)) expect(eventRegistry[type as DomainEvent['type']].family).toBe('room');
    expect(eventRegistry.PostUpserted.family).toBe('post');
    expect(eventRegistry.AuditAnchored.family).toBe('audit');
  });

  it('folds a stored stream, the decider passing over an unknown event', () => {
    const history = [aRoomOpened(), aMessageSent({ seq: 1 })];
    const withUnknown = [stored(history[0]!), { type: 'SomethingNewer', data: {} }, stored(history[1]!)];
    const state = withUnknown.reduce((s, e) => evolveStored(roomDecider.evolve, s, e), roomDecider.initialState());
    expect(state).toEqual(history.reduce(roomDecider.evolve, roomDecider.initialState()));
  });

  it('is checked by the compiler: a registry that leaves out an event of its union does not compile', () => {
    // @ts-expect-error MessageSent and the others are missing: the build fails, naming them.
    const missing: EventSpecs<'room', RoomEvent> = { RoomOpened: { family: 'room' } };
    // @ts-expect-error a name that is not an event of the union is refused too.
    const extra: EventSpecs<'room', RoomEvent> = { ...roomEventSpecs, SomethingNewer: { family: 'room' } };
    expect([missing, extra]).toHaveLength(2);
  });
});

describe('stream names', () => {
  it('are built and parsed in one place', () => {
    expect(parseStreamName(roomStreamName('r-1'))).toEqual({ kind: 'room', id: 'r-1' });
    expect(parseStreamName(postStreamName('p_1'))).toEqual({ kind: 'post', id: 'p_1' });
    expect(parseStreamName(userStreamName('u-1'))).toEqual({ kind: 'user', id: 'u-1' });
    expect(parseStreamName(ANCHOR_STREAM)).toEqual({ kind: 'audit-anchors' });
    expect(parseStreamName(auditAccessStreamName(new Date('2026-03-04T05:06:07Z')))).toEqual({ kind: 'audit-access', day: '2026-03-04' });
  });

  it('give the room id only for a room stream', () => {
    expect(roomIdOfStream(roomStreamName(ROOM_ID))).toBe(ROOM_ID);
    expect(roomIdOfStream(postStreamName(ROOM_ID))).toBeNull();
    expect(roomIdOfStream(userStreamName(ROOM_ID))).toBeNull();
    expect(parseStreamName('$all')).toBeNull();
    expect(parseStreamName('room-')).toBeNull();
  });
});

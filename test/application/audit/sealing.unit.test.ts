import { randomUUID } from 'node:crypto';
import { HASH_VERSION, verifyChain } from '../../../src/application/audit/hashChain';
import { sealEvents } from '../../../src/application/audit/sealing';
import { NO_PREVIOUS_HASH } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';

/**
 * Sealing is what every stored event goes through: the command handler's appends, and
 * the audit trail's own streams (access log, anchors), which start new streams with it.
 */
describe('sealing events for the store', () => {
  const context = { actorId: 'auditor', correlationId: randomUUID(), causationId: randomUUID() };
  const at = '2026-03-01T12:00:00.000Z';
  const events = [
    { type: 'AuditRead', data: { what: 'room-1' } },
    { type: 'AuditRead', data: { what: 'room-2' } },
  ];

  it('starts a new stream on the empty hash, chains each event onto the one before, and says who, when and which hash version', () => {
    const sealed = sealEvents(null, events, context, at, randomIds);
    expect(sealed.map((e) => [e.type, e.data])).toEqual(events.map((e) => [e.type, e.data]));
    expect(sealed[0]?.metadata.prevHash).toBe(NO_PREVIOUS_HASH);
    expect(sealed[1]?.metadata.prevHash).toBe(sealed[0]?.metadata.hash);
    for (const event of sealed) expect(event.metadata).toMatchObject({ ...context, recordedAt: at, hashVersion: HASH_VERSION });
    expect(verifyChain(sealed)).toBe(true);
    expect(new Set(sealed.map((e) => e.eventId)).size).toBe(2);
  });

  it("continues a stream from its tail's hash", () => {
    const [first] = sealEvents(null, events.slice(0, 1), context, at, randomIds);
    const [second] = sealEvents({ hash: first?.metadata.hash as string }, events.slice(1), context, at, randomIds);
    expect(second?.metadata.prevHash).toBe(first?.metadata.hash);
    expect(verifyChain([first, second].filter((e) => e !== undefined))).toBe(true);
  });
});

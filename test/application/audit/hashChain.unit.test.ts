import { createHash, randomUUID } from 'node:crypto';
import { ChainChecker } from '../../../src/application/audit/chainChecker';
import { canonicalJson, eventHash, HASH_VERSION, verifyChain } from '../../../src/application/audit/hashChain';
import { NO_PREVIOUS_HASH, type EventMetadata } from '../../../src/application/ports/eventStore';

interface Stored {
  streamRevision: bigint;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

const base = (recordedAt: string) => ({ actorId: 'bob', correlationId: randomUUID(), causationId: randomUUID(), recordedAt });

/** Hashed the way the service hashed before hash versions existed, written out independently. */
function versionOneStream(count: number): Stored[] {
  const events: Stored[] = [];
  let prevHash = NO_PREVIOUS_HASH;
  for (let i = 0; i < count; i += 1) {
    const metadata = base(`2025-06-0${i + 1}T10:00:00.000Z`);
    const data = { roomId: 'r', seq: i + 1, body: `message ${i + 1}` };
    const hash = createHash('sha256').update(prevHash).update(canonicalJson({ type: 'MessageSent', data, metadata })).digest('hex');
    events.push({ streamRevision: BigInt(i), eventId: randomUUID(), type: 'MessageSent', data, metadata: { ...metadata, prevHash, hash } });
    prevHash = hash;
  }
  return events;
}

function appendCurrent(events: Stored[], count: number): Stored[] {
  const all = [...events];
  for (let i = 0; i < count; i += 1) {
    const prevHash = all.at(-1)?.metadata.hash ?? NO_PREVIOUS_HASH;
    const metadata = { ...base(`2026-01-0${i + 1}T10:00:00.000Z`), hashVersion: HASH_VERSION };
    const eventId = randomUUID();
    const data = { roomId: 'r', seq: all.length + 1, body: `new ${i}` };
    const hash = eventHash(prevHash, { eventId, type: 'MessageSent', data, metadata });
    all.push({ streamRevision: BigInt(all.length), eventId, type: 'MessageSent', data, metadata: { ...metadata, prevHash, hash } });
  }
  return all;
}

function check(events: Stored[]) {
  const checker = new ChainChecker();
  for (const event of events) checker.add(event);
  return checker.problem;
}

describe('the versioned event hash', () => {
  it('keeps verifying events stored before hash versions, and a stream that continues in the new version', () => {
    const old = versionOneStream(3);
    expect(verifyChain(old)).toBe(true);
    expect(check(old)).toBeNull();
    const mixed = appendCurrent(old, 2);
    expect(mixed[3]?.metadata.hashVersion).toBe(HASH_VERSION);
    expect(check(mixed)).toBeNull();
  });

  it('covers the event id and the recorded time from version 2 on', () => {
    const events = appendCurrent([], 3);
    const newId = events.map((e, i) => (i === 1 ? { ...e, eventId: randomUUID() } : e));
    expect(check(newId)).toMatchObject({ revision: 1, kind: 'hash_mismatch' });
    const moved = events.map((e, i) => (i === 2 ? { ...e, metadata: { ...e.metadata, recordedAt: '2020-01-01T00:00:00.000Z' } } : e));
    expect(check(moved)).toMatchObject({ revision: 2, kind: 'hash_mismatch' });
  });

  it('accepts version 1 events after version 2 ones (an older server in a rolling upgrade), but not a stripped version', () => {
    const upgraded = appendCurrent(versionOneStream(1), 1);
    const prevHash = upgraded[1]?.metadata.hash as string;
    const metadata = base('2026-02-01T10:00:00.000Z');
    const data = { roomId: 'r', seq: 3, body: 'from an older server' };
    const hash = createHash('sha256').update(prevHash).update(canonicalJson({ type: 'MessageSent', data, metadata })).digest('hex');
    const olderServer = [...upgraded, { streamRevision: 2n, eventId: randomUUID(), type: 'MessageSent', data, metadata: { ...metadata, prevHash, hash } }];
    expect(check(olderServer)).toBeNull();
    // Removing hashVersion from a stored version 2 event changes what is hashed: without a recomputed hash it shows.
    const { hashVersion: _v, ...stripped } = upgraded[1]?.metadata as EventMetadata;
    expect(check([upgraded[0] as Stored, { ...(upgraded[1] as Stored), metadata: stripped as EventMetadata }])).toMatchObject({ revision: 1, kind: 'hash_mismatch' });
  });

  it('names a missing revision, a broken link and an unknown version at the first revision they touch', () => {
    const events = appendCurrent([], 4);
    expect(check([events[0], events[1], events[3]] as Stored[])).toMatchObject({ revision: 2, kind: 'revision_gap' });
    const swapped = [events[0], { ...events[2], streamRevision: 1n }, { ...events[1], streamRevision: 2n }, events[3]] as Stored[];
    expect(check(swapped)).toMatchObject({ revision: 1, kind: 'broken_link' });
    const future = events.map((e, i) => (i === 3 ? { ...e, metadata: { ...e.metadata, hashVersion: 9 } } : e));
    expect(check(future)).toMatchObject({ revision: 3, kind: 'hash_version' });
  });
});

describe('verifyChain', () => {
  const chain = () => appendCurrent([], 4);

  it('accepts an intact chain, and an empty one', () => {
    expect(verifyChain(chain())).toBe(true);
    expect(verifyChain([])).toBe(true);
  });

  it('refuses an event whose data, type, metadata or id was edited after it was hashed', () => {
    const edits: Array<(event: Stored) => Stored> = [
      (e) => ({ ...e, data: { ...e.data, body: 'edited' } }),
      (e) => ({ ...e, type: 'MessagesRead' }),
      (e) => ({ ...e, metadata: { ...e.metadata, actorId: 'mallory' } }),
      (e) => ({ ...e, metadata: { ...e.metadata, recordedAt: '2020-01-01T00:00:00.000Z' } }),
      (e) => ({ ...e, eventId: randomUUID() }),
    ];
    for (const edit of edits) {
      for (const at of [0, 2, 3]) {
        const events = chain();
        events[at] = edit(events[at] as Stored);
        expect(verifyChain(events)).toBe(false);
      }
    }
  });

  it('refuses an edit whose hash was recomputed, since the next event still links to the old hash', () => {
    const events = chain();
    const edited = events[1] as Stored;
    const data = { ...edited.data, body: 'edited' };
    events[1] = { ...edited, data, metadata: { ...edited.metadata, hash: eventHash(edited.metadata.prevHash, { ...edited, data }) } };
    expect(verifyChain(events)).toBe(false);
    // The last event has no successor: recomputing its hash goes unnoticed by the chain alone (anchors catch it).
    const tail = chain();
    const last = tail[3] as Stored;
    const lastData = { ...last.data, body: 'edited' };
    tail[3] = { ...last, data: lastData, metadata: { ...last.metadata, hash: eventHash(last.metadata.prevHash, { ...last, data: lastData }) } };
    expect(verifyChain(tail)).toBe(true);
  });

  it('refuses a chain with an event removed from the middle or the start, or two swapped', () => {
    const events = chain();
    expect(verifyChain([events[0], events[2], events[3]] as Stored[])).toBe(false);
    expect(verifyChain(events.slice(1))).toBe(false);
    expect(verifyChain([events[0], events[2], events[1], events[3]] as Stored[])).toBe(false);
  });

  it('refuses a first event that does not start from the empty previous hash', () => {
    const events = chain();
    const first = events[0] as Stored;
    const prevHash = 'f'.repeat(64);
    events[0] = { ...first, metadata: { ...first.metadata, prevHash, hash: eventHash(prevHash, first) } };
    expect(verifyChain([events[0] as Stored])).toBe(false);
  });

  it('refuses an event of a hash version it does not know, rather than throwing', () => {
    const events = chain();
    const last = events[3] as Stored;
    events[3] = { ...last, metadata: { ...last.metadata, hashVersion: 99 } };
    expect(verifyChain(events)).toBe(false);
  });
});

import { createHash } from 'node:crypto';
import { ANCHOR_STREAM } from '../../domain/audit';
import type { MessageAttachment, MessageSent } from '../../domain/room';
import { roomIdOfStream, roomStreamName } from '../../domain/streams';
import type { EventStore } from '../ports/eventStore';
import type { AnchorLedger } from './anchors';
import { ChainChecker, type ChainProblem } from './chainChecker';
import { allEvents, streamEvents } from './records';

export interface StreamVerdict {
  streamId: string;
  /** The room's id for a `room-` stream, else null. */
  roomId: string | null;
  events: number;
  /** The last revision stored, null for a stream with no event left. */
  headRevision: number | null;
  /** The stream's last anchored revision, null when it has not been anchored yet. */
  anchoredRevision: number | null;
  verified: boolean;
  problem: ChainProblem | null;
}

/**
 * One stream checked: its hash chain, then against its latest anchor. The stream is read
 * page by page; only the anchored revision's hash is kept aside. When that hash differs
 * (the chain was recomputed after an edit), the earlier anchors of the stream narrow
 * down where: the edit lies after the last anchored revision that still matches.
 */
export async function verifyStream(
  eventStore: EventStore,
  streamId: string,
  ledger: AnchorLedger,
  attachments?: AttachmentBytes,
): Promise<StreamVerdict> {
  const anchored = ledger.pointOf(streamId);
  const checker = new ChainChecker().watch(anchored === undefined ? [] : [anchored.revision]);
  const photos: Array<{ revision: number; attachment: MessageAttachment }> = [];
  for await (const event of streamEvents(eventStore, streamId)) {
    checker.add(event);
    if (attachments !== undefined && event.type === 'MessageSent') {
      for (const attachment of (event.data as MessageSent['data']).attachments ?? []) photos.push({ revision: Number(event.streamRevision), attachment });
    }
  }

  let problem = checker.problem ?? (attachments === undefined ? null : await swappedPhoto(photos, attachments));
  if (problem === null && anchored !== undefined) {
    const headRevision = checker.head?.revision ?? -1;
    if (headRevision < anchored.revision) {
      const ends = checker.head === null ? 'the stream has no events' : `the stream ends at revision ${headRevision}`;
      problem = {
        revision: headRevision + 1,
        kind: 'missing_tail',
        detail: `${ends}, but revision ${anchored.revision} was anchored at ${anchored.anchoredAt}: its newest events were deleted`,
      };
    } else if (checker.hashAt(anchored.revision) !== anchored.hash) {
      problem = await narrowMismatch(eventStore, streamId, ledger, anchored.revision);
    }
  }
  return {
    streamId,
    roomId: roomIdOfStream(streamId),
    events: checker.count,
    headRevision: checker.head?.revision ?? null,
    anchoredRevision: anchored?.revision ?? null,
    verified: problem === null,
    problem,
  };
}

/** Reads an attachment's stored bytes, or null when there are none (never sent, or erased). */
export type AttachmentBytes = (attachmentId: string, variant: 'image' | 'thumbnail') => Promise<Buffer | null>;

/**
 * The first photo whose stored bytes are not those its message recorded (SHA-256 of the
 * image and of the thumbnail). Bytes that are gone are no failure here: erasure deletes
 * them on purpose; the digest in the event is what stays.
 */
async function swappedPhoto(photos: ReadonlyArray<{ revision: number; attachment: MessageAttachment }>, read: AttachmentBytes): Promise<ChainProblem | null> {
  for (const { revision, attachment } of photos) {
    for (const [variant, recorded] of [['image', attachment.sha256], ['thumbnail', attachment.thumbnail.sha256]] as const) {
      const bytes = await read(attachment.attachmentId, variant);
      if (bytes === null) continue;
      const stored = createHash('sha256').update(bytes).digest('hex');
      if (stored !== recorded) {
        return {
          revision,
          kind: 'attachment_mismatch',
          detail: `attachment ${attachment.attachmentId}'s stored ${variant} is not the one recorded at revision ${revision} (SHA-256 ${stored}, recorded ${recorded}): it was replaced`,
        };
      }
    }
  }
  return null;
}

async function narrowMismatch(eventStore: EventStore, streamId: string, ledger: AnchorLedger, latest: number): Promise<ChainProblem> {
  const points = await ledger.pointsOf(streamId);
  const checker = new ChainChecker().watch(points.map((p) => p.revision));
  for await (const event of streamEvents(eventStore, streamId)) checker.add(event);
  let lastGood = -1;
  let firstBad = latest;
  for (const point of points) {
    if (checker.hashAt(point.revision) === point.hash) lastGood = Math.max(lastGood, point.revision);
  }
  for (const point of points) if (point.revision > lastGood && checker.hashAt(point.revision) !== point.hash) firstBad = Math.min(firstBad, point.revision);
  const range = lastGood + 1 === firstBad ? `revision ${firstBad}` : `revisions ${lastGood + 1} to ${firstBad}`;
  return {
    revision: lastGood + 1,
    kind: 'anchor_mismatch',
    detail: `revision ${firstBad}'s hash is not the one anchored: the chain was recomputed after an edit in ${range}`,
  };
}

export interface VerifyStoreOptions {
  /** Only this room. */
  roomId?: string;
  /** The anchor head published outside the database: the anchor stream must still reach it, unchanged. */
  expectedAnchorHead?: { revision: number; mac: string };
  /** Called after each stream. */
  onProgress?(progress: { streams: number; events: number }): void;
  /** The attachment store: each sent photo's stored bytes are checked against the digests its message recorded. */
  attachments?: AttachmentBytes;
}

/**
 * Every stream of the store (or one room) verified, one verdict at a time: first the
 * anchor stream itself, then each stream in the order it first appears in the store,
 * then streams that were anchored but have no event left. Memory: one entry per
 * stream id and one page of events.
 */
export async function* verifyStore(eventStore: EventStore, ledger: AnchorLedger, options: VerifyStoreOptions = {}): AsyncGenerator<StreamVerdict> {
  await ledger.refresh();
  if (options.roomId !== undefined) {
    yield await verifyStream(eventStore, roomStreamName(options.roomId), ledger, options.attachments);
    return;
  }
  yield anchorVerdict(ledger, options.expectedAnchorHead);

  const streamIds = new Set<string>();
  for await (const event of allEvents(eventStore)) if (event.streamId !== ANCHOR_STREAM) streamIds.add(event.streamId);
  for (const anchoredStream of ledger.streams()) streamIds.add(anchoredStream);
  let events = 0;
  let streams = 0;
  for (const streamId of streamIds) {
    const verdict = await verifyStream(eventStore, streamId, ledger, options.attachments);
    events += verdict.events;
    streams += 1;
    options.onProgress?.({ streams, events });
    yield verdict;
  }
}

function anchorVerdict(ledger: AnchorLedger, expected: VerifyStoreOptions['expectedAnchorHead']): StreamVerdict {
  let problem = ledger.problem;
  if (problem === null && expected !== undefined) {
    const mac = ledger.macAt(expected.revision);
    if (mac === undefined) {
      const ends = ledger.head === null ? 'there is no anchor' : `the anchor stream ends at revision ${ledger.head.revision}`;
      problem = { revision: (ledger.head?.revision ?? -1) + 1, kind: 'missing_tail', detail: `${ends}, but the published anchor head is revision ${expected.revision}` };
    } else if (mac !== expected.mac) {
      problem = { revision: expected.revision, kind: 'anchor_mismatch', detail: `anchor ${expected.revision}'s mac is not the published one` };
    }
  }
  return {
    streamId: ANCHOR_STREAM,
    roomId: null,
    events: ledger.anchors,
    headRevision: ledger.head?.revision ?? null,
    anchoredRevision: expected?.revision ?? null,
    verified: problem === null,
    problem,
  };
}

export interface VerificationSummary {
  verified: boolean;
  streams: number;
  events: number;
  failures: StreamVerdict[];
}

/** Folds verdicts into a summary that keeps only the failures. */
export function summarize(): { add(verdict: StreamVerdict): void; result(): VerificationSummary } {
  const summary: VerificationSummary = { verified: true, streams: 0, events: 0, failures: [] };
  return {
    add(verdict) {
      summary.streams += 1;
      summary.events += verdict.events;
      if (!verdict.verified) {
        summary.verified = false;
        summary.failures.push(verdict);
      }
    },
    result: () => summary,
  };
}

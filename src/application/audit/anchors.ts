import { createHmac } from 'node:crypto';
import { ANCHOR_STREAM, type AnchoredHead, type AuditAnchored } from '../../domain/audit';
import type { Clock } from '../ports/clock';
import { NO_PREVIOUS_HASH, WrongExpectedRevisionError, type EventStore, type RecordedEvent } from '../ports/eventStore';
import type { IdGenerator } from '../ports/ids';
import type { Logger } from '../ports/logger';
import { ChainChecker, type ChainProblem } from './chainChecker';
import { canonicalJson } from './hashChain';
import { allEvents, streamEvents } from './records';
import { sealEvents, type ChainTail } from './sealing';

type AnchorData = AuditAnchored['data'];

/** HMAC-SHA-256 (hex) over the anchor's canonical JSON, its `mac` left out; `prevMac` chains it to the one before. */
export function anchorMac(key: string, data: Omit<AnchorData, 'mac'>): string {
  const { anchoredAt, through, heads, prevMac } = data;
  return createHmac('sha256', key).update(canonicalJson({ anchoredAt, through, heads, prevMac })).digest('hex');
}

/** At most this many heads in one anchor event, so an anchor after a busy spell stays a modest row. */
const HEADS_PER_ANCHOR = 500;

export interface AnchorResult {
  /** How many streams' heads were anchored. */
  streams: number;
  /** The anchor stream's new head: publish it outside the database. */
  head: { revision: number; mac: string };
}

export interface AuditAnchorerDeps {
  eventStore: EventStore;
  clock: Clock;
  ids: IdGenerator;
  /** AUDIT_ANCHOR_KEY. */
  key: string;
  logger: Logger;
}

/**
 * Records the head (revision and hash) of every stream that changed since the last
 * anchor in the anchor stream. Several processes may anchor at once: the anchor
 * stream's expected revision lets one of them win, and the others' heads are in the
 * winner's anchor or the next one.
 */
export class AuditAnchorer {
  private tail: (ChainTail & { mac: string; through: string | null }) | null = null;

  constructor(private readonly deps: AuditAnchorerDeps) {}

  /** Anchors now; null when nothing changed since the last anchor, or another process anchored first. */
  async anchorNow(): Promise<AnchorResult | null> {
    await this.catchUpWithAnchorStream();
    const heads = new Map<string, AnchoredHead>();
    let through: string | null = this.tail?.through ?? null;
    for await (const event of allEvents(this.deps.eventStore, through)) {
      through = event.checkpoint;
      if (event.streamId === ANCHOR_STREAM) continue;
      heads.set(event.streamId, { streamId: event.streamId, revision: Number(event.streamRevision), hash: String(event.metadata.hash) });
    }
    if (heads.size === 0 || through === null) return null;

    const anchoredAt = this.deps.clock.now().toISOString();
    const all = [...heads.values()];
    let prevMac = this.tail?.mac ?? NO_PREVIOUS_HASH;
    const anchors: AuditAnchored[] = [];
    for (let i = 0; i < all.length; i += HEADS_PER_ANCHOR) {
      const unsigned = { anchoredAt, through, heads: all.slice(i, i + HEADS_PER_ANCHOR), prevMac };
      const mac = anchorMac(this.deps.key, unsigned);
      anchors.push({ type: 'AuditAnchored', data: { ...unsigned, mac } });
      prevMac = mac;
    }
    const context = { actorId: 'system:audit-anchor', correlationId: this.deps.ids.newId(), causationId: this.deps.ids.newId() };
    const sealed = sealEvents(this.tail, anchors, context, anchoredAt, this.deps.ids);
    try {
      const appended = await this.deps.eventStore.appendToStream(ANCHOR_STREAM, sealed, this.tail?.revision ?? 'no_stream');
      const last = sealed.at(-1) as (typeof sealed)[number];
      this.tail = { revision: appended.nextExpectedRevision, hash: last.metadata.hash, mac: prevMac, through };
      return { streams: all.length, head: { revision: Number(appended.nextExpectedRevision), mac: prevMac } };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      this.deps.logger.debug({}, 'another process anchored first; its anchor or the next one covers these heads');
      return null;
    }
  }

  private async catchUpWithAnchorStream(): Promise<void> {
    const from = this.tail === null ? 0n : this.tail.revision + 1n;
    for await (const event of streamEvents(this.deps.eventStore, ANCHOR_STREAM, from)) {
      const data = event.data as AnchorData;
      this.tail = { revision: event.streamRevision, hash: event.metadata.hash, mac: data.mac, through: data.through };
    }
  }
}

export interface AnchorPoint {
  revision: number;
  hash: string;
  anchoredAt: string;
  /** The anchor event's revision in the anchor stream. */
  anchorRevision: number;
}

/**
 * The anchors, as verified with the key: the latest anchored head of every stream.
 * Reads the anchor stream incrementally (refresh picks up new anchors only) and stops
 * trusting it at its first bad event: anchors after a forged one prove nothing.
 */
export class AnchorLedger {
  private readonly latest = new Map<string, AnchorPoint>();
  private readonly macs: string[] = [];
  private readonly checker = new ChainChecker();
  private prevMac = NO_PREVIOUS_HASH;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly eventStore: EventStore,
    private readonly key: string,
  ) {}

  /** The anchor stream's own problem (hash chain or HMAC), null when it verifies. */
  get problem(): ChainProblem | null {
    return this.checker.problem;
  }

  get anchors(): number {
    return this.checker.count;
  }

  /** The last anchor: what to publish outside the database. */
  get head(): { revision: number; mac: string } | null {
    const mac = this.macs.at(-1);
    return mac === undefined ? null : { revision: this.macs.length - 1, mac };
  }

  /** The MAC of the anchor at this revision of the anchor stream (for checking a published head). */
  macAt(revision: number): string | undefined {
    return this.macs[revision];
  }

  /** Reads the anchors added since the last refresh. Concurrent calls run one after the other. */
  refresh(): Promise<void> {
    const run = this.refreshing.then(() => this.readNewAnchors());
    this.refreshing = run.catch(() => undefined);
    return run;
  }

  private async readNewAnchors(): Promise<void> {
    if (this.checker.problem !== null) return;
    for await (const event of streamEvents(this.eventStore, ANCHOR_STREAM, BigInt(this.checker.count))) {
      this.checker.add(event);
      if (this.checker.problem === null) this.checkMac(event);
      if (this.checker.problem !== null) return;
      const data = event.data as AnchorData;
      this.macs.push(data.mac);
      this.prevMac = data.mac;
      for (const head of data.heads) {
        this.latest.set(head.streamId, { ...head, anchoredAt: data.anchoredAt, anchorRevision: Number(event.streamRevision) });
      }
    }
  }

  pointOf(streamId: string): AnchorPoint | undefined {
    return this.latest.get(streamId);
  }

  streams(): IterableIterator<string> {
    return this.latest.keys();
  }

  /** Every trusted anchored head of one stream, oldest first: read again, only when a mismatch needs narrowing. */
  async pointsOf(streamId: string): Promise<AnchorPoint[]> {
    const points: AnchorPoint[] = [];
    const trusted = this.macs.length;
    for await (const event of streamEvents(this.eventStore, ANCHOR_STREAM)) {
      if (Number(event.streamRevision) >= trusted) break;
      const data = event.data as AnchorData;
      for (const head of data.heads) {
        if (head.streamId === streamId) points.push({ ...head, anchoredAt: data.anchoredAt, anchorRevision: Number(event.streamRevision) });
      }
    }
    return points;
  }

  private checkMac(event: RecordedEvent): void {
    const data = event.data as Partial<AnchorData> | null;
    const revision = Number(event.streamRevision);
    const wellFormed =
      data !== null &&
      typeof data === 'object' &&
      typeof data.mac === 'string' &&
      typeof data.anchoredAt === 'string' &&
      typeof data.through === 'string' &&
      Array.isArray(data.heads);
    const fail = (detail: string): void => {
      this.checker.problem = { revision, kind: 'anchor_mac', detail };
    };
    if (!wellFormed) return fail('it is not an anchor');
    const anchor = data as AnchorData;
    if (anchor.prevMac !== this.prevMac) return fail('its prevMac is not the previous anchor\'s mac: an anchor was removed or reordered');
    if (anchorMac(this.key, anchor) !== anchor.mac) {
      return fail('its HMAC does not verify with this AUDIT_ANCHOR_KEY: the anchor was forged or altered, or the key is not the one that wrote it');
    }
  }
}

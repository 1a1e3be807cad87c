import { createHmac } from 'node:crypto';
import { ANCHOR_STREAM, type AnchoredHead, type AuditAnchored } from '../../domain/audit';
import type { Clock } from '../ports/clock';
import { NO_PREVIOUS_HASH, WrongExpectedRevisionError, type EventStore, type EventToAppend, type RecordedEvent } from '../ports/eventStore';
import type { IdGenerator } from '../ports/ids';
import type { Logger } from '../ports/logger';
import type { AnchorKeyRing } from './anchorKeys';
import { ChainChecker, type ChainProblem } from './chainChecker';
import { canonicalJson } from './hashChain';
import { allEvents, streamEvents } from './records';
import { sealEvents, type ChainTail } from './sealing';

type AnchorData = AuditAnchored['data'];

/**
 * HMAC-SHA-256 (hex) over the anchor's canonical JSON, its `mac` left out; `prevMac` chains
 * it to the one before. `keyId` and `prevAnchorHash` are covered when present; an anchor
 * written before them has neither, and its mac is computed exactly as it was then.
 */
export function anchorMac(key: string, data: Omit<AnchorData, 'mac'>): string {
  const { anchoredAt, through, heads, prevMac, keyId, prevAnchorHash } = data;
  return createHmac('sha256', key).update(canonicalJson({ anchoredAt, through, heads, prevMac, keyId, prevAnchorHash })).digest('hex');
}

/** Whether an anchor's own mac verifies with the listed key it names (one written before keys had ids: with any listed key). */
function signedWithListedKey(keys: AnchorKeyRing, anchor: AnchorData): boolean {
  if (typeof anchor?.mac !== 'string') return false;
  const candidates = anchor.keyId === undefined ? keys.keys : [keys.key(anchor.keyId)].filter((key) => key !== undefined);
  return candidates.some((key) => anchorMac(key.secret, anchor) === anchor.mac);
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
  /** AUDIT_ANCHOR_KEY: the newest key signs. */
  keys: AnchorKeyRing;
  logger: Logger;
}

/**
 * Records the head (revision and hash) of every stream that changed since the last
 * anchor in the anchor stream. Several processes may anchor at once: the anchor
 * stream's expected revision lets one of them win, and the others' heads are in the
 * winner's anchor or the next one.
 */
export class AuditAnchorer {
  private tail: (ChainTail & { mac: string; through: string | null; trusted: boolean }) | null = null;

  constructor(private readonly deps: AuditAnchorerDeps) {}

  /**
   * Anchors now; null when nothing changed since the last anchor, or another process
   * anchored first. Throws, anchoring nothing, when the last anchor does not verify with a
   * listed key: a new anchor vouches for every anchor before it, so it must not be chained
   * onto one that may have been forged.
   */
  async anchorNow(): Promise<AnchorResult | null> {
    await this.catchUpWithAnchorStream();
    if (this.tail !== null && !this.tail.trusted) {
      throw new Error(
        `the last anchor (revision ${this.tail.revision}) does not verify with any key AUDIT_ANCHOR_KEY lists: not anchoring on top of it ` +
          '(list the key that signed it again, or run `npm run audit -- verify`)',
      );
    }
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
    const key = this.deps.keys.signing;
    const context = { actorId: 'system:audit-anchor', correlationId: this.deps.ids.newId(), causationId: this.deps.ids.newId() };
    let prevMac = this.tail?.mac ?? NO_PREVIOUS_HASH;
    let chain: ChainTail | null = this.tail;
    const sealed: EventToAppend[] = [];
    for (let i = 0; i < all.length; i += HEADS_PER_ANCHOR) {
      // Sealed one at a time: each anchor signs the hash of the anchor event before it.
      const unsigned = { anchoredAt, through, heads: all.slice(i, i + HEADS_PER_ANCHOR), prevMac, keyId: key.id, prevAnchorHash: chain?.hash ?? NO_PREVIOUS_HASH };
      const mac = anchorMac(key.secret, unsigned);
      const anchor: AuditAnchored = { type: 'AuditAnchored', data: { ...unsigned, mac } };
      const [event] = sealEvents(chain, [anchor], context, anchoredAt, this.deps.ids) as [EventToAppend];
      sealed.push(event);
      chain = { revision: chain === null ? 0n : chain.revision + 1n, hash: event.metadata.hash };
      prevMac = mac;
    }
    try {
      const appended = await this.deps.eventStore.appendToStream(ANCHOR_STREAM, sealed, this.tail?.revision ?? 'no_stream');
      const last = sealed.at(-1) as (typeof sealed)[number];
      this.tail = { revision: appended.nextExpectedRevision, hash: last.metadata.hash, mac: prevMac, through, trusted: true };
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
      const trusted = signedWithListedKey(this.deps.keys, data);
      this.tail = { revision: event.streamRevision, hash: event.metadata.hash, mac: data.mac, through: data.through, trusted };
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
 * The anchors, as verified with the keys: the latest anchored head of every stream.
 * Reads the anchor stream incrementally (refresh picks up new anchors only) and stops
 * trusting it at its first bad event: anchors after a forged one prove nothing.
 *
 * An anchor is trusted when its mac verifies with the listed key it names (one written
 * before keys had ids: with any listed key), or when a later anchor that is trusted so
 * pins the anchor stream before it (`prevAnchorHash`): that is how anchors signed with a
 * retired key stay trusted. Until such a later anchor comes, they are held apart and
 * their heads are not used, and `problem` names the first of them.
 */
export class AnchorLedger {
  private readonly latest = new Map<string, AnchorPoint>();
  /** Heads of the anchors read but not trusted yet, waiting for a later anchor to vouch for them. */
  private readonly unvouched = new Map<string, AnchorPoint>();
  private firstUnvouched: { revision: number; why: string } | null = null;
  private readonly macs: string[] = [];
  /** Anchors 0 to trusted - 1 are trusted. */
  private trusted = 0;
  private readonly checker = new ChainChecker();
  private prevMac = NO_PREVIOUS_HASH;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly eventStore: EventStore,
    private readonly keys: AnchorKeyRing,
  ) {}

  /** The anchor stream's own problem (hash chain, HMAC, or an anchor nothing vouches for), null when it verifies. */
  get problem(): ChainProblem | null {
    if (this.firstUnvouched !== null) return { revision: this.firstUnvouched.revision, kind: 'anchor_mac', detail: this.firstUnvouched.why };
    return this.checker.problem;
  }

  get anchors(): number {
    return this.checker.count;
  }

  /** The last trusted anchor: what to publish outside the database. */
  get head(): { revision: number; mac: string } | null {
    const mac = this.macs[this.trusted - 1];
    return mac === undefined ? null : { revision: this.trusted - 1, mac };
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
      const verdict = this.checker.problem === null ? this.judge(event) : null;
      if (verdict === null) return;
      const data = event.data as AnchorData;
      const revision = Number(event.streamRevision);
      this.macs.push(data.mac);
      this.prevMac = data.mac;
      const vouches = verdict.trusted && (this.firstUnvouched === null || data.prevAnchorHash !== undefined);
      if (vouches) {
        for (const [streamId, point] of this.unvouched) this.latest.set(streamId, point);
        this.unvouched.clear();
        this.firstUnvouched = null;
        this.trusted = this.macs.length;
      } else if (this.firstUnvouched === null && !verdict.trusted) {
        this.firstUnvouched = { revision, why: verdict.why };
      }
      const into = vouches ? this.latest : this.unvouched;
      for (const head of data.heads) into.set(head.streamId, { ...head, anchoredAt: data.anchoredAt, anchorRevision: revision });
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
    const trusted = this.trusted;
    for await (const event of streamEvents(this.eventStore, ANCHOR_STREAM)) {
      if (Number(event.streamRevision) >= trusted) break;
      const data = event.data as AnchorData;
      for (const head of data.heads) {
        if (head.streamId === streamId) points.push({ ...head, anchoredAt: data.anchoredAt, anchorRevision: Number(event.streamRevision) });
      }
    }
    return points;
  }

  /**
   * Whether an anchor (its chain already checked) is trusted by its own mac, or must wait
   * for a later one to vouch for it; null when it is bad (the problem is then set).
   */
  private judge(event: RecordedEvent): { trusted: true } | { trusted: false; why: string } | null {
    const data = event.data as Partial<AnchorData> | null;
    const revision = Number(event.streamRevision);
    const fail = (detail: string): null => {
      this.checker.problem = { revision, kind: 'anchor_mac', detail };
      return null;
    };
    const wellFormed =
      data !== null &&
      typeof data === 'object' &&
      typeof data.mac === 'string' &&
      typeof data.anchoredAt === 'string' &&
      typeof data.through === 'string' &&
      Array.isArray(data.heads) &&
      (data.keyId === undefined || typeof data.keyId === 'string') &&
      (data.prevAnchorHash === undefined || typeof data.prevAnchorHash === 'string');
    if (!wellFormed) return fail('it is not an anchor');
    const anchor = data as AnchorData;
    if (anchor.prevMac !== this.prevMac) return fail('its prevMac is not the previous anchor\'s mac: an anchor was removed or reordered');
    if (anchor.prevAnchorHash !== undefined && anchor.prevAnchorHash !== event.metadata.prevHash) {
      return fail('its prevAnchorHash is not the hash of the anchor before it: the anchors before it were rewritten');
    }
    if (anchor.keyId === undefined) {
      // Written before keys had ids, with the one key there was then.
      if (signedWithListedKey(this.keys, anchor)) return { trusted: true };
      return {
        trusted: false,
        why: 'its HMAC verifies with no key AUDIT_ANCHOR_KEY lists (forged or altered, or written with a key no longer listed), and no later anchor signed with a listed key vouches for it',
      };
    }
    const key = this.keys.key(anchor.keyId);
    if (key === undefined) {
      return { trusted: false, why: `it was signed with key ${anchor.keyId}, which AUDIT_ANCHOR_KEY does not list, and no later anchor signed with a listed key vouches for it` };
    }
    if (anchorMac(key.secret, anchor) !== anchor.mac) return fail(`its HMAC does not verify with key ${anchor.keyId}: the anchor was forged or altered`);
    return { trusted: true };
  }
}

import type { Event } from '../shared/decider';

/**
 * The audit trail's own events. They live in streams of their own, never in a room's,
 * so reading chat history and anchoring it leave the rooms' records untouched.
 */

/** What an auditor read: the route or command, and its arguments. */
export type AuditAccessed = Event<
  'AuditAccessed',
  {
    /** The auditor's user id (the token's `sub`). */
    actorId: string;
    /** `room-events`, `room-state`, `verify` or `attachment`. */
    action: AuditAction;
    /** The room read; absent for a store-wide verification. */
    roomId?: string;
    /** For `room-state`: the instant asked for. */
    at?: string;
    /** For `moderation-report`: the report whose messages a moderator read. */
    reportId?: string;
    /** For `attachment`: which photo, and which rendition (`image` or `thumbnail`). */
    attachmentId?: string;
    variant?: string;
    accessedAt: string;
  }
>;

/** `moderation-report`: a moderator read a report and the messages around it (docs/moderation.md). */
export type AuditAction = 'room-events' | 'room-state' | 'verify' | 'moderation-report' | 'attachment';

/** One stream's head as it was when anchored. */
export interface AnchoredHead {
  streamId: string;
  revision: number;
  hash: string;
}

/**
 * Heads of the streams that changed since the previous anchor. `mac` is an HMAC-SHA-256,
 * keyed with a secret the database does not hold, over this anchor and the previous
 * anchor's `mac`: without the key nobody can write an anchor that verifies.
 */
export type AuditAnchored = Event<
  'AuditAnchored',
  {
    anchoredAt: string;
    /** The event store checkpoint the heads were read up to (inclusive). */
    through: string;
    heads: AnchoredHead[];
    prevMac: string;
    /**
     * Which key signed it (a short hash of the key: the key may be rotated). Absent on
     * anchors written before keys could be rotated.
     */
    keyId?: string;
    /**
     * The hash of the anchor event before this one in the anchor stream (64 zeros for the
     * first), under the mac: this anchor vouches for every anchor before it, so those stay
     * trusted once the key that signed them is retired. Absent on anchors written before.
     */
    prevAnchorHash?: string;
    mac: string;
  }
>;

export type AuditEvent = AuditAccessed | AuditAnchored;

export { ANCHOR_STREAM, auditAccessStreamName } from '../streams';

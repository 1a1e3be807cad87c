import { createHash } from 'node:crypto';
import { NO_PREVIOUS_HASH, type EventMetadata } from '../ports/eventStore';

/**
 * JSON with object keys sorted at every level, so the same event always hashes the
 * same whatever store (jsonb reorders keys) it went through.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The canonical form new events are hashed with, recorded in their metadata as
 * `hashVersion`. Version 1 (no `hashVersion`): `{type, data, metadata}`. Version 2 adds
 * the event id, so neither the id nor anything in the metadata (the recorded time
 * included) can change unnoticed. Version 3 hashes the same form as 2 and says what the
 * data is: personal data in it is sealed (a `MessageSent` holds `sealedBody`, never
 * `body`), so the hash covers the ciphertext and verifies the same before and after its
 * data key is destroyed (docs/privacy.md). Events keep the version they were written with.
 */
export const HASH_VERSION = 3;

type UnhashedMetadata = Omit<EventMetadata, 'hash' | 'prevHash'>;

export interface HashableEvent {
  /** Required from version 2 on. */
  eventId?: string;
  type: string;
  data: unknown;
  metadata: UnhashedMetadata | EventMetadata;
}

export class UnknownHashVersionError extends Error {
  constructor(readonly version: unknown) {
    super(`unknown hash version ${JSON.stringify(version)}`);
    this.name = 'UnknownHashVersionError';
  }
}

/** The version an event was hashed with: its metadata's `hashVersion`, 1 when absent. */
export function hashVersionOf(metadata: Readonly<Record<string, unknown>>): number {
  const version = metadata.hashVersion ?? 1;
  if (version !== 1 && version !== 2 && version !== 3) throw new UnknownHashVersionError(version);
  return version;
}

/** The text that is hashed after `prevHash`: the event's canonical JSON in its version's form. */
export function canonicalForm(event: HashableEvent): string {
  const { hash: _h, prevHash: _p, ...metadata } = event.metadata as EventMetadata;
  if (hashVersionOf(metadata) === 1) return canonicalJson({ type: event.type, data: event.data, metadata });
  if (event.eventId === undefined) throw new Error('a version 2 or 3 event hash needs the event id');
  return canonicalJson({ eventId: event.eventId, type: event.type, data: event.data, metadata });
}

/** The hash of one event: SHA-256 over the previous hash and the event's canonical form (hex). */
export function eventHash(prevHash: string, event: HashableEvent): string {
  return createHash('sha256').update(prevHash).update(canonicalForm(event)).digest('hex');
}

/** True when every event's prevHash is its predecessor's hash and every hash matches its content. */
export function verifyChain(events: readonly { eventId?: string; type: string; data: unknown; metadata: EventMetadata }[]): boolean {
  let prev = NO_PREVIOUS_HASH;
  for (const event of events) {
    if (event.metadata.prevHash !== prev || safeHash(prev, event) !== event.metadata.hash) return false;
    prev = event.metadata.hash;
  }
  return true;
}

/** The hash, or null when the event's form cannot be hashed (unknown version, missing id). */
export function safeHash(prevHash: string, event: HashableEvent): string | null {
  try {
    return eventHash(prevHash, event);
  } catch {
    return null;
  }
}

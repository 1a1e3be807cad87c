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

type UnhashedMetadata = Omit<EventMetadata, 'hash' | 'prevHash'>;

/** The hash of one event: SHA-256 over the previous hash and the event's canonical JSON. */
export function eventHash(prevHash: string, event: { type: string; data: unknown; metadata: UnhashedMetadata }): string {
  const { hash: _h, prevHash: _p, ...metadata } = event.metadata as EventMetadata;
  return createHash('sha256')
    .update(prevHash)
    .update(canonicalJson({ type: event.type, data: event.data, metadata }))
    .digest('hex');
}

/** True when every event's prevHash is its predecessor's hash and every hash matches its content. */
export function verifyChain(events: readonly { type: string; data: unknown; metadata: EventMetadata }[]): boolean {
  let prev = NO_PREVIOUS_HASH;
  for (const event of events) {
    if (event.metadata.prevHash !== prev || eventHash(prev, event) !== event.metadata.hash) return false;
    prev = event.metadata.hash;
  }
  return true;
}

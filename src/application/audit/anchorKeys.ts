import { createHash } from 'node:crypto';

/** One audit anchor key and the id anchors name it by. */
export interface AnchorKey {
  /** The first 16 hex digits of the key's SHA-256: names the key without revealing it. */
  id: string;
  secret: string;
}

/** The id an anchor records for the key that signed it (`printf %s "$KEY" | sha256sum | cut -c1-16`). */
export function anchorKeyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16);
}

/**
 * The AUDIT_ANCHOR_KEY list, newest first: the newest signs new anchors, every listed
 * key verifies the anchors that name it. Rotating is listing a new key in front of the
 * old ones; retiring a key is leaving it out (docs/audit.md, "Rotating the anchor key").
 */
export class AnchorKeyRing {
  readonly signing: AnchorKey;
  private readonly byId: ReadonlyMap<string, AnchorKey>;

  constructor(secrets: readonly string[]) {
    const keys = secrets.map((secret) => ({ id: anchorKeyId(secret), secret }));
    const newest = keys[0];
    if (newest === undefined) throw new Error('an anchor key ring needs at least one key');
    this.signing = newest;
    this.byId = new Map(keys.map((key) => [key.id, key]));
  }

  /** The listed key with this id; undefined when it is not listed (retired, or never ours). */
  key(id: string): AnchorKey | undefined {
    return this.byId.get(id);
  }

  get keys(): AnchorKey[] {
    return [...this.byId.values()];
  }
}

import { createHash, createPrivateKey, createPublicKey, hkdfSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { isValidCron } from './infrastructure/scheduler/cron';
import { DEFAULT_PUSH_HOSTS } from './infrastructure/notifications/pushEndpointPolicy';

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface Config {
  port: number;
  /** The address to listen on: 127.0.0.1 in development mode, 0.0.0.0 otherwise (HOST). */
  host: string;
  /** Absent: embedded PGlite under dataDir. */
  databaseUrl: string | null;
  dataDir: string;
  eventStore: { kind: 'postgres' } | { kind: 'eventstoredb'; connectionString: string };
  jwt: {
    /** The newest key's algorithm (what the development tools sign with). */
    algorithm: JwtAlgorithm;
    /** The newest HS256 secret or RS256/ES256 public key (PEM). */
    key: string;
    /** Every key a token may be signed with, newest first (JWT_SECRET or JWT_PUBLIC_KEY as a comma list); empty with a JWKS. */
    keys: Array<{ algorithm: JwtAlgorithm; key: string }>;
    /** The identity provider's JWKS (JWT_JWKS_URL); null: the keys above. */
    jwksUrl: string | null;
    issuer: string | null;
    audience: string | null;
    clockToleranceSeconds: number;
  };
  internalApiToken: string;
  /** Null: any Origin is accepted (see docs/decisions.md). */
  allowedOrigins: string[] | null;
  roomEmptyTtlMs: number;
  roomIdleTtlMs: number;
  /** MESSAGE_RETENTION: how long after a room's last activity its messages are erased; null: kept forever. */
  messageRetentionMs: number | null;
  expirySweepCron: string;
  /** When the audit anchor is recorded (node-schedule cron). */
  auditAnchorCron: string;
  /**
   * HMAC-SHA-256 keys of the audit anchors, newest first (AUDIT_ANCHOR_KEY, a comma list
   * while rotating): the first signs, each verifies the anchors it signed. The database
   * never holds them.
   */
  auditAnchorKeys: string[];
  /**
   * The key-encryption keys that wrap the data keys (docs/privacy.md), newest first: new
   * data keys are wrapped with the first, the others still unwrap keys wrapped before a
   * rotation. Each key's id is derived from the key (see keyEncryptionKeyId).
   */
  dataKeyEncryptionKeys: KeyEncryptionKey[];
  tls: { certFile: string; keyFile: string } | null;
  wsMaxFrameBytes: number;
  /** Messages a second per user; 0 turns the limit off. */
  sendRateLimit: number;
  /** SAFETY_HINTS: messages carry safety hints for the recipient (docs/moderation.md). */
  safetyHints: boolean;
  /** The other per-user budgets (src/application/limits, docs/limits.md): a second each, 0 turns one off. */
  commandRateLimit: number;
  readRateLimit: number;
  resumeRateLimit: number;
  typingRateLimit: number;
  /** At most one typing signal per user and room in this interval. */
  typingIntervalMs: number;
  /** Open WebSocket connections per user in this process; a new one past it closes the user's oldest. */
  wsMaxConnectionsPerUser: number;
  /** Open WebSocket connections in this process; past it, handshakes are refused with 503. */
  wsMaxConnections: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Pretty, coloured log lines (a person at a terminal, not production); else JSON lines. */
  logPretty: boolean;
  /** Serve /metrics on this port only (null: on the application port outside production; not at all in production). */
  metricsPort: number | null;
  /** /readyz answers 503 when the oldest event the read models have not applied is older than this. */
  readyMaxProjectionLagMs: number;
  /** Signed webhooks to the marketplace backend; null when WEBHOOK_URL is unset. See docs/webhooks.md. */
  webhooks: WebhookConfig | null;
  /** A message unread this long gives one `user.unread` webhook. */
  notifyUnreadAfterMs: number;
  /** Dead letters (webhooks and pushes that were given up on) are deleted this long after they died. */
  deadLetterRetentionMs: number;
  push: PushConfig;
  /** Photo attachments: limits, where the bytes are kept, how their URLs are signed (docs/attachments.md). */
  attachments: AttachmentConfig;
  production: boolean;
  /**
   * Development mode: no JWT_SECRET / JWT_PUBLIC_KEY / JWT_JWKS_URL and not NODE_ENV=production. Only then
   * does `POST /api/dev/session` exist and are the demo posts seeded (docs/client.md).
   */
  development: boolean;
  /** What start-up should warn about: development defaults in use. */
  warnings: string[];
}

export interface KeyEncryptionKey {
  /** A fingerprint of the key, recorded beside every data key it wraps. */
  id: string;
  /** 32 bytes: an AES-256 key. */
  key: Buffer;
}

export interface WebhookConfig {
  urls: string[];
  /** `whsec_` + base64 of the HMAC key, as Standard Webhooks writes it. */
  secret: string;
  includeBody: boolean;
  retryForMs: number;
  /** One delivery attempt's time limit. */
  timeoutMs: number;
}

export interface PushConfig {
  /** Null: generated and stored in the database on first start (development), or push is off (production). */
  vapid: { publicKey: string; privateKey: string } | null;
  /** The VAPID `sub`: a mailto: or https: URL push services may contact. */
  subject: string;
  includeBody: boolean;
  /**
   * Where push may go (docs/webhooks.md): the hosts of PUSH_ALLOWED_HOSTS (the browsers'
   * push services by default), public addresses only; outside production the loopback too.
   */
  endpoints: { allowedHosts: string[]; allowLoopback: boolean };
}

export type AttachmentStoreConfig =
  | { kind: 'postgres' }
  | {
      kind: 's3';
      bucket: string;
      /** Null: AWS's own endpoint for the region. */
      endpoint: string | null;
      region: string;
      /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
      forcePathStyle: boolean;
    };

export interface AttachmentConfig {
  /** Largest upload accepted (ATTACHMENT_MAX_BYTES); past it the upload is refused with 413 as it streams. */
  maxBytes: number;
  /** Largest image in pixels (width × height) that is decoded: a guard against decompression bombs. */
  maxPixels: number;
  store: AttachmentStoreConfig;
  /** Uploads one process handles at once (ATTACHMENT_UPLOADS_AT_ONCE); past it `unavailable` (503) before the body is read. */
  uploadsAtOnce: number;
  /** Per user, a minute; 0 turns a budget off. */
  uploadsPerMinute: number;
  uploadBytesPerMinute: number;
  /** HMAC-SHA-256 key of the attachment URLs (ATTACHMENT_URL_KEY, else derived from AUDIT_ANCHOR_KEY). */
  urlKey: Buffer;
  /** How long a signed attachment URL works. */
  urlTtlMs: number;
  /** An attachment never sent is deleted this long after its upload. */
  unsentTtlMs: number;
}

/** A bad value in the environment: the message is the one line start-up prints. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`configuration error: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-please';
const DEV_INTERNAL_TOKEN = 'dev-only-internal-token-change-me';
const DEV_AUDIT_ANCHOR_KEY = 'dev-only-audit-anchor-key-change-me-please';
/** 32 bytes anyone can read: development mode only, so erasure works out of the box there. */
const DEV_DATA_KEY_ENCRYPTION_KEY = Buffer.from('dev-only-data-key-kek-change-me!').toString('base64');

/**
 * Secrets printed in this repository (the development defaults, docker-compose.yml,
 * the README): anyone can read them, so production refuses them whatever their
 * length. A value saying "change me" is refused too, so a new example is caught even
 * before it is added here (test/config.unit.test.ts reads the files to check both).
 */
const PUBLISHED_SECRETS: ReadonlySet<string> = new Set([
  DEV_JWT_SECRET,
  DEV_INTERNAL_TOKEN,
  DEV_AUDIT_ANCHOR_KEY,
  DEV_DATA_KEY_ENCRYPTION_KEY,
  'local-compose-secret-change-me-0123456789',
  'local-compose-internal-token',
]);

/** True for a secret production must not run with: one this repository publishes. */
export function isPublishedSecret(value: string): boolean {
  return PUBLISHED_SECRETS.has(value.trim()) || /change[-_ .]?me/i.test(value);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `1h`, `30d` (and `500ms`) to milliseconds; null when it is not one. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) return null;
  const ms = Number(match[1]) * (durationUnits[match[2] as string] as number);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : null;
}

type Env = Record<string, string | undefined>;

/** Reads the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env, options: { stdoutIsTty?: boolean } = {}): Config {
  const stdoutIsTty = options.stdoutIsTty ?? false;
  const warnings: string[] = [];
  // A misspelt NODE_ENV (`Production`, `prod`) would silently start in development mode.
  const nodeEnv = env.NODE_ENV?.trim() ?? '';
  if (!['', 'production', 'development', 'test'].includes(nodeEnv)) {
    throw new ConfigError('NODE_ENV', `must be production, development or test (or unset), got ${JSON.stringify(env.NODE_ENV)}`);
  }
  const production = nodeEnv === 'production';
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const parsed = z.coerce.number().int().min(min).max(max).safeParse(raw);
    if (!parsed.success || !/^\d+$/.test(raw.trim())) {
      throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return parsed.data;
  };
  const duration = (name: string, fallback: string, max?: { ms: number; text: string }): number => {
    const raw = get(name) ?? fallback;
    const ms = parseDuration(raw);
    if (ms === null) throw new ConfigError(name, `must be a duration like 90s, 15m, 1h or 30d, got ${JSON.stringify(raw)}`);
    if (max !== undefined && ms > max.ms) throw new ConfigError(name, `must be at most ${max.text}, got ${JSON.stringify(raw)}`);
    return ms;
  };
  // A room TTL past a century is "never" in practice, and keeps now − TTL a valid date.
  const maxTtl = { ms: 36_500 * 86_400_000, text: '36500d' };

  const databaseUrl = get('DATABASE_URL') ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  }

  const eventStoreKind = get('EVENT_STORE') ?? 'postgres';
  let eventStore: Config['eventStore'];
  if (eventStoreKind === 'postgres') {
    eventStore = { kind: 'postgres' };
  } else if (eventStoreKind === 'eventstoredb') {
    const connectionString = get('EVENTSTORE_CONNECTION_STRING');
    if (connectionString === undefined) {
      throw new ConfigError('EVENTSTORE_CONNECTION_STRING', 'is required when EVENT_STORE=eventstoredb');
    }
    if (!/^(esdb|kurrentdb|kdb)(\+discover)?:\/\//.test(connectionString)) {
      throw new ConfigError('EVENTSTORE_CONNECTION_STRING', 'must be an esdb:// connection string');
    }
    eventStore = { kind: 'eventstoredb', connectionString };
  } else {
    throw new ConfigError('EVENT_STORE', `must be "postgres" or "eventstoredb", got "${eventStoreKind}"`);
  }

  const jwt = loadJwt(get, production, warnings);

  let internalApiToken = get('INTERNAL_API_TOKEN');
  if (internalApiToken === undefined) {
    if (production) throw new ConfigError('INTERNAL_API_TOKEN', 'is required when NODE_ENV=production');
    internalApiToken = DEV_INTERNAL_TOKEN;
    warnings.push(`INTERNAL_API_TOKEN is not set: using the development token "${DEV_INTERNAL_TOKEN}"`);
  } else if (internalApiToken.length < 16) {
    throw new ConfigError('INTERNAL_API_TOKEN', 'must be at least 16 characters');
  } else if (production && isPublishedSecret(internalApiToken)) {
    throw new ConfigError('INTERNAL_API_TOKEN', 'is an example value published with this service: set a secret of your own in production');
  }

  const originsRaw = get('ALLOWED_ORIGINS');
  let allowedOrigins: string[] | null = null;
  if (originsRaw !== undefined) {
    allowedOrigins = originsRaw.split(',').map((o) => o.trim()).filter((o) => o !== '');
    if (allowedOrigins.length === 0) throw new ConfigError('ALLOWED_ORIGINS', 'names no origin; unset it to accept any');
    for (const origin of allowedOrigins) {
      let parsed: URL;
      try {
        parsed = new URL(origin);
      } catch {
        throw new ConfigError('ALLOWED_ORIGINS', `has "${origin}", which is not an origin like https://app.example.com`);
      }
      if (parsed.origin !== origin.replace(/\/$/, '')) {
        throw new ConfigError('ALLOWED_ORIGINS', `has "${origin}", which is not an origin like https://app.example.com`);
      }
    }
    allowedOrigins = allowedOrigins.map((o) => o.replace(/\/$/, ''));
  } else {
    warnings.push('ALLOWED_ORIGINS is not set: WebSocket connections are accepted from any Origin');
  }

  const expirySweepCron = get('EXPIRY_SWEEP_CRON') ?? '* * * * *';
  if (!isValidCron(expirySweepCron)) {
    throw new ConfigError(
      'EXPIRY_SWEEP_CRON',
      `must be a recurring cron expression like "* * * * *" (5 fields, or 6 with seconds first), got ${JSON.stringify(expirySweepCron)}`,
    );
  }

  const auditAnchorCron = get('AUDIT_ANCHOR_CRON') ?? '*/10 * * * *';
  if (!isValidCron(auditAnchorCron)) {
    throw new ConfigError(
      'AUDIT_ANCHOR_CRON',
      `must be a recurring cron expression like "*/10 * * * *" (5 fields, or 6 with seconds first), got ${JSON.stringify(auditAnchorCron)}`,
    );
  }
  const auditAnchorKeys = anchorKeys(get('AUDIT_ANCHOR_KEY'), production, warnings);

  const dataKeyEncryptionKeys = loadKeyEncryptionKeys(get, production, warnings);

  const certFile = get('TLS_CERT_FILE');
  const keyFile = get('TLS_KEY_FILE');
  let tls: Config['tls'] = null;
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined) throw new ConfigError('TLS_CERT_FILE', 'is required when TLS_KEY_FILE is set');
    if (keyFile === undefined) throw new ConfigError('TLS_KEY_FILE', 'is required when TLS_CERT_FILE is set');
    if (!existsSync(certFile)) throw new ConfigError('TLS_CERT_FILE', `names a file that does not exist: ${certFile}`);
    if (!existsSync(keyFile)) throw new ConfigError('TLS_KEY_FILE', `names a file that does not exist: ${keyFile}`);
    // Read now, so a wrong file is named here rather than failing later in the TLS layer.
    try {
      new X509Certificate(readFileSync(certFile));
    } catch {
      throw new ConfigError('TLS_CERT_FILE', `is not a PEM certificate: ${certFile}`);
    }
    try {
      createPrivateKey(readFileSync(keyFile));
    } catch {
      throw new ConfigError('TLS_KEY_FILE', `is not a PEM private key (or it is encrypted): ${keyFile}`);
    }
    tls = { certFile, keyFile };
  }

  const logLevel = get('LOG_LEVEL') ?? 'info';
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  if (!(levels as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${levels.join(', ')}, got "${logLevel}"`);
  }

  const port = int('PORT', 9090, 0, 65535);
  const metricsPort = get('METRICS_PORT') === undefined ? null : int('METRICS_PORT', 0, 0, 65535);
  if (metricsPort !== null && metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}): it keeps /metrics off the public port`);
  }
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (raw.trim() === 'true') return true;
    if (raw.trim() === 'false') return false;
    throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
  };
  const onOff = (name: string, fallback: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (raw.trim() === 'on') return true;
    if (raw.trim() === 'off') return false;
    throw new ConfigError(name, `must be on or off, got ${JSON.stringify(raw)}`);
  };
  if (production && metricsPort === null) warnings.push('METRICS_PORT is not set: /metrics is not served (in production it is served only on METRICS_PORT)');
  const webhooks = loadWebhooks(get, boolean, duration);
  const push = loadPush(get, boolean, production, warnings);
  const attachments = loadAttachments(get, int, duration, auditAnchorKeys[0] as string);
  const development = !production && get('JWT_SECRET') === undefined && get('JWT_PUBLIC_KEY') === undefined && get('JWT_JWKS_URL') === undefined;
  // Development mode mints tokens for anyone and uses published secrets: the loopback only, unless HOST says otherwise.
  const host = get('HOST')?.trim() ?? (development ? '127.0.0.1' : '0.0.0.0');
  if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) {
    throw new ConfigError('HOST', `must be an IP address or a host name to listen on, like 127.0.0.1 or 0.0.0.0, got ${JSON.stringify(host)}`);
  }

  return {
    port,
    host,
    databaseUrl,
    dataDir: path.resolve(get('DATA_DIR') ?? './data'),
    eventStore,
    jwt,
    internalApiToken,
    allowedOrigins,
    roomEmptyTtlMs: duration('ROOM_EMPTY_TTL', '1h', maxTtl),
    roomIdleTtlMs: duration('ROOM_IDLE_TTL', '30d', maxTtl),
    messageRetentionMs: get('MESSAGE_RETENTION') === undefined ? null : duration('MESSAGE_RETENTION', '', maxTtl),
    expirySweepCron,
    auditAnchorCron,
    auditAnchorKeys,
    dataKeyEncryptionKeys,
    tls,
    wsMaxFrameBytes: int('WS_MAX_FRAME_BYTES', 16 * 1024, 256, 16 * 1024 * 1024),
    sendRateLimit: int('SEND_RATE_LIMIT', 10, 0, 1_000_000),
    safetyHints: onOff('SAFETY_HINTS', true),
    commandRateLimit: int('COMMAND_RATE_LIMIT', 2, 0, 1_000_000),
    readRateLimit: int('READ_RATE_LIMIT', 10, 0, 1_000_000),
    resumeRateLimit: int('RESUME_RATE_LIMIT', 20, 0, 1_000_000),
    typingRateLimit: int('TYPING_RATE_LIMIT', 5, 0, 1_000_000),
    typingIntervalMs: duration('TYPING_INTERVAL', '1s', { ms: 3_600_000, text: '1h' }),
    wsMaxConnectionsPerUser: int('WS_MAX_CONNECTIONS_PER_USER', 10, 1, 100_000),
    wsMaxConnections: int('WS_MAX_CONNECTIONS', 50_000, 1, 10_000_000),
    logLevel: logLevel as Config['logLevel'],
    logPretty: !production && stdoutIsTty,
    metricsPort,
    readyMaxProjectionLagMs: duration('READY_MAX_PROJECTION_LAG', '30s'),
    webhooks,
    notifyUnreadAfterMs: duration('NOTIFY_UNREAD_AFTER', '5m', { ms: 30 * 86_400_000, text: '30d' }),
    deadLetterRetentionMs: duration('DEAD_LETTER_RETENTION', '30d', { ms: 3650 * 86_400_000, text: '3650d' }),
    push,
    attachments,
    production,
    development,
    warnings,
  };
}

function loadJwt(get: (name: string) => string | undefined, production: boolean, warnings: string[]): Config['jwt'] {
  const secrets = get('JWT_SECRET');
  const publicKeys = get('JWT_PUBLIC_KEY');
  const jwksUrl = get('JWT_JWKS_URL')?.trim();
  const issuer = get('JWT_ISSUER') ?? null;
  const audience = get('JWT_AUDIENCE') ?? null;
  const clockToleranceSeconds = 5;
  const common = { issuer, audience, clockToleranceSeconds };
  const set = [secrets !== undefined && 'JWT_SECRET', publicKeys !== undefined && 'JWT_PUBLIC_KEY', jwksUrl !== undefined && 'JWT_JWKS_URL'].filter((v) => v !== false);
  if (set.length > 1) throw new ConfigError(set[1] as string, `and ${set[0] as string} are both set: set one, so the algorithm is not ambiguous`);
  // A list, newest first, while keys rotate: "new,old". PEM has no commas (its newlines may be written as \n).
  const list = (raw: string) => raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const nth = (i: number, total: number) => (total === 1 ? '' : ` (key ${i + 1} of ${total}, newest first)`);

  if (jwksUrl !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(jwksUrl);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new ConfigError('JWT_JWKS_URL', `must be an https:// URL, got ${JSON.stringify(jwksUrl)}`);
    if (production && url.protocol !== 'https:') throw new ConfigError('JWT_JWKS_URL', 'must be an https:// URL in production');
    return { algorithm: 'RS256', key: '', keys: [], jwksUrl: url.href, ...common };
  }
  if (publicKeys !== undefined) {
    const pems = list(publicKeys.replaceAll('\\n', '\n'));
    if (pems.length === 0) throw new ConfigError('JWT_PUBLIC_KEY', 'names no key');
    const keys = pems.map((pem, i) => {
      let keyType: string | undefined;
      let curve: string | undefined;
      try {
        const key = createPublicKey(pem);
        keyType = key.asymmetricKeyType;
        curve = key.asymmetricKeyDetails?.namedCurve;
      } catch {
        throw new ConfigError('JWT_PUBLIC_KEY', `is not a PEM public key${nth(i, pems.length)}; separate several with commas`);
      }
      const algorithm: JwtAlgorithm | null = keyType === 'rsa' ? 'RS256' : keyType === 'ec' ? 'ES256' : null;
      if (algorithm === null) throw new ConfigError('JWT_PUBLIC_KEY', `is a ${keyType ?? 'unknown'} key${nth(i, pems.length)}; RSA (RS256) or EC P-256 (ES256) is required`);
      // ES256 is P-256 only: a key on another curve would refuse every token.
      if (algorithm === 'ES256' && curve !== 'prime256v1') {
        throw new ConfigError('JWT_PUBLIC_KEY', `is an EC key on ${curve ?? 'an unknown curve'}${nth(i, pems.length)}; ES256 needs P-256 (prime256v1)`);
      }
      return { algorithm, key: pem };
    });
    const newest = keys[0] as { algorithm: JwtAlgorithm; key: string };
    return { algorithm: newest.algorithm, key: newest.key, keys, jwksUrl: null, ...common };
  }
  if (secrets !== undefined) {
    const all = list(secrets);
    if (all.length === 0) throw new ConfigError('JWT_SECRET', 'names no secret');
    all.forEach((secret, i) => {
      if (secret.length < 32) throw new ConfigError('JWT_SECRET', `must be at least 32 characters for HS256${nth(i, all.length)}; several are separated by commas`);
      if (production && isPublishedSecret(secret)) {
        throw new ConfigError('JWT_SECRET', `is an example value published with this service${nth(i, all.length)}: set a secret of your own in production`);
      }
    });
    return { algorithm: 'HS256', key: all[0] as string, keys: all.map((key) => ({ algorithm: 'HS256' as const, key })), jwksUrl: null, ...common };
  }
  if (production) throw new ConfigError('JWT_SECRET', 'or JWT_PUBLIC_KEY or JWT_JWKS_URL is required when NODE_ENV=production');
  warnings.push(`JWT_SECRET is not set: using the development secret "${DEV_JWT_SECRET}"`);
  return { algorithm: 'HS256', key: DEV_JWT_SECRET, keys: [{ algorithm: 'HS256', key: DEV_JWT_SECRET }], jwksUrl: null, ...common };
}

type Get = (name: string) => string | undefined;

/** The id recorded beside each data key a key-encryption key wraps: the first 16 hex digits of its SHA-256. */
export function keyEncryptionKeyId(key: Buffer): string {
  return createHash('sha256').update('chat:kek:').update(key).digest('hex').slice(0, 16);
}

/**
 * DATA_KEY_ENCRYPTION_KEY: a comma list of 32-byte keys, newest first, each written as
 * 64 hex digits or as base64 (`openssl rand -base64 32`). Both spellings are unambiguous:
 * 64 characters of hex are never 32 bytes of base64 (that is 44 characters).
 */
function loadKeyEncryptionKeys(get: Get, production: boolean, warnings: string[]): KeyEncryptionKey[] {
  const raw = get('DATA_KEY_ENCRYPTION_KEY');
  const name = 'DATA_KEY_ENCRYPTION_KEY';
  if (raw === undefined) {
    if (production) throw new ConfigError(name, 'is required when NODE_ENV=production (32 random bytes in base64: openssl rand -base64 32)');
    warnings.push('DATA_KEY_ENCRYPTION_KEY is not set: data keys are wrapped with the development key, which anyone can read');
    const key = Buffer.from(DEV_DATA_KEY_ENCRYPTION_KEY, 'base64');
    return [{ id: keyEncryptionKeyId(key), key }];
  }
  const keys = raw.split(',').map((part, index) => {
    const text = part.trim();
    const key = /^[0-9a-fA-F]{64}$/.test(text)
      ? Buffer.from(text, 'hex')
      : /^[A-Za-z0-9+/]{43}=$/.test(text)
        ? Buffer.from(text, 'base64')
        : null;
    if (key === null || key.length !== 32) {
      throw new ConfigError(name, `key ${index + 1} of the list is not 32 bytes written as base64 (44 characters) or hex (64 digits)`);
    }
    if (production && isPublishedSecret(text)) {
      throw new ConfigError(name, 'is an example value published with this service: set a key of your own in production');
    }
    return { id: keyEncryptionKeyId(key), key };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new ConfigError(name, 'names the same key twice');
  return keys;
}
type Int = (name: string, fallback: number, min: number, max: number) => number;
type Flag = (name: string, fallback: boolean) => boolean;
type Duration = (name: string, fallback: string, max?: { ms: number; text: string }) => number;

function loadWebhooks(get: Get, boolean: Flag, duration: Duration): WebhookConfig | null {
  const urlsRaw = get('WEBHOOK_URL');
  if (urlsRaw === undefined) {
    if (get('WEBHOOK_SECRET') !== undefined) throw new ConfigError('WEBHOOK_URL', 'is required when WEBHOOK_SECRET is set');
    return null;
  }
  const urls = urlsRaw.split(',').map((u) => u.trim()).filter((u) => u !== '');
  for (const url of urls) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ConfigError('WEBHOOK_URL', `has "${url}", which is not an http:// or https:// URL`);
    }
  }
  if (new Set(urls).size !== urls.length) throw new ConfigError('WEBHOOK_URL', 'names the same URL twice');
  const secret = get('WEBHOOK_SECRET');
  if (secret === undefined) throw new ConfigError('WEBHOOK_SECRET', 'is required when WEBHOOK_URL is set (whsec_ followed by base64)');
  const key = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret.trim());
  // Standard Webhooks: a key of 24 to 64 bytes.
  const keyBytes = key === null ? 0 : Buffer.from(key[1] as string, 'base64').length;
  if (key === null || keyBytes < 24 || keyBytes > 64) {
    throw new ConfigError('WEBHOOK_SECRET', 'must be whsec_ followed by the base64 of 24 to 64 random bytes');
  }
  return {
    urls,
    secret: secret.trim(),
    includeBody: boolean('WEBHOOK_INCLUDE_BODY', true),
    retryForMs: duration('WEBHOOK_RETRY_FOR', '24h', { ms: 30 * 86_400_000, text: '30d' }),
    timeoutMs: duration('WEBHOOK_TIMEOUT', '10s', { ms: 300_000, text: '5m' }),
  };
}

function loadPush(get: Get, boolean: Flag, production: boolean, warnings: string[]): PushConfig {
  const publicKey = get('VAPID_PUBLIC_KEY')?.trim();
  const privateKey = get('VAPID_PRIVATE_KEY')?.trim();
  const subject = get('VAPID_SUBJECT')?.trim() ?? 'mailto:chat-push@example.invalid';
  if (!/^(mailto:.+|https:\/\/.+)$/.test(subject)) throw new ConfigError('VAPID_SUBJECT', `must be a mailto: or https: URL, got ${JSON.stringify(subject)}`);
  const includeBody = boolean('PUSH_INCLUDE_BODY', false);
  const endpoints = { allowedHosts: pushAllowedHosts(get('PUSH_ALLOWED_HOSTS')), allowLoopback: !production };
  if (publicKey === undefined && privateKey === undefined) {
    if (production) warnings.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set: Web Push is off');
    else warnings.push('VAPID_PUBLIC_KEY is not set: using development VAPID keys generated and kept in the database');
    return { vapid: null, subject, includeBody, endpoints };
  }
  if (publicKey === undefined) throw new ConfigError('VAPID_PUBLIC_KEY', 'is required when VAPID_PRIVATE_KEY is set');
  if (privateKey === undefined) throw new ConfigError('VAPID_PRIVATE_KEY', 'is required when VAPID_PUBLIC_KEY is set');
  const bytes = (text: string): number => (/^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, 'base64url').length : -1);
  if (bytes(publicKey) !== 65) throw new ConfigError('VAPID_PUBLIC_KEY', 'must be an uncompressed P-256 public key in URL-safe base64 (65 bytes), as web-push generate-vapid-keys prints');
  if (bytes(privateKey) !== 32) throw new ConfigError('VAPID_PRIVATE_KEY', 'must be a P-256 private key in URL-safe base64 (32 bytes), as web-push generate-vapid-keys prints');
  return { vapid: { publicKey, privateKey }, subject, includeBody, endpoints };
}

/** PUSH_ALLOWED_HOSTS: host names (`fcm.googleapis.com`) or domains (`*.notify.windows.com`), comma-separated. */
function pushAllowedHosts(raw: string | undefined): string[] {
  if (raw === undefined) return [...DEFAULT_PUSH_HOSTS];
  const hosts = raw.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  if (hosts.length === 0) throw new ConfigError('PUSH_ALLOWED_HOSTS', 'names no host; unset it for the browsers\' push services');
  for (const host of hosts) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)) {
      throw new ConfigError('PUSH_ALLOWED_HOSTS', `has ${JSON.stringify(host)}, which is not a host name like fcm.googleapis.com or *.notify.windows.com`);
    }
  }
  return hosts;
}

/**
 * AUDIT_ANCHOR_KEY: one key, or while rotating a comma list, newest first (a key itself
 * therefore holds no comma). Each at least 32 characters, none twice; unset, the
 * development key with a warning, except in production.
 */
function anchorKeys(value: string | undefined, production: boolean, warnings: string[]): string[] {
  if (value === undefined) {
    if (production) throw new ConfigError('AUDIT_ANCHOR_KEY', 'is required when NODE_ENV=production');
    warnings.push(`AUDIT_ANCHOR_KEY is not set: audit anchors are keyed with the development key "${DEV_AUDIT_ANCHOR_KEY}"`);
    return [DEV_AUDIT_ANCHOR_KEY];
  }
  const keys = value.split(',').map((key) => key.trim());
  const several = keys.length > 1;
  keys.forEach((key, index) => {
    const which = several ? `(key ${index + 1} of the comma list, newest first) ` : '';
    if (key.length < 32) throw new ConfigError('AUDIT_ANCHOR_KEY', `${which}must be at least 32 characters`);
    if (production && isPublishedSecret(key)) {
      throw new ConfigError('AUDIT_ANCHOR_KEY', `${which}is an example value published with this service: set a key of your own in production`);
    }
    if (keys.indexOf(key) !== index) throw new ConfigError('AUDIT_ANCHOR_KEY', `${which}is listed twice`);
  });
  return keys;
}

function loadAttachments(get: Get, int: Int, duration: Duration, auditAnchorKey: string): AttachmentConfig {
  const mib = 1024 * 1024;
  const storeKind = get('ATTACHMENT_STORE') ?? 'postgres';
  let store: AttachmentStoreConfig;
  if (storeKind === 'postgres') {
    store = { kind: 'postgres' };
  } else if (storeKind === 's3') {
    const bucket = get('S3_BUCKET');
    if (bucket === undefined) throw new ConfigError('S3_BUCKET', 'is required when ATTACHMENT_STORE=s3');
    const endpoint = get('S3_ENDPOINT')?.trim() ?? null;
    if (endpoint !== null && !/^https?:\/\/[^/]+/.test(endpoint)) {
      throw new ConfigError('S3_ENDPOINT', `must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
    }
    const region = get('S3_REGION')?.trim() ?? get('AWS_REGION')?.trim();
    if (region === undefined) throw new ConfigError('S3_REGION', 'is required when ATTACHMENT_STORE=s3 (or set AWS_REGION)');
    // An S3-compatible server (MinIO, Ceph, ...) is reached by path; AWS itself by virtual host.
    store = { kind: 's3', bucket: bucket.trim(), endpoint, region, forcePathStyle: endpoint !== null };
  } else {
    throw new ConfigError('ATTACHMENT_STORE', `must be "postgres" or "s3", got "${storeKind}"`);
  }
  const ownKey = get('ATTACHMENT_URL_KEY');
  if (ownKey !== undefined && ownKey.length < 32) throw new ConfigError('ATTACHMENT_URL_KEY', 'must be at least 32 characters');
  // Without a key of its own, one is derived from the audit anchor key (itself required in
  // production; the newest, when several are listed): a different key for a different
  // purpose, and nothing more to configure.
  const urlKey =
    ownKey !== undefined
      ? Buffer.from(ownKey, 'utf8')
      : Buffer.from(hkdfSync('sha256', auditAnchorKey, 'rental-chat', 'attachment-urls', 32));
  return {
    maxBytes: int('ATTACHMENT_MAX_BYTES', 10 * mib, 1024, 100 * mib),
    maxPixels: int('ATTACHMENT_MAX_PIXELS', 40_000_000, 1, 200_000_000),
    store,
    // 20: the load npm run bench:attachments measures the chat under (docs/performance.md).
    uploadsAtOnce: int('ATTACHMENT_UPLOADS_AT_ONCE', 20, 1, 10_000),
    uploadsPerMinute: int('ATTACHMENT_UPLOADS_PER_MINUTE', 30, 0, 1_000_000),
    uploadBytesPerMinute: int('ATTACHMENT_UPLOAD_BYTES_PER_MINUTE', 100 * mib, 0, Number.MAX_SAFE_INTEGER),
    urlKey,
    urlTtlMs: duration('ATTACHMENT_URL_TTL', '1h', { ms: 7 * 86_400_000, text: '7d' }),
    unsentTtlMs: duration('ATTACHMENT_UNSENT_TTL', '1d', { ms: 30 * 86_400_000, text: '30d' }),
  };
}

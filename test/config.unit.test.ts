import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import webpush from 'web-push';
import { ConfigError, keyEncryptionKeyId, loadConfig, parseDuration } from '../src/config';

const pem = (key: { export(options: { type: 'spki'; format: 'pem' }): string | Buffer }) => String(key.export({ type: 'spki', format: 'pem' }));
const rsaPublicKey = pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const p256PublicKey = pem(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
const p384PublicKey = pem(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey);
const ed25519PublicKey = pem(generateKeyPairSync('ed25519').publicKey);

const WHSEC = `whsec_${randomBytes(32).toString('base64')}`;
const VAPID = webpush.generateVAPIDKeys();

/** What loadConfig throws for this environment: the variable it names and its one line. */
function refusal(env: Record<string, string>): { variable: string; message: string } {
  try {
    loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { variable: error.variable, message: error.message };
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const KEK_A = randomBytes(32).toString('base64');
const KEK_B = randomBytes(32).toString('hex');
/** The development key-encryption key, as src/config.ts writes it. */
const DEV_KEK = Buffer.from('dev-only-data-key-kek-change-me!').toString('base64');

describe('the key-encryption key of the data keys (DATA_KEY_ENCRYPTION_KEY)', () => {
  it('takes a comma list of 32-byte keys in base64 or hex, newest first, each with an id derived from the key', () => {
    const { dataKeyEncryptionKeys: keys } = loadConfig({ DATA_KEY_ENCRYPTION_KEY: `${KEK_A}, ${KEK_B}` });
    expect(keys.map((k) => k.key)).toEqual([Buffer.from(KEK_A, 'base64'), Buffer.from(KEK_B, 'hex')]);
    expect(keys.map((k) => k.id)).toEqual([keyEncryptionKeyId(Buffer.from(KEK_A, 'base64')), keyEncryptionKeyId(Buffer.from(KEK_B, 'hex'))]);
    expect(keys[0]?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(keys[0]?.id).not.toBe(keys[1]?.id);
  });

  it('uses the development key, with a warning, outside production when unset', () => {
    const config = loadConfig({});
    expect(config.dataKeyEncryptionKeys.map((k) => k.key)).toEqual([Buffer.from(DEV_KEK, 'base64')]);
    expect(config.warnings.join('\n')).toMatch(/DATA_KEY_ENCRYPTION_KEY is not set/);
    expect(loadConfig({ DATA_KEY_ENCRYPTION_KEY: KEK_A }).warnings.join('\n')).not.toMatch(/DATA_KEY_ENCRYPTION_KEY/);
  });

  it('never prints the key it refuses', () => {
    const short = randomBytes(16).toString('base64');
    expect(refusal({ DATA_KEY_ENCRYPTION_KEY: short }).message).not.toContain(short);
  });
});

describe('configuration', () => {
  it('starts with no environment at all, on development defaults it warns about', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 9090,
      databaseUrl: null,
      eventStore: { kind: 'postgres' },
      jwt: { algorithm: 'HS256', issuer: null, audience: null },
      allowedOrigins: null,
      roomEmptyTtlMs: 3_600_000,
      roomIdleTtlMs: 30 * 86_400_000,
      wsMaxFrameBytes: 16 * 1024,
      sendRateLimit: 10,
      commandRateLimit: 2,
      readRateLimit: 10,
      resumeRateLimit: 20,
      typingRateLimit: 5,
      typingIntervalMs: 1000,
      wsMaxConnectionsPerUser: 10,
      wsMaxConnections: 50_000,
      tls: null,
    });
    expect(config.warnings.join('\n')).toMatch(/JWT_SECRET/);
    expect(config.warnings.join('\n')).toMatch(/INTERNAL_API_TOKEN/);
    // The audit anchor: every ten minutes, keyed with the development key and a warning saying so.
    expect(config.auditAnchorCron).toBe('*/10 * * * *');
    expect(config.warnings.join('\n')).toMatch(/AUDIT_ANCHOR_KEY is not set/);
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://chat@db:5432/chat',
      EVENT_STORE: 'eventstoredb',
      EVENTSTORE_CONNECTION_STRING: 'esdb://esdb:2113?tls=false',
      JWT_PUBLIC_KEY: p256PublicKey,
      JWT_ISSUER: 'https://id.example.com',
      JWT_AUDIENCE: 'chat',
      INTERNAL_API_TOKEN: 'a-long-enough-internal-token',
      ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com/',
      ROOM_EMPTY_TTL: '90s',
      ROOM_IDLE_TTL: '15m',
      WS_MAX_FRAME_BYTES: '4096',
      SEND_RATE_LIMIT: '0',
      SAFETY_HINTS: 'off',
      COMMAND_RATE_LIMIT: '7',
      READ_RATE_LIMIT: '8',
      RESUME_RATE_LIMIT: '0',
      TYPING_RATE_LIMIT: '3',
      TYPING_INTERVAL: '500ms',
      WS_MAX_CONNECTIONS_PER_USER: '3',
      WS_MAX_CONNECTIONS: '10000',
      AUDIT_ANCHOR_CRON: '*/5 * * * *',
      AUDIT_ANCHOR_KEY: 'an-audit-anchor-key-of-32-chars-or-more',
      DATA_KEY_ENCRYPTION_KEY: KEK_A,
      VAPID_PUBLIC_KEY: VAPID.publicKey,
      VAPID_PRIVATE_KEY: VAPID.privateKey,
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://chat@db:5432/chat',
      eventStore: { kind: 'eventstoredb', connectionString: 'esdb://esdb:2113?tls=false' },
      jwt: { algorithm: 'ES256', issuer: 'https://id.example.com', audience: 'chat' },
      internalApiToken: 'a-long-enough-internal-token',
      allowedOrigins: ['https://app.example.com', 'https://admin.example.com'],
      roomEmptyTtlMs: 90_000,
      roomIdleTtlMs: 900_000,
      wsMaxFrameBytes: 4096,
      sendRateLimit: 0,
      safetyHints: false,
      commandRateLimit: 7,
      readRateLimit: 8,
      resumeRateLimit: 0,
      typingRateLimit: 3,
      typingIntervalMs: 500,
      wsMaxConnectionsPerUser: 3,
      wsMaxConnections: 10_000,
      auditAnchorCron: '*/5 * * * *',
      auditAnchorKeys: ['an-audit-anchor-key-of-32-chars-or-more'],
    });
    expect(config.warnings).toEqual([]);
    expect(loadConfig({ JWT_PUBLIC_KEY: rsaPublicKey }).jwt.algorithm).toBe('RS256');
    // Lists, newest first: the newest is what the development tools sign with.
    expect(loadConfig({ JWT_SECRET: ` ${'n'.repeat(32)} , ${'o'.repeat(32)} ` }).jwt).toMatchObject({
      key: 'n'.repeat(32),
      keys: [{ algorithm: 'HS256', key: 'n'.repeat(32) }, { algorithm: 'HS256', key: 'o'.repeat(32) }],
    });
    expect(loadConfig({ JWT_PUBLIC_KEY: `${p256PublicKey},\n${rsaPublicKey}` }).jwt.keys.map((k) => k.algorithm)).toEqual(['ES256', 'RS256']);
    expect(loadConfig({ JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json' })).toMatchObject({
      development: false,
      jwt: { jwksUrl: 'https://id.example.com/.well-known/jwks.json', keys: [] },
    });
  });

  it('reads AUDIT_ANCHOR_KEY as a comma list, newest first, while the key is rotated, and names the bad place in it', () => {
    const [newest, older] = ['n'.repeat(40), 'o'.repeat(40)];
    expect(loadConfig({ AUDIT_ANCHOR_KEY: `${newest}, ${older}` }).auditAnchorKeys).toEqual([newest, older]);
    expect(loadConfig({ AUDIT_ANCHOR_KEY: newest }).auditAnchorKeys).toEqual([newest]);
    expect(refusal({ AUDIT_ANCHOR_KEY: `${newest},too-short` }).message).toBe(
      'configuration error: AUDIT_ANCHOR_KEY (key 2 of the comma list, newest first) must be at least 32 characters',
    );
    expect(refusal({ AUDIT_ANCHOR_KEY: `${newest},${newest}` }).message).toBe('configuration error: AUDIT_ANCHOR_KEY (key 2 of the comma list, newest first) is listed twice');
  });

  it('reads durations like 90s, 15m, 1h and 30d', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    for (const bad of ['', '0s', '-1h', '1.5h', '1 h', 'h', '10', '1w', '1hour']) expect(parseDuration(bad)).toBeNull();
  });

  const bad: Array<[string, Record<string, string>, string]> = [
    ['PORT', { PORT: 'eighty' }, 'PORT'],
    ['PORT out of range', { PORT: '70000' }, 'PORT'],
    ['PORT negative', { PORT: '-1' }, 'PORT'],
    ['PORT with a fraction', { PORT: '80.5' }, 'PORT'],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/chat' }, 'DATABASE_URL'],
    ['EVENT_STORE', { EVENT_STORE: 'kafka' }, 'EVENT_STORE'],
    ['EVENTSTORE_CONNECTION_STRING missing', { EVENT_STORE: 'eventstoredb' }, 'EVENTSTORE_CONNECTION_STRING'],
    ['EVENTSTORE_CONNECTION_STRING', { EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'http://esdb:2113' }, 'EVENTSTORE_CONNECTION_STRING'],
    ['JWT_SECRET too short', { JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['JWT_PUBLIC_KEY not PEM', { JWT_PUBLIC_KEY: 'not a key' }, 'JWT_PUBLIC_KEY'],
    ['JWT_PUBLIC_KEY an Ed25519 key', { JWT_PUBLIC_KEY: ed25519PublicKey }, 'JWT_PUBLIC_KEY'],
    ['JWT_PUBLIC_KEY on P-384', { JWT_PUBLIC_KEY: p384PublicKey }, 'JWT_PUBLIC_KEY'],
    ['JWT_PUBLIC_KEY with JWT_SECRET', { JWT_PUBLIC_KEY: rsaPublicKey, JWT_SECRET: 'x'.repeat(40) }, 'JWT_PUBLIC_KEY'],
    ['JWT_SECRET with a short older secret', { JWT_SECRET: `${'x'.repeat(40)},short` }, 'JWT_SECRET'],
    ['JWT_PUBLIC_KEY with a bad second key', { JWT_PUBLIC_KEY: `${rsaPublicKey},not a key` }, 'JWT_PUBLIC_KEY'],
    ['JWT_JWKS_URL not a URL', { JWT_JWKS_URL: 'jwks.example.com' }, 'JWT_JWKS_URL'],
    ['JWT_JWKS_URL with JWT_SECRET', { JWT_SECRET: 'x'.repeat(40), JWT_JWKS_URL: 'https://id.example.com/jwks.json' }, 'JWT_JWKS_URL'],
    [
      'JWT_JWKS_URL over http in production',
      { NODE_ENV: 'production', JWT_JWKS_URL: 'http://id.example.com/jwks.json', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' },
      'JWT_JWKS_URL',
    ],
    ['INTERNAL_API_TOKEN too short', { INTERNAL_API_TOKEN: 'short' }, 'INTERNAL_API_TOKEN'],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'https://ok.example.com,not an origin' }, 'ALLOWED_ORIGINS'],
    ['ALLOWED_ORIGINS naming none', { ALLOWED_ORIGINS: ' , ' }, 'ALLOWED_ORIGINS'],
    ['ALLOWED_ORIGINS with a path', { ALLOWED_ORIGINS: 'https://app.example.com/chat' }, 'ALLOWED_ORIGINS'],
    ['ROOM_EMPTY_TTL', { ROOM_EMPTY_TTL: 'an hour' }, 'ROOM_EMPTY_TTL'],
    ['ROOM_IDLE_TTL', { ROOM_IDLE_TTL: '30' }, 'ROOM_IDLE_TTL'],
    ['ROOM_IDLE_TTL zero', { ROOM_IDLE_TTL: '0d' }, 'ROOM_IDLE_TTL'],
    ['EXPIRY_SWEEP_CRON', { EXPIRY_SWEEP_CRON: 'every minute' }, 'EXPIRY_SWEEP_CRON'],
    ['TLS_CERT_FILE alone', { TLS_CERT_FILE: '/etc/hostname' }, 'TLS_KEY_FILE'],
    ['TLS_KEY_FILE alone', { TLS_KEY_FILE: '/etc/hostname' }, 'TLS_CERT_FILE'],
    ['TLS_CERT_FILE missing on disk', { TLS_CERT_FILE: '/no/such/cert.pem', TLS_KEY_FILE: '/no/such/key.pem' }, 'TLS_CERT_FILE'],
    ['WS_MAX_FRAME_BYTES', { WS_MAX_FRAME_BYTES: '16KiB' }, 'WS_MAX_FRAME_BYTES'],
    ['SEND_RATE_LIMIT', { SEND_RATE_LIMIT: 'fast' }, 'SEND_RATE_LIMIT'],
    ['SAFETY_HINTS', { SAFETY_HINTS: 'maybe' }, 'SAFETY_HINTS'],
    ['COMMAND_RATE_LIMIT', { COMMAND_RATE_LIMIT: '-2' }, 'COMMAND_RATE_LIMIT'],
    ['READ_RATE_LIMIT', { READ_RATE_LIMIT: '1.5' }, 'READ_RATE_LIMIT'],
    ['RESUME_RATE_LIMIT', { RESUME_RATE_LIMIT: 'lots' }, 'RESUME_RATE_LIMIT'],
    ['TYPING_RATE_LIMIT', { TYPING_RATE_LIMIT: 'x' }, 'TYPING_RATE_LIMIT'],
    ['TYPING_INTERVAL', { TYPING_INTERVAL: '1' }, 'TYPING_INTERVAL'],
    ['WS_MAX_CONNECTIONS_PER_USER zero', { WS_MAX_CONNECTIONS_PER_USER: '0' }, 'WS_MAX_CONNECTIONS_PER_USER'],
    ['WS_MAX_CONNECTIONS', { WS_MAX_CONNECTIONS: 'unlimited' }, 'WS_MAX_CONNECTIONS'],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['WEBHOOK_URL', { WEBHOOK_URL: 'ftp://hooks.example.com', WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URL'],
    ['WEBHOOK_URL twice', { WEBHOOK_URL: 'https://a.example.com,https://a.example.com', WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URL'],
    ['WEBHOOK_URL without a secret', { WEBHOOK_URL: 'https://hooks.example.com' }, 'WEBHOOK_SECRET'],
    ['WEBHOOK_SECRET without whsec_', { WEBHOOK_URL: 'https://hooks.example.com', WEBHOOK_SECRET: 'a'.repeat(40) }, 'WEBHOOK_SECRET'],
    ['WEBHOOK_SECRET too short', { WEBHOOK_URL: 'https://hooks.example.com', WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'WEBHOOK_SECRET'],
    ['WEBHOOK_SECRET without a URL', { WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URL'],
    ['WEBHOOK_INCLUDE_BODY', { WEBHOOK_URL: 'https://hooks.example.com', WEBHOOK_SECRET: WHSEC, WEBHOOK_INCLUDE_BODY: 'no' }, 'WEBHOOK_INCLUDE_BODY'],
    ['WEBHOOK_RETRY_FOR', { WEBHOOK_URL: 'https://hooks.example.com', WEBHOOK_SECRET: WHSEC, WEBHOOK_RETRY_FOR: 'a day' }, 'WEBHOOK_RETRY_FOR'],
    ['NOTIFY_UNREAD_AFTER', { NOTIFY_UNREAD_AFTER: '5 minutes' }, 'NOTIFY_UNREAD_AFTER'],
    ['VAPID_PUBLIC_KEY alone', { VAPID_PUBLIC_KEY: VAPID.publicKey }, 'VAPID_PRIVATE_KEY'],
    ['VAPID_PUBLIC_KEY', { VAPID_PUBLIC_KEY: 'abc', VAPID_PRIVATE_KEY: VAPID.privateKey }, 'VAPID_PUBLIC_KEY'],
    ['VAPID_PRIVATE_KEY', { VAPID_PUBLIC_KEY: VAPID.publicKey, VAPID_PRIVATE_KEY: VAPID.publicKey }, 'VAPID_PRIVATE_KEY'],
    ['VAPID_SUBJECT', { VAPID_SUBJECT: 'ops@example.com' }, 'VAPID_SUBJECT'],
    ['NODE_ENV misspelt', { NODE_ENV: 'Production' }, 'NODE_ENV'],
    ['NODE_ENV unknown', { NODE_ENV: 'prod' }, 'NODE_ENV'],
    ['HOST', { HOST: 'http://0.0.0.0' }, 'HOST'],
    ['PUSH_ALLOWED_HOSTS with a URL', { PUSH_ALLOWED_HOSTS: 'https://fcm.googleapis.com/' }, 'PUSH_ALLOWED_HOSTS'],
    ['PUSH_ALLOWED_HOSTS with a wildcard mid-name', { PUSH_ALLOWED_HOSTS: 'push.*.example.com' }, 'PUSH_ALLOWED_HOSTS'],
    ['PUSH_ALLOWED_HOSTS empty', { PUSH_ALLOWED_HOSTS: ' , ' }, 'PUSH_ALLOWED_HOSTS'],
    ['production without JWT_SECRET', { NODE_ENV: 'production', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' }, 'JWT_SECRET'],
    ['production without INTERNAL_API_TOKEN', { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }, 'INTERNAL_API_TOKEN'],
    ['AUDIT_ANCHOR_CRON', { AUDIT_ANCHOR_CRON: 'every ten minutes' }, 'AUDIT_ANCHOR_CRON'],
    ['AUDIT_ANCHOR_KEY too short', { AUDIT_ANCHOR_KEY: 'short-key' }, 'AUDIT_ANCHOR_KEY'],
    ['AUDIT_ANCHOR_KEY with a short key in its list', { AUDIT_ANCHOR_KEY: `${'n'.repeat(40)},short-old-key` }, 'AUDIT_ANCHOR_KEY'],
    ['AUDIT_ANCHOR_KEY with an empty place in its list', { AUDIT_ANCHOR_KEY: `${'n'.repeat(40)},,${'o'.repeat(40)}` }, 'AUDIT_ANCHOR_KEY'],
    ['AUDIT_ANCHOR_KEY listing a key twice', { AUDIT_ANCHOR_KEY: `${'n'.repeat(40)},${'n'.repeat(40)}` }, 'AUDIT_ANCHOR_KEY'],
    [
      'production without AUDIT_ANCHOR_KEY',
      { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), INTERNAL_API_TOKEN: 'a-long-enough-internal-token' },
      'AUDIT_ANCHOR_KEY',
    ],
    [
      'production without DATA_KEY_ENCRYPTION_KEY',
      { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), INTERNAL_API_TOKEN: 'a-long-enough-internal-token', AUDIT_ANCHOR_KEY: 'k'.repeat(40) },
      'DATA_KEY_ENCRYPTION_KEY',
    ],
    ['DATA_KEY_ENCRYPTION_KEY of 16 bytes', { DATA_KEY_ENCRYPTION_KEY: randomBytes(16).toString('base64') }, 'DATA_KEY_ENCRYPTION_KEY'],
    ['DATA_KEY_ENCRYPTION_KEY not base64 or hex', { DATA_KEY_ENCRYPTION_KEY: 'a passphrase is not a key, however long it is' }, 'DATA_KEY_ENCRYPTION_KEY'],
    ['DATA_KEY_ENCRYPTION_KEY with a bad second key', { DATA_KEY_ENCRYPTION_KEY: `${randomBytes(32).toString('base64')},nope` }, 'DATA_KEY_ENCRYPTION_KEY'],
    ['DATA_KEY_ENCRYPTION_KEY naming a key twice', { DATA_KEY_ENCRYPTION_KEY: `${randomBytes(32).toString('hex')},`.repeat(2).slice(0, -1) }, 'DATA_KEY_ENCRYPTION_KEY'],
  ];
  it.each(bad)('refuses a bad %s with one line naming the variable', (_case, env, variable) => {
    const refused = refusal(env);
    expect(refused.variable).toBe(variable);
    expect(refused.message).toMatch(new RegExp(`^configuration error: ${variable} `));
    expect(refused.message).not.toMatch(/\n/);
  });

  it('listens on the loopback in development mode, on every interface otherwise, or where HOST says', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'development' }).host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(40) }).host).toBe('0.0.0.0');
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(40), HOST: '10.1.2.3' }).host).toBe('10.1.2.3');
    expect(loadConfig({ NODE_ENV: 'test' }).production).toBe(false);
  });

  it('says at start-up that production serves /metrics only on METRICS_PORT', () => {
    const production = {
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(40),
      INTERNAL_API_TOKEN: 'a-long-enough-internal-token',
      AUDIT_ANCHOR_KEY: 'k'.repeat(40),
      DATA_KEY_ENCRYPTION_KEY: KEK_A,
    };
    expect(loadConfig(production).warnings).toContain('METRICS_PORT is not set: /metrics is not served (in production it is served only on METRICS_PORT)');
    expect(loadConfig({ ...production, METRICS_PORT: '9464' }).warnings.some((w) => w.startsWith('METRICS_PORT'))).toBe(false);
  });

  it('reads the webhook and push settings, with their defaults', () => {
    expect(loadConfig({})).toMatchObject({ webhooks: null, notifyUnreadAfterMs: 300_000, push: { vapid: null, includeBody: false } });
    const config = loadConfig({
      WEBHOOK_URL: 'https://a.example.com/hooks, https://b.example.com/hooks',
      WEBHOOK_SECRET: WHSEC,
      WEBHOOK_INCLUDE_BODY: 'false',
      NOTIFY_UNREAD_AFTER: '10m',
      VAPID_PUBLIC_KEY: VAPID.publicKey,
      VAPID_PRIVATE_KEY: VAPID.privateKey,
      PUSH_INCLUDE_BODY: 'true',
    });
    expect(config.webhooks).toEqual({
      urls: ['https://a.example.com/hooks', 'https://b.example.com/hooks'],
      secret: WHSEC,
      includeBody: false,
      retryForMs: 86_400_000,
      timeoutMs: 10_000,
    });
    expect(config.notifyUnreadAfterMs).toBe(600_000);
    expect(config.push).toMatchObject({ vapid: VAPID, includeBody: true });
    // Push endpoints: the browsers' push services by default, the loopback outside production only.
    expect(loadConfig({}).push.endpoints).toEqual({ allowedHosts: ['fcm.googleapis.com', 'updates.push.services.mozilla.com', '*.push.apple.com', '*.notify.windows.com'], allowLoopback: true });
    expect(loadConfig({ PUSH_ALLOWED_HOSTS: 'FCM.googleapis.com, *.push.example' }).push.endpoints.allowedHosts).toEqual(['fcm.googleapis.com', '*.push.example']);
    expect(
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(40),
        INTERNAL_API_TOKEN: 'a-long-enough-internal-token',
        AUDIT_ANCHOR_KEY: 'k'.repeat(40),
        DATA_KEY_ENCRYPTION_KEY: KEK_A,
      }).push.endpoints.allowLoopback,
    ).toBe(false);
  });

  it('does not echo a secret it refuses', () => {
    expect(refusal({ WEBHOOK_URL: 'https://hooks.example.com', WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }).message).not.toContain('c2hvcnQ');
    expect(refusal({ JWT_SECRET: 'tiny-secret' }).message).not.toContain('tiny-secret');
    expect(refusal({ INTERNAL_API_TOKEN: 'tiny-token' }).message).not.toContain('tiny-token');
    expect(refusal({ AUDIT_ANCHOR_KEY: 'tiny-anchor-key' }).message).not.toContain('tiny-anchor-key');
  });

  describe('in production, the secrets this repository publishes', () => {
    /** Every JWT_SECRET / INTERNAL_API_TOKEN value written in the files a newcomer copies from. */
    const published = (): Array<{ file: string; variable: 'JWT_SECRET' | 'INTERNAL_API_TOKEN'; value: string }> => {
      const found: Array<{ file: string; variable: 'JWT_SECRET' | 'INTERNAL_API_TOKEN'; value: string }> = [];
      const files = ['docker-compose.yml', 'README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].filter((f) => existsSync(f));
      for (const file of files) {
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(/\b(JWT_SECRET|INTERNAL_API_TOKEN)\s*[:=]\s*["']?([A-Za-z0-9._~+/-]{16,})/g)) {
          found.push({ file, variable: match[1] as 'JWT_SECRET' | 'INTERNAL_API_TOKEN', value: match[2] as string });
        }
        // The development values, as the README shows them in the curl story.
        for (const match of text.matchAll(/Bearer (dev-only-[A-Za-z0-9-]+)/g)) {
          found.push({ file, variable: 'INTERNAL_API_TOKEN', value: match[1] as string });
        }
      }
      return found;
    };

    it('finds the examples it guards (so the check below is not vacuous)', () => {
      const values = published().map((p) => p.value);
      expect(values).toEqual(expect.arrayContaining(['dev-only-internal-token-change-me']));
    });

    it('docker-compose.yml publishes none: its secrets come from .env (deploy/setup.sh makes random ones)', () => {
      expect(published().filter((p) => p.file === 'docker-compose.yml')).toEqual([]);
      expect(readFileSync('docker-compose.yml', 'utf8')).toMatch(/JWT_SECRET: \$\{JWT_SECRET:\?/);
    });

    it('still refuses the secrets earlier compose files published', () => {
      for (const [variable, value] of [['JWT_SECRET', 'local-compose-secret-change-me-0123456789'], ['INTERNAL_API_TOKEN', 'local-compose-internal-token']] as const) {
        const env = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), INTERNAL_API_TOKEN: 'a-long-enough-internal-token', [variable]: value };
        expect(refusal(env).variable).toBe(variable);
      }
    });

    it.each(published().map((p) => [p.file, p.variable, p.value] as const))('refuses the one in %s (%s)', (_file, variable, value) => {
      const env: Record<string, string> = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), INTERNAL_API_TOKEN: 'a-long-enough-internal-token', [variable]: value };
      const refused = refusal(env);
      expect(refused.variable).toBe(variable);
      expect(refused.message).toMatch(/published/);
      expect(refused.message).not.toContain(value);
      // Outside production the same value only starts the service (a local stack uses it).
      expect(() => loadConfig({ ...env, NODE_ENV: 'development' })).not.toThrow();
    });

    it('refuses the development secret and any value that says "change me"', () => {
      expect(refusal({ NODE_ENV: 'production', JWT_SECRET: 'dev-only-jwt-secret-change-me-please', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' }).variable).toBe('JWT_SECRET');
      expect(refusal({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), INTERNAL_API_TOKEN: 'please-CHANGE_ME-soon' }).variable).toBe('INTERNAL_API_TOKEN');
      const ownSecrets = { JWT_SECRET: 'k3J9xq2L8vB4nM7pR1tY6wZ0aS5dF3gH', INTERNAL_API_TOKEN: 'a-long-enough-internal-token' };
      expect(refusal({ NODE_ENV: 'production', ...ownSecrets, AUDIT_ANCHOR_KEY: 'dev-only-audit-anchor-key-change-me-please' }).variable).toBe('AUDIT_ANCHOR_KEY');
      expect(refusal({ NODE_ENV: 'production', ...ownSecrets, AUDIT_ANCHOR_KEY: 'q8Vn2Lr5Tx9Kb3Wm7Yc1Hd4Jf6Gs0Pa2', DATA_KEY_ENCRYPTION_KEY: DEV_KEK }).variable).toBe('DATA_KEY_ENCRYPTION_KEY');
      expect(loadConfig({ NODE_ENV: 'production', ...ownSecrets, AUDIT_ANCHOR_KEY: 'q8Vn2Lr5Tx9Kb3Wm7Yc1Hd4Jf6Gs0Pa2', DATA_KEY_ENCRYPTION_KEY: KEK_A }).production).toBe(true);
    });
  });
});

describe('operations configuration', () => {
  it('keeps /metrics on the application port unless METRICS_PORT names another one', () => {
    expect(loadConfig({}).metricsPort).toBeNull();
    expect(loadConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(refusal({ PORT: '9090', METRICS_PORT: '9090' })).toEqual({
      variable: 'METRICS_PORT',
      message: 'configuration error: METRICS_PORT must differ from PORT (9090): it keeps /metrics off the public port',
    });
    expect(refusal({ METRICS_PORT: 'metrics' }).variable).toBe('METRICS_PORT');
  });

  it('bounds the projection lag /readyz tolerates: 30 s unless READY_MAX_PROJECTION_LAG says otherwise', () => {
    expect(loadConfig({}).readyMaxProjectionLagMs).toBe(30_000);
    expect(loadConfig({ READY_MAX_PROJECTION_LAG: '2m' }).readyMaxProjectionLagMs).toBe(120_000);
    expect(refusal({ READY_MAX_PROJECTION_LAG: 'soon' }).variable).toBe('READY_MAX_PROJECTION_LAG');
  });

  it('takes 20 uploads at once per process unless ATTACHMENT_UPLOADS_AT_ONCE says otherwise, and at least one', () => {
    expect(loadConfig({}).attachments.uploadsAtOnce).toBe(20);
    expect(loadConfig({ ATTACHMENT_UPLOADS_AT_ONCE: '4' }).attachments.uploadsAtOnce).toBe(4);
    expect(refusal({ ATTACHMENT_UPLOADS_AT_ONCE: '0' }).variable).toBe('ATTACHMENT_UPLOADS_AT_ONCE');
  });

  it('logs pretty lines only for a person at a terminal outside production; JSON lines otherwise', () => {
    const production = {
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(40),
      INTERNAL_API_TOKEN: 'a-long-enough-internal-token',
      AUDIT_ANCHOR_KEY: 'k'.repeat(40),
      DATA_KEY_ENCRYPTION_KEY: KEK_A,
    };
    expect(loadConfig({}, { stdoutIsTty: true }).logPretty).toBe(true);
    expect(loadConfig({}, { stdoutIsTty: false }).logPretty).toBe(false);
    expect(loadConfig({}).logPretty).toBe(false);
    expect(loadConfig(production, { stdoutIsTty: true }).logPretty).toBe(false);
  });
});

import jwt from 'jsonwebtoken';

/** The HS256 secret every test server is configured with. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256!';
export const TEST_INTERNAL_TOKEN = 'test-internal-token-0123456789';
export const TEST_AUDIT_ANCHOR_KEY = 'test-audit-anchor-key-0123456789abcdef';

export function tokenFor(
  userId: string,
  options: { roles?: string[]; expiresInSeconds?: number; secret?: string; claims?: Record<string, unknown> } = {},
): string {
  return jwt.sign({ ...options.claims, sub: userId, ...(options.roles ? { roles: options.roles } : {}) }, options.secret ?? TEST_JWT_SECRET, {
    algorithm: 'HS256',
    expiresIn: options.expiresInSeconds ?? 3600,
  });
}

/** The key-encryption key of the data keys in test servers (32 bytes, base64). */
export const TEST_DATA_KEY_ENCRYPTION_KEY = Buffer.from('test-data-key-encryption-key-32b').toString('base64');

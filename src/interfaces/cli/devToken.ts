import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { ConfigError, loadConfig } from '../../config';

/**
 * `npm run token -- <userId> [--roles auditor] [--ttl 3600]`: prints a token the
 * local server accepts, signed with its HS256 JWT_SECRET (or the development one).
 * For trying the service out; real tokens come from the marketplace's identity service.
 */
function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { roles: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
  });
  const userId = positionals[0];
  if (userId === undefined) {
    process.stderr.write('usage: npm run token -- <userId> [--roles auditor] [--ttl seconds]\n');
    process.exit(64);
  }
  const config = loadConfig();
  if (config.jwt.algorithm !== 'HS256') {
    process.stderr.write('token: the server verifies with JWT_PUBLIC_KEY; sign tokens with its private key instead\n');
    process.exit(64);
  }
  const ttl = Number(values.ttl);
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    process.stderr.write('token: --ttl must be a whole number of seconds\n');
    process.exit(64);
  }
  const roles = values.roles?.split(',').filter((r) => r !== '');
  const token = jwt.sign({ sub: userId, ...(roles ? { roles } : {}) }, config.jwt.key, {
    algorithm: 'HS256',
    expiresIn: ttl,
    ...(config.jwt.issuer !== null ? { issuer: config.jwt.issuer } : {}),
    ...(config.jwt.audience !== null ? { audience: config.jwt.audience } : {}),
  });
  process.stdout.write(`${token}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(78);
}

/**
 * docker-compose.yml and its nginx, checked without a container engine: Debian's
 * `docker-compose config` resolves and validates the file offline (.ci/run installs
 * it), and nginx's upstreams must name the replicas the file defines.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '../..');
const composeFile = path.join(root, 'docker-compose.yml');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasCompose) process.stdout.write('[compose.int.test] skipped: docker-compose is not installed (.ci/run installs it)\n');

const secrets = {
  POSTGRES_PASSWORD: 'compose-test-password',
  JWT_SECRET: 'compose-test-jwt-secret-0123456789abcdef',
  INTERNAL_API_TOKEN: 'compose-test-internal-token',
  AUDIT_ANCHOR_KEY: 'compose-test-anchor-key-0123456789abcdef',
  DATA_KEY_ENCRYPTION_KEY: 'Y29tcG9zZS10ZXN0LWRhdGEta2V5LWtlay0zMmJ5dGU=',
};

/** An empty env file, so a developer's .env in the checkout does not fill in what a test leaves out. */
const noEnvFile = path.join(mkdtempSync(path.join(tmpdir(), 'compose-test-')), 'empty.env');
writeFileSync(noEnvFile, '');

/** `docker-compose config` with this environment only (no .env from the checkout). */
function compose(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker-compose', ['-f', composeFile, '--project-directory', root, '--env-file', noEnvFile, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

(hasCompose ? describe : describe.skip)('docker-compose.yml', () => {
  it('is a valid compose file: PostgreSQL, two chat replicas, nginx, and EventStoreDB behind the esdb profile', () => {
    const services = compose(['config', '--services'], secrets);
    expect(services.stderr).toBe('');
    expect(services.stdout.trim().split('\n').sort()).toEqual(['chat-1', 'chat-2', 'eventstoredb', 'nginx', 'postgres']);
    const resolved = compose(['config'], secrets).stdout;
    expect(/\n {2}eventstoredb:\n(?: {4}.*\n)*? {4}profiles:\n {4}- esdb\n/.test(resolved)).toBe(true);
  });

  it('refuses to run without its secrets, naming the missing one', () => {
    const { POSTGRES_PASSWORD: _missing, ...rest } = secrets;
    const refused = compose(['config', '-q'], rest);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('POSTGRES_PASSWORD');
  });

  it('runs the replicas in production with the secrets given, /metrics on its own port, and health-checks every service', () => {
    const resolved = compose(['--profile', 'esdb', 'config'], secrets);
    expect(resolved.status).toBe(0);
    const text = resolved.stdout;
    expect(text).toContain(`JWT_SECRET: ${secrets.JWT_SECRET}`);
    expect(text).toContain(`postgres://chat:${secrets.POSTGRES_PASSWORD}@postgres:5432/chat`);
    expect(text.match(/NODE_ENV: production/g)).toHaveLength(2);
    expect(text.match(/METRICS_PORT: '9464'/g)).toHaveLength(2);
    expect(text.match(/healthcheck:/g)).toHaveLength(5);
    // Only nginx is published, on 443 and 80.
    expect([...text.matchAll(/published: (\d+)/g)].map((m) => m[1])).toEqual(['443', '80']);
  });
});

describe('deploy/nginx/nginx.conf', () => {
  const conf = readFileSync(path.join(root, 'deploy/nginx/nginx.conf'), 'utf8');
  const compose = readFileSync(composeFile, 'utf8');

  it('balances over exactly the chat replicas of docker-compose.yml, on their PORT', () => {
    const upstreams = [...conf.matchAll(/^\s*server (chat-\d+):(\d+)/gm)].map((m) => [m[1], m[2]]);
    const replicas = [...compose.matchAll(/^ {2}(chat-\d+):\n {4}<<: \*chat$/gm)].map((m) => m[1]);
    const port = /PORT: "(\d+)"/.exec(compose)?.[1];
    expect(replicas).toEqual(['chat-1', 'chat-2']);
    expect(upstreams).toEqual(replicas.map((r) => [r, port]));
  });

  it('upgrades /chat to a WebSocket with a read timeout longer than the 25 s ping, and terminates TLS 1.2+ only', () => {
    const chat = /location = \/chat \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(chat).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(chat).toContain('proxy_set_header Connection $connection_upgrade;');
    expect(chat).toContain('proxy_http_version 1.1;');
    expect(Number(/proxy_read_timeout (\d+)s;/.exec(chat)?.[1])).toBeGreaterThan(25);
    expect(conf).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
    expect(conf).toMatch(/client_header_timeout \d+s;/);
    expect(/location = \/metrics \{\s*return 404;/.test(conf)).toBe(true);
  });

  it('is read by nginx from the paths the compose file mounts, with the certificate deploy/setup.sh makes', () => {
    expect(compose).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(compose).toContain('./deploy/nginx/certs:/etc/nginx/certs:ro');
    expect(conf).toContain('ssl_certificate /etc/nginx/certs/cert.pem;');
    const setup = readFileSync(path.join(root, 'deploy/setup.sh'), 'utf8');
    expect(setup).toContain('-keyout "$certs/key.pem" -out "$certs/cert.pem"');
    expect(execFileSync('bash', ['-n', path.join(root, 'deploy/setup.sh')], { encoding: 'utf8' })).toBe('');
  });
});

/**
 * docker-compose.yml and its nginx, checked without a container engine: Debian's
 * `docker-compose config` resolves and validates the file offline (.ci/run installs
 * it), and nginx's upstreams must name the replicas the file defines.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '../..');
const composeFile = path.join(root, 'docker-compose.yml');
const esdbFile = path.join(root, 'docker-compose.esdb.yml');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasCompose) process.stdout.write('[compose.int.test] skipped: docker-compose is not installed (.ci/run installs it)\n');

const secrets = {
  POSTGRES_PASSWORD: 'compose-test-password',
  JWT_SECRET: 'compose-test-jwt-secret-0123456789abcdef',
  INTERNAL_API_TOKEN: 'compose-test-internal-token',
  AUDIT_ANCHOR_KEY: 'compose-test-anchor-key-0123456789abcdef',
  DATA_KEY_ENCRYPTION_KEY: 'Y29tcG9zZS10ZXN0LWRhdGEta2V5LWVuY3J5cHRpb24=',
  VAPID_PUBLIC_KEY: 'compose-test-vapid-public-key',
  VAPID_PRIVATE_KEY: 'compose-test-vapid-private-key',
};

/** An empty env file, so a developer's .env in the checkout does not fill in what a test leaves out. */
const noEnvFile = path.join(mkdtempSync(path.join(tmpdir(), 'compose-test-')), 'empty.env');
writeFileSync(noEnvFile, '');

/** `docker-compose config` with this environment only (no .env from the checkout). */
function compose(args: string[], env: Record<string, string>, files = [composeFile]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker-compose', [...files.flatMap((file) => ['-f', file]), '--project-directory', root, '--env-file', noEnvFile, ...args], {
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

  it('with docker-compose.esdb.yml, the replicas keep their events in EventStoreDB and start only once it is healthy; without it, they do not depend on it', () => {
    const withEsdb = compose(['--profile', 'esdb', 'config'], secrets, [composeFile, esdbFile]);
    expect(withEsdb.stderr).toBe('');
    for (const replica of ['chat-1', 'chat-2']) {
      const block = serviceBlock(withEsdb.stdout, replica);
      expect(block).toMatch(/\n {4}depends_on:\n(?: {6}.*\n)*? {6}eventstoredb:\n {8}condition: service_healthy\n/);
      expect(block).toContain('EVENT_STORE: eventstoredb');
    }
    // A dependency on a service only a profile starts would stop the default stack from starting.
    const plain = compose(['config'], secrets);
    for (const replica of ['chat-1', 'chat-2']) {
      const block = serviceBlock(plain.stdout, replica);
      expect(block).not.toMatch(/\n {6}eventstoredb:\n/);
      expect(block).toContain('EVENT_STORE: postgres');
    }
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

describe('deploy/setup.sh and docker-compose.yml', () => {
  it('hands every variable setup.sh writes (webhooks, Web Push and erasure keys included) to the chat replicas', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'setup-test-'));
    execFileSync('mkdir', ['-p', path.join(dir, 'deploy')]);
    execFileSync('cp', [path.join(root, 'deploy/setup.sh'), path.join(dir, 'deploy/setup.sh')]);
    execFileSync('bash', [path.join(dir, 'deploy/setup.sh')], { cwd: dir, stdio: 'pipe' });
    const written = [...readFileSync(path.join(dir, '.env'), 'utf8').matchAll(/^#? *([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
    expect(written).toEqual(expect.arrayContaining(['DATA_KEY_ENCRYPTION_KEY', 'VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'WEBHOOK_URL', 'WEBHOOK_SECRET']));
    const chatEnvironment = /x-chat: &chat\n[\s\S]*?\n {2}environment:\n((?: {4}.*\n|\s*\n)*)/.exec(readFileSync(composeFile, 'utf8'))?.[1] ?? '';
    const passed = new Set([...chatEnvironment.matchAll(/^ {4}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]));
    // POSTGRES_PASSWORD reaches them inside DATABASE_URL.
    expect(written.filter((name) => name !== 'POSTGRES_PASSWORD' && !passed.has(name))).toEqual([]);
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

/** One service's lines in `docker-compose config` output. */
function serviceBlock(config: string, name: string): string {
  const start = config.indexOf(`\n  ${name}:\n`);
  if (start < 0) throw new Error(`no service ${name} in the resolved file`);
  const rest = config.slice(start + 1);
  const end = rest.slice(1).search(/\n {2}\S|\n\S/);
  return end < 0 ? rest : rest.slice(0, end + 2);
}

describe('the eventstoredb healthcheck of docker-compose.yml', () => {
  // The command as written in the file (a JSON-compatible flow list), run by sh as Docker runs CMD-SHELL.
  const file = readFileSync(composeFile, 'utf8');
  const esdb = file.slice(file.indexOf('\n  eventstoredb:\n'));
  const line = /\n {6}test: (\[.*\])\n/.exec(esdb)?.[1] ?? '[]';
  const [kind, command] = JSON.parse(line) as [string, string];
  const hasCurl = spawnSync('curl', ['--version']).status === 0;

  let server: Server;
  let info: string | null = null;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/info' && info !== null) res.writeHead(200, { 'content-type': 'application/json' }).end(info);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** The exit status of the healthcheck against our stand-in for the node's HTTP port. */
  async function healthcheck(): Promise<number | null> {
    const child = spawn('sh', ['-c', command.replace('127.0.0.1:2113', `127.0.0.1:${port}`)], { stdio: 'ignore' });
    return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** /info as EventStoreDB 24.10 writes it (InfoController.cs, Newtonsoft, indented). */
  const infoOf = (state: string): string =>
    JSON.stringify({ esVersion: '24.10.4.0', state, features: { projections: false }, authentication: null }, null, 2);

  (hasCurl ? it : it.skip)('passes only when /info says the node is the leader (not when it is live but unelected, or down)', async () => {
    expect(kind).toBe('CMD-SHELL');
    expect(command).toContain('/info');
    info = infoOf('leader');
    expect(await healthcheck()).toBe(0);
    for (const state of ['unknown', 'preleader', 'follower', 'shuttingdown']) {
      info = infoOf(state);
      expect(await healthcheck()).not.toBe(0);
    }
    info = null; // the HTTP server answers 404: not there yet
    expect(await healthcheck()).not.toBe(0);
  });
});

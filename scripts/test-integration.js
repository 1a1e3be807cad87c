/**
 * `npm run test:integration`: the integration tier against throwaway containers — a
 * Testcontainers PostgreSQL and EventStoreDB (test/support/globalSetup.js starts them),
 * so the EventStoreDB contract suite runs too. Without a container engine it says in
 * one line why it skips and exits 0: `npm test` already runs the same tier on the
 * local PostgreSQL and PGlite.
 */
const { spawnSync } = require('node:child_process');

async function engineProblem() {
  try {
    const { getContainerRuntimeClient } = require('testcontainers');
    await getContainerRuntimeClient();
    return null;
  } catch (error) {
    return String(error && error.message ? error.message : error).split('\n')[0];
  }
}

(async () => {
  const problem = await engineProblem();
  if (problem !== null) {
    console.log(`[test:integration] skipped: no container engine for Testcontainers (${problem})`);
    return;
  }
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim() };
  // Containers, not whatever this machine has configured.
  delete env.TEST_DATABASE_URL;
  delete env.EVENTSTORE_CONNECTION_STRING;
  const jest = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--selectProjects', 'int', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env,
  });
  process.exitCode = jest.status ?? 1;
})();

/**
 * The tests Stryker runs against each mutant (see stryker.config.mjs and docs/testing.md):
 * the unit tier, and the command handler's integration tests, which drive it through a
 * real event store with a decider of their own. The room's integration suites are left
 * out: each mutant covered by them would cost ~20 s of database set-up on two cores.
 * Same transform and setup as jest.config.js's tiers, in one flat project, because
 * Stryker measures coverage per test through a test environment it wraps at the top level.
 */
const base = require('./jest.config.js');
const unit = base.projects.find((project) => project.displayName === 'unit');

module.exports = {
  testEnvironment: unit.testEnvironment,
  transform: unit.transform,
  setupFiles: unit.setupFiles,
  moduleNameMapper: unit.moduleNameMapper,
  testMatch: ['<rootDir>/test/**/*.unit.test.ts', '<rootDir>/test/application/handleCommand*.int.test.ts'],
  globalSetup: base.globalSetup,
  globalTeardown: base.globalTeardown,
  testTimeout: base.testTimeout,
};

// The command handler's suite runs on PostgreSQL only here (see that suite), when a server is there.
process.env.MUTATION_TEST_DATABASE ??= 'postgres';

/**
 * Jest runs TypeScript through @swc/jest: it strips types only (tsc --noEmit in
 * `npm test` does the type checking), which keeps the suite fast on two cores.
 * The project is CommonJS throughout, so inversify 7 (which ships CommonJS) is
 * used rather than the ESM-only inversify 8: see docs/decisions.md.
 */
const swc = ['@swc/jest', { jsc: { target: 'es2023', parser: { syntax: 'typescript' } } }];

const tier = (displayName, pattern, setupFilesAfterEnv = []) => ({
  displayName,
  setupFilesAfterEnv,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  testMatch: [`<rootDir>/test/**/*.${pattern}.test.ts`],
  setupFiles: ['<rootDir>/test/support/setupEnv.ts'],
  // The SDK (client/sdk) is an ES module package: its relative imports name the built
  // `.js` file, which jest finds as the `.ts` source.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
});

module.exports = {
  // Integration and end-to-end tests retry a failed test (printed) on a shared machine; unit tests never do.
  projects: [
    tier('unit', 'unit'),
    tier('int', 'int', ['<rootDir>/test/support/retryOnSharedMachine.ts']),
    tier('e2e', 'e2e', ['<rootDir>/test/support/retryOnSharedMachine.ts']),
  ],
  globalSetup: '<rootDir>/test/support/globalSetup.js',
  globalTeardown: '<rootDir>/test/support/globalTeardown.js',
  testTimeout: 60000,
};

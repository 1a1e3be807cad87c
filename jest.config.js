/**
 * Jest runs TypeScript through @swc/jest: it strips types only (tsc --noEmit in
 * `npm test` does the type checking), which keeps the suite fast on two cores.
 * The project is CommonJS throughout, so inversify 7 (which ships CommonJS) is
 * used rather than the ESM-only inversify 8: see docs/decisions.md.
 */
const swc = ['@swc/jest', { jsc: { target: 'es2023', parser: { syntax: 'typescript' } } }];

const tier = (displayName, pattern) => ({
  displayName,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  testMatch: [`<rootDir>/test/**/*.${pattern}.test.ts`],
  setupFiles: ['<rootDir>/test/support/setupEnv.ts'],
  // The SDK (client/sdk) is an ES module package: its relative imports name the built
  // `.js` file, which jest finds as the `.ts` source.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
});

module.exports = {
  projects: [tier('unit', 'unit'), tier('int', 'int'), tier('e2e', 'e2e')],
  globalSetup: '<rootDir>/test/support/globalSetup.js',
  globalTeardown: '<rootDir>/test/support/globalTeardown.js',
  testTimeout: 60000,
};

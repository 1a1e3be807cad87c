// Mutation testing of the domain and the application layer: `npm run test:mutation`.
// Not part of `npm test`: a full run takes long on two cores (figures in docs/testing.md).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: ['src/domain/**/*.ts', 'src/application/**/*.ts'],
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.stryker.config.js', enableFindRelatedTests: false },
  // PGlite loads its WebAssembly through a dynamic import(), which Jest's VM allows only with this flag.
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  coverageAnalysis: 'perTest',
  // The machine's two cores are shared: one test runner at a time.
  concurrency: 1,
  // Reuses the previous run's results for mutants whose code and covering tests did not change.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // Added to 1.5 × a test's own time: a mutant that makes a command wait forever fails in seconds.
  timeoutMS: 5000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};

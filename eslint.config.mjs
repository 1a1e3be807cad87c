import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'client/sdk/dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'reports/**', '.stryker-tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    // A focused test (`.only`, fit, fdescribe) silently skips the rest of its file: never committed.
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error',
        ...['describe', 'it', 'test'].map((object) => ({ object, property: 'only', message: 'a focused test skips the others; remove .only before committing' })),
      ],
      'no-restricted-globals': ['error',
        { name: 'fit', message: 'a focused test skips the others; use it' },
        { name: 'fdescribe', message: 'a focused suite skips the others; use describe' },
      ],
    },
  },
  {
    // Plain CommonJS files Jest and Node load before any TypeScript transform.
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The domain is pure: nothing from outside src/domain, no Node built-ins, no frameworks.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/application/*', '**/infrastructure/*', '**/interfaces/*', 'node:*', 'inversify', 'reflect-metadata'], message: 'the domain imports nothing from outside src/domain' },
      ] }],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'time comes in with the command' },
        { selector: "CallExpression[callee.property.name='randomUUID']", message: 'ids come in with the command' },
      ],
    },
  },
  {
    // inversify stays at the edge: only the composition root and src/infrastructure/di know it.
    files: ['src/application/**/*.ts', 'src/interfaces/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [
        { name: 'inversify', message: 'inversify belongs in src/infrastructure/di and src/main.ts' },
        { name: 'reflect-metadata', message: 'inversify belongs in src/infrastructure/di and src/main.ts' },
      ] }],
    },
  },
  {
    // The WebSocket side and the HTTP side are siblings: what they share lives in src/interfaces.
    files: ['src/interfaces/ws/**/*.ts'],
    // (A later entry for the same rule replaces the one above for these files, so inversify is repeated.)
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'inversify', message: 'inversify belongs in src/infrastructure/di and src/main.ts' },
          { name: 'reflect-metadata', message: 'inversify belongs in src/infrastructure/di and src/main.ts' },
        ],
        patterns: [{ group: ['../http', '../http/*', '**/interfaces/http/*'], message: 'interfaces/ws does not import interfaces/http: share through src/interfaces (errors.ts, validation.ts, ...)' }],
      }],
    },
  },
);

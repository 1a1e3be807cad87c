import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'reports/**', '.stryker-tmp/**'] },
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
);

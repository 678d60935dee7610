// Type-aware linting; .ci/run fails on any error.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'audex-data/**', 'web/vendor/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // The storage seam (src/storage/index.ts): outside src/storage/ and src/catalog/, production code
  // reaches an engine only through openStorage() and the contract, never a driver or a backend
  // folder. Tests and benches of one backend's internals may import it.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/storage/**', 'src/catalog/**', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/storage/*/**', '!**/storage/*.ts'],
              message:
                'Outside src/storage/, use openStorage() and the contract (src/storage/index.ts, contract.ts).',
            },
            {
              group: ['@duckdb/*', 'better-sqlite3', 'pg', '@clickhouse/*'],
              message: 'Engine drivers belong in src/storage/<backend>/ or src/catalog/.',
            },
          ],
        },
      ],
    },
  },
  {
    // Catalog queries live in the repositories (src/catalog/repos/, one per aggregate), so that
    // both catalogs (SQLite, PostgreSQL) are served by one tested set of queries.
    files: ['src/**/*.ts'],
    ignores: ['src/storage/**', 'src/catalog/**', '**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)$/]',
          message: 'Catalog queries belong in a repository of src/catalog/repos/.',
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);

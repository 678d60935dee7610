#!/usr/bin/env node
// Runs every test file with Node's own test runner (TypeScript through tsx), with the spec
// reporter on every output (TAP when piped is not for people): one line per test, a summary, and
// the failing tests again in full at the end. AUDEX_TEST_REPORTER=tap|dot|junit picks another.
// `npm test` runs all suites, then the end-to-end suites of SHARED_STORES_SUITE a second time with
// the server on the shared stores (events and snapshots in ClickHouse, the catalog in PostgreSQL,
// private servers the test helpers start): the same assertions must hold on both deployments.
// `npm test -- test/foo.test.ts` runs the named files (once, on the embedded stores unless
// AUDEX_TEST_EVENTS=clickhouse / AUDEX_TEST_CATALOG=postgres say otherwise).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// The tests spawn bin/audex.js, which runs dist/: build it from the current sources first.
const build = spawnSync(process.execPath, ['scripts/build.mjs', '--quiet'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

/** The end-to-end suites that run again on ClickHouse + PostgreSQL (official clients, CLI, privacy). */
const SHARED_STORES_SUITE = [
  'test/exports.e2e.test.ts',
  'test/exports.grpc.e2e.test.ts',
  'test/exports.errors.e2e.test.ts',
  'test/exports.crash.e2e.test.ts',
  'test/admin.e2e.test.ts',
  'test/grpc-admin.e2e.test.ts',
  'test/audiences.e2e.test.ts',
  'test/audience-lists.e2e.test.ts',
  'test/audience-lists.webhooks.e2e.test.ts',
  'test/audience-triggers.e2e.test.ts',
  'test/mp.e2e.test.ts',
  'test/import.e2e.test.ts',
  'test/import.atomic.e2e.test.ts',
  'test/cli-exports.e2e.test.ts',
  'test/operations.routes.e2e.test.ts',
  'test/privacy.user-deletion.e2e.test.ts',
  'test/properties.trash.e2e.test.ts',
];

function run(files, env) {
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-reporter=${process.env.AUDEX_TEST_REPORTER ?? 'spec'}`,
      '--test-concurrency=2',
      '--test-timeout=300000',
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, METADATA_SERVER_DETECTION: 'none', ...env } },
  );
  return result.status ?? 1;
}

const args = process.argv.slice(2);
if (args.length > 0) process.exit(run(args, {}));
const embedded = run([...findTests('src'), ...findTests('test')].sort(), {});
console.log(
  '\n== the end-to-end suites again on the shared stores (ClickHouse events, PostgreSQL catalog)\n',
);
const shared = run(SHARED_STORES_SUITE, { AUDEX_TEST_EVENTS: 'clickhouse', AUDEX_TEST_CATALOG: 'postgres' });
process.exit(embedded !== 0 ? embedded : shared);

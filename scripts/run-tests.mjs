#!/usr/bin/env node
// Runs every test file with Node's own test runner (TypeScript through tsx), with the spec
// reporter on every output (TAP when piped is not for people): one line per test, a summary, and
// the failing tests again in full at the end. AUDEX_TEST_REPORTER=tap|dot|junit picks another.
// `npm test` runs all suites; `npm test -- test/foo.test.ts` runs the named files.
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

const args = process.argv.slice(2);
const files = args.length > 0 ? args : [...findTests('src'), ...findTests('test')].sort();
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
  { stdio: 'inherit', env: { ...process.env, METADATA_SERVER_DETECTION: 'none' } },
);
process.exit(result.status ?? 1);

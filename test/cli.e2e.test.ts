// The CLI as a user meets it: help for every command and subcommand (exit 0), usage errors that
// name the one wrong thing and print that command's usage (exit 2), configuration errors naming
// flag and environment variable, a taken port that leaves the data folder untouched, and a new
// operator key for an existing data folder.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/commands.ts';
import { runCli } from './helpers/cli.ts';
import { removeDir, startServer, tempDataDir } from './helpers/server.ts';

/** Every command path of the tree: [], ['exports'], ['exports', 'create'], … */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return [prefix, ...cmd.commands.flatMap((c) => commandPaths(c, [...prefix, c.name()]))];
}

async function inBatches<T, R>(items: T[], size: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

describe('audex CLI: help and usage errors', () => {
  test('every command and subcommand has --help: its own usage, exit 0', async () => {
    const paths = commandPaths(buildProgram());
    assert.ok(paths.length >= 30, `${paths.length} commands`);
    const results = await inBatches(paths, 4, async (p) => ({ p, r: await runCli([...p, '--help']) }));
    for (const { p, r } of results) {
      assert.equal(r.code, 0, `audex ${p.join(' ')} --help: ${r.stderr}`);
      const usage = p.length === 0 ? 'Usage: audex <command>' : `Usage: audex ${p.join(' ')}`;
      assert.ok(r.stdout.startsWith(usage), `audex ${p.join(' ')} --help starts with ${usage}:\n${r.stdout}`);
      assert.equal(r.stderr, '');
    }
    const create = results.find(({ p }) => p.join(' ') === 'exports create')!.r.stdout;
    assert.match(create, /Examples:\n {2}audex exports create --audience properties\/1\/audiences\/3/);
  });

  test('a malformed --audience is named as such, with the usage of exports create only', async () => {
    const r = await runCli(['exports', 'create', '--audience', 'audiences/3']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^audex: option '--audience <audience>' argument 'audiences\/3' is invalid\. the audience name is malformed \(properties\/P\/audiences\/A\)\./,
    );
    assert.match(r.stderr, /\nUsage: audex exports create \[options\]/);
    assert.doesNotMatch(r.stderr, /--property.*not specified|audex keys|Usage: audex <command>/);
    assert.equal(r.stdout, '');
  });

  test('a --server or AUDEX_SERVER without a scheme says so', async () => {
    const flag = await runCli(['properties', 'list', '--server', '127.0.0.1:8080']);
    assert.equal(flag.code, 2);
    assert.match(
      flag.stderr,
      /'--server <url>' argument '127\.0\.0\.1:8080' is invalid\. the server URL needs a scheme/,
    );
    assert.match(flag.stderr, /Usage: audex properties list/);
    const env = await runCli(['properties', 'list'], { AUDEX_SERVER: 'localhost:9' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /^audex: AUDEX_SERVER "localhost:9" needs a scheme/);
  });

  test('other usage errors: missing option, unknown subcommand, bad argument, no subcommand', async () => {
    const cases: [string[], RegExp, string][] = [
      [['exports', 'list'], /required option '--property <property>' not specified/, 'exports list'],
      [['exports', 'frobnicate'], /unknown command 'frobnicate'/, 'exports'],
      [
        ['exports', 'get', 'properties/1/audiences/2'],
        /the audience export name is malformed/,
        'exports get',
      ],
      [
        ['exports', 'query', 'properties/1/audienceExports/2', '--limit', '0'],
        /'--limit <n>' argument '0' is invalid\. must be an integer from 1/,
        'exports query',
      ],
      [
        ['exports', 'create', '--audience', 'properties/1/audiences/2', '--dimensions', 'city'],
        /unknown dimension city/,
        'exports create',
      ],
      [
        ['keys', 'create', '--property', 'properties/1', '--role', 'owner'],
        /'--role <role>' argument 'owner' is invalid\. Allowed choices are viewer, editor, admin/,
        'keys create',
      ],
      [
        ['audiences', 'create', '--property', 'properties/1', '--file', '/nonexistent/a.json'],
        /--file \/nonexistent\/a\.json: ENOENT/,
        'audiences create',
      ],
      [['import', '--property', 'properties/1'], /missing required argument 'file'/, 'import'],
      [['exports'], /Usage: audex exports/, 'exports'],
      [['nope'], /unknown command 'nope'/, '<command>'],
    ];
    const results = await inBatches(cases, 4, async ([args]) => runCli(args));
    cases.forEach(([args, message, usage], i) => {
      const r = results[i]!;
      assert.equal(r.code, 2, `audex ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, `audex ${args.join(' ')}`);
      assert.ok(
        r.stderr.includes(`Usage: audex ${usage}`),
        `audex ${args.join(' ')} prints its usage:\n${r.stderr}`,
      );
    });
  });

  test('invalid JSON on stdin for audiences create is a usage error naming the input', async () => {
    const r = await runCli(
      ['audiences', 'create', '--property', 'properties/1', '--file', '-'],
      {},
      '{"displayName":',
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--file - is not valid JSON/);
  });
});

describe('audex serve: configuration and start', () => {
  test('configuration errors name the flag and the environment variable, all at once', async () => {
    const data = join(mkdtempSync(join(tmpdir(), 'audex-cfg-')), 'data');
    const r = await runCli(['serve', '--port', 'abc', '--data', data], {
      AUDEX_GRPC_PORT: '70000',
      AUDEX_WEBHOOK_TIMEOUT_MS: '-1',
      AUDEX_LOG_LEVEL: 'loud',
      AUDEX_ADMIN_KEY: 'short-secret',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port \/ AUDEX_PORT \(server\.port\): "abc"/);
    assert.match(r.stderr, /--grpc-port \/ AUDEX_GRPC_PORT \(server\.grpcPort\): "70000"/);
    assert.match(r.stderr, /AUDEX_WEBHOOK_TIMEOUT_MS \(webhooks\.timeoutMs\): "-1"/);
    assert.match(r.stderr, /--log-level \/ AUDEX_LOG_LEVEL \(server\.logLevel\): "loud"/);
    assert.match(r.stderr, /AUDEX_ADMIN_KEY \(auth\.adminKey\): must be at least 16 characters/);
    assert.ok(!r.stderr.includes('short-secret'), 'a key is never printed');
    assert.equal(existsSync(data), false, 'nothing written');
  });

  test('a taken port is one clear line, and the data folder is not created', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const data = join(mkdtempSync(join(tmpdir(), 'audex-port-')), 'data');
    try {
      const r = await runCli(['serve', '--port', String(port), '--grpc-port', '0', '--data', data]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `audex: --port / AUDEX_PORT: port ${port} on 127.0.0.1 is already in use (another audex?); choose another port or stop the other server.\n`,
      );
      assert.equal(r.stdout, '');
      assert.equal(existsSync(data), false, 'the data folder was not created');
    } finally {
      blocker.close();
    }
  });

  test('operator-key create mints a working operator key for an existing data folder', async () => {
    const dataDir = tempDataDir('audex-opkey-');
    const missing = await runCli(['operator-key', 'create', '--data', join(dataDir, 'nothing-here')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /is not an audex data folder \(it has no catalog\.sqlite\)/);
    assert.equal(existsSync(join(dataDir, 'nothing-here')), false);
    // First start without AUDEX_ADMIN_KEY: a key is generated and printed once; pretend it was lost.
    let server = await startServer({ dataDir, env: { AUDEX_ADMIN_KEY: '' } });
    assert.match(server.output(), /Lost it\? `audex operator-key create --data /);
    await server.stop();
    try {
      const r = await runCli(['operator-key', 'create', '--data', dataDir, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const { name, key } = JSON.parse(r.stdout) as { name: string; key: string };
      assert.match(name, /^keys\/\d+$/);
      server = await startServer({ dataDir, env: { AUDEX_ADMIN_KEY: '' } });
      assert.doesNotMatch(server.output(), /Generated the operator/);
      const created = await runCli(['properties', 'create', '--name', 'Shop', '--json'], {
        AUDEX_SERVER: server.url,
        AUDEX_KEY: key,
      });
      assert.equal(created.code, 0, created.stderr);
      assert.match(JSON.parse(created.stdout).name, /^properties\/\d+$/);
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });
});

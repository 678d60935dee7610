// The CLI's admin and list commands against a real server: streams, secrets, audiences (create
// from stdin, get, list, archive), audience lists (create --wait, query), recurring lists, keys,
// each with --json for scripts and a table without.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { runCli } from './helpers/cli.ts';
import { EXAMPLES } from '../src/audience/fixtures/examples.ts';

describe('audex CLI: admin and list commands', () => {
  let server: RunningServer;
  let cli: (args: string[], stdin?: string) => ReturnType<typeof runCli>;
  const json = async (args: string[], stdin?: string) => {
    const r = await cli([...args, '--json'], stdin);
    assert.equal(r.code, 0, `audex ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, any>;
  };
  let property: string;
  let audience: string;

  before(async () => {
    server = await startServer({ env: { AUDEX_ALLOW_HTTP_WEBHOOKS: 'true' } });
    cli = (args, stdin) => runCli(args, { AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY }, stdin);
    property = (await json(['properties', 'create', '--name', 'CLI shop'])).name;
  });
  after(async () => {
    await server?.stop();
    removeDir(server.dataDir);
  });

  test('streams and secrets: create, then list as a table', async () => {
    const stream = await json(['streams', 'create', '--property', property, '--name', 'Web']);
    assert.match(stream.webStreamData.measurementId, /^G-[A-Z0-9]{10}$/);
    const secret = await json(['secrets', 'create', '--stream', stream.name]);
    assert.ok(secret.secretValue);
    const streams = await cli(['streams', 'list', '--property', property]);
    assert.match(
      streams.stdout,
      new RegExp(`^${stream.name}\\s+Web\\s+${stream.webStreamData.measurementId}`, 'm'),
    );
    const secrets = await cli(['secrets', 'list', '--stream', stream.name]);
    assert.ok(secrets.stdout.includes(secret.secretValue));
  });

  test('audiences: create from stdin, get, list, archive', async () => {
    const created = await json(
      ['audiences', 'create', '--property', property, '--file', '-'],
      JSON.stringify(EXAMPLES.E1),
    );
    audience = created.name;
    assert.match(audience, new RegExp(`^${property}/audiences/\\d+$`));
    const got = await cli(['audiences', 'get', audience]);
    assert.equal(JSON.parse(got.stdout).displayName, 'Purchasers');
    const list = await cli(['audiences', 'list', '--property', property]);
    assert.match(list.stdout, /^NAME\s+DISPLAY NAME\s+DAYS$/m);
    assert.ok(list.stdout.includes(audience));
    const bad = await cli(
      ['audiences', 'create', '--property', property, '--file', '-'],
      '{"displayName":"x"}',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^audex: INVALID_ARGUMENT: /);
  });

  test('audience lists: create --wait shows phases; query; recurring lists create and list', async () => {
    const r = await cli(['audience-lists', 'create', '--audience', audience, '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const name = r.stdout.trim();
    assert.match(name, new RegExp(`^${property}/audienceLists/\\d+$`));
    assert.match(r.stderr, /: 100% done/);
    const q = await json(['audience-lists', 'query', name]);
    assert.equal(q.rowCount ?? 0, 0);
    const lists = await cli(['audience-lists', 'list', '--property', property]);
    assert.match(lists.stdout, new RegExp(`^${name}\\s+${audience}\\s+ACTIVE`, 'm'));
    const rec = await json([
      'recurring-lists',
      'create',
      '--audience',
      audience,
      '--webhook',
      'http://127.0.0.1:9/hook',
    ]);
    assert.match(rec.name, new RegExp(`^${property}/recurringAudienceLists/\\d+$`));
    const recs = await cli(['recurring-lists', 'list', '--property', property]);
    assert.ok(recs.stdout.includes(rec.name));
    const noHook = await cli(['recurring-lists', 'create', '--audience', audience, '--channel-token', 't']);
    assert.equal(noHook.code, 2);
    assert.match(noHook.stderr, /--channel-token needs --webhook/);
  });

  test('keys: create (printed once), list, revoke', async () => {
    const key = await json(['keys', 'create', '--property', property, '--role', 'viewer', '--name', 'dash']);
    assert.match(key.name, /^keys\/\d+$/);
    const asViewer = await runCli(['audiences', 'list', '--property', property], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: key.key,
    });
    assert.equal(asViewer.code, 0, asViewer.stderr);
    const list = await cli(['keys', 'list']);
    assert.match(
      list.stdout,
      new RegExp(`^${key.name}\\s+\\S+…\\s+dash\\s+${property}:viewer\\s+active$`, 'm'),
    );
    assert.ok(!list.stdout.includes(key.key));
    const revoked = await cli(['keys', 'revoke', key.name]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await runCli(['audiences', 'list', '--property', property], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: key.key,
    });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /UNAUTHENTICATED/);
  });

  test('audiences archive: then an export of it is refused', async () => {
    const r = await cli(['audiences', 'archive', audience]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Archived ${audience}.\n`);
    const e = await cli(['exports', 'create', '--audience', audience]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /^audex: [A-Z_]+: /);
  });
});

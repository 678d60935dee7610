// `audex serve --catalog-url postgres://…`: the embedded DuckDB event store with a PostgreSQL
// catalog, driven by the official clients (create an audience, export it, query the rows), the
// catalog surviving a restart; and the start-up errors a bad URL, an unreachable server, refused
// credentials or a role without shared stores give: one line and exit 1 (2 for the role).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { protos } from '@google-analytics/data';
import { ADMIN_KEY, api, removeDir, startServer, tempDataDir } from './helpers/server.ts';
import { createTestProperty, sendMp } from './helpers/property.ts';
import { adminClient, dataClient } from './helpers/clients.ts';
import { allEvents, expectedAttributes } from './helpers/exports.ts';
import { freePort, PG_PASSWORD, PG_USER, usePostgres } from './helpers/postgres-server.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { rfc3339ToMicros } from '../src/domain/time.ts';
import { E4 } from '../src/audience/fixtures/examples.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'audex.js');
const pg = usePostgres();

/** Runs `audex serve …` expecting it to fail at start; its exit code and stderr. */
async function failedStart(args: string[], env: Record<string, string> = {}) {
  const dataDir = tempDataDir('audex-pg-fail-');
  try {
    const proc = spawn(
      process.execPath,
      [BIN, 'serve', '--port', '0', '--grpc-port', '0', '--data', dataDir, ...args],
      {
        env: { ...process.env, AUDEX_ADMIN_KEY: ADMIN_KEY, AUDEX_CATALOG_URL: '', AUDEX_ROLE: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let stdout = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    clearTimeout(timer);
    return { code, stderr, stdout };
  } finally {
    removeDir(dataDir);
  }
}

function assertOneLine(stderr: string, pattern: RegExp) {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

describe('serve with a PostgreSQL catalog (DuckDB events)', () => {
  test('official clients: create an audience, export it to ACTIVE, query its rows; the catalog survives a restart', async () => {
    const url = await pg.server.createDatabase('audex_serve');
    const dataDir = tempDataDir();
    let server = await startServer({ dataDir, args: ['--catalog-url', url] });
    try {
      assert.doesNotMatch(server.output(), new RegExp(PG_PASSWORD), 'the password is never logged');
      const p = await createTestProperty(server);
      const base = BigInt(Date.now() - 3_600_000) * 1000n;
      for (let i = 0; i < 12; i++) {
        const r = await sendMp(server, p, {
          client_id: `${i}.1700000000`,
          ...(i % 2 === 0 ? { user_id: `user-${i}` } : {}),
          timestamp_micros: (base + BigInt(i) * 1000n).toString(),
          events: [
            i % 3 === 0
              ? { name: 'page_view', params: {} }
              : { name: 'purchase', params: { value: 10 + i, currency: 'EUR', transaction_id: `T${i}` } },
          ],
        });
        assert.equal(r.status, 204);
      }
      const admin = adminClient(server.port, ADMIN_KEY);
      const [audience] = await admin.createAudience({ parent: p.property, audience: E4 as never });
      assert.match(audience.name!, new RegExp(`^${p.property}/audiences/\\d+$`));

      const data = dataClient(server.port, ADMIN_KEY);
      const dims = ['deviceId', 'userId'];
      const [operation] = await data.createAudienceExport({
        parent: p.property,
        audienceExport: {
          audience: audience.name!,
          dimensions: dims.map((dimensionName) => ({ dimensionName })),
        },
      });
      const [done] = await operation.promise();
      assert.equal(done.state, protos.google.analytics.data.v1beta.AudienceExport.State.ACTIVE);

      // The rows are the reference evaluator's members of the audience as of the export.
      const events = await allEvents(server, p.property);
      const stored = (await api(server, 'GET', `/v1beta/${done.name}`)).json;
      const asOf = rfc3339ToMicros(stored.beginCreatingTime)!;
      const result = evaluateAudience(E4 as never, events, asOf, {
        createTimeMicros: rfc3339ToMicros(stored.beginCreatingTime)!,
        backfillDays: 30,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: [],
      });
      const attrs = expectedAttributes(events, asOf);
      const expected = membersAt(result, asOf).map((d) => dims.map((dim) => attrs.get(d)![dim]!));
      const [page] = await data.queryAudienceExport({ name: done.name!, limit: 1000 });
      assert.equal(Number(page.rowCount), expected.length);
      assert.deepEqual(
        page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)),
        expected,
      );

      // The catalog is in PostgreSQL: a restart finds the property, the audience and the export.
      assert.equal(await server.stop(), 0);
      server = await startServer({ dataDir, args: ['--catalog-url', url] });
      const [again] = await dataClient(server.port, ADMIN_KEY).getAudienceExport({ name: done.name! });
      assert.equal(again.state, 'ACTIVE');
      const [aud] = await adminClient(server.port, ADMIN_KEY).getAudience({ name: audience.name! });
      assert.equal(aud.displayName, audience.displayName);
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });
});

describe('start-up errors of --catalog-url and --role', () => {
  test('a URL that is not postgres:// is one line, exit 1', async () => {
    const r = await failedStart(['--catalog-url', 'mysql://u:secret@127.0.0.1/x']);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, /^audex: --catalog-url \/ AUDEX_CATALOG_URL: unsupported scheme "mysql"/);
    assert.doesNotMatch(r.stderr, /secret/);
    const r2 = await failedStart([], { AUDEX_CATALOG_URL: 'not a url' });
    assert.equal(r2.code, 1, r2.stderr);
    assertOneLine(r2.stderr, /^audex: --catalog-url \/ AUDEX_CATALOG_URL: not a URL/);
  });

  test('an unreachable server is one line, exit 1', async () => {
    const port = await freePort(); // nothing listens there
    const r = await failedStart([
      '--catalog-url',
      `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/audex`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(
      r.stderr,
      new RegExp(
        `^audex: PostgreSQL catalog postgres://${PG_USER}@127\\.0\\.0\\.1:${port}/audex: cannot reach the server \\(ECONNREFUSED\\)$`,
      ),
    );
    assert.doesNotMatch(r.stderr, new RegExp(PG_PASSWORD));
  });

  test('refused credentials are one line, exit 1', async () => {
    const r = await failedStart([
      '--catalog-url',
      `postgres://${PG_USER}:wrong-password@127.0.0.1:${pg.server.port}/audex_creds`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(
      r.stderr,
      /^audex: PostgreSQL catalog .*: the server refused the credentials of user "audex"/,
    );
    assert.doesNotMatch(r.stderr, /wrong-password/);
  });

  test('--role api|worker with the embedded DuckDB event store fails at start, naming --events-url and --catalog-url', async () => {
    const url = await pg.server.createDatabase('audex_role');
    for (const [args, env] of [
      [['--role', 'api'], {}],
      [['--role', 'worker', '--catalog-url', url], {}],
      [[], { AUDEX_ROLE: 'worker' }],
    ] as const) {
      const r = await failedStart([...args], env);
      assert.equal(r.code, 2, r.stderr);
      assertOneLine(
        r.stderr,
        /^audex: invalid configuration: --role (api|worker) needs .*--catalog-url.*--events-url/,
      );
    }
    const bad = await failedStart(['--role', 'everything']);
    assert.equal(bad.code, 2);
    assertOneLine(bad.stderr, /--role \/ AUDEX_ROLE/);
  });
});

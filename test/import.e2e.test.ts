// Bulk import through the CLI: NDJSON and Parquet rows in the GA4 BigQuery export shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ADMIN_KEY, removeDir, startServer, tempDataDir, type RunningServer } from './helpers/server.ts';
import { createTestProperty, storedEvents, type TestProperty } from './helpers/property.ts';
import { runCli } from './helpers/cli.ts';

function bqRow(i: number) {
  return {
    event_date: '20240601',
    event_timestamp: String(1717200000000000 + i * 1_000_000),
    event_name: i % 2 ? 'purchase' : 'page_view',
    event_params: [
      { key: 'ga_session_id', value: { int_value: String(1717200000 + (i % 3)) } },
      { key: 'page_location', value: { string_value: `https://shop.example/p/${i}` } },
      { key: 'value', value: { double_value: i + 0.5 } },
    ],
    user_pseudo_id: `imp.${i % 5}`,
    user_id: i % 5 === 0 ? 'user-0' : null,
    device: { category: 'mobile', language: 'en-us' },
    geo: { country: 'Germany' },
  };
}

describe('import', () => {
  let server: RunningServer;
  let p: TestProperty;
  const tmp = tempDataDir('audex-import-');
  const env = () => ({ AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY });
  before(async () => {
    server = await startServer();
    p = await createTestProperty(server);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(tmp);
  });

  test('NDJSON: invalid rows are reported with their line number while valid rows are stored', async () => {
    const lines = [
      JSON.stringify(bqRow(1)),
      '{broken json',
      JSON.stringify(bqRow(2)),
      JSON.stringify({ event_name: 'x' }),
      JSON.stringify(bqRow(3)),
    ];
    const file = join(tmp, 'rows.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const res = await runCli(['import', '--property', p.property, file, '--json'], env());
    assert.equal(res.code, 1, 'rejected rows make the command exit 1');
    const out = JSON.parse(res.stdout);
    assert.equal(out.importedRows, 3);
    assert.equal(out.rejectedRows, 2);
    assert.deepEqual(
      out.errors.map((e: { line: number }) => e.line),
      [2, 4],
    );
    const events = await storedEvents(server, p);
    assert.equal(events.length, 3);
    const e1 = events.find((e) => e.event_timestamp === String(1717200000000000 + 1_000_000));
    assert.equal(e1.event_name, 'purchase');
    assert.equal(e1.ga_session_id, String(1717200001));
    assert.deepEqual(e1.event_params.value, { double_value: 1.5 });
    assert.equal(e1.device_category, 'mobile');
  });

  test('Parquet: loaded by the engine', async () => {
    const ndjson = join(tmp, 'many.ndjson');
    writeFileSync(
      ndjson,
      Array.from({ length: 1000 }, (_, i) => JSON.stringify(bqRow(100 + i))).join('\n') + '\n',
    );
    const parquet = join(tmp, 'many.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    await con.run(
      `COPY (SELECT * FROM read_json('${ndjson}', format='newline_delimited')) TO '${parquet}' (FORMAT parquet)`,
    );
    con.closeSync();
    const res = await runCli(['import', '--property', p.property, parquet], env());
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.match(res.stdout, /Imported 1000 rows; rejected 0/);
    assert.match(res.stderr, /uploading .*100%/);
    const events = await storedEvents(server, p);
    assert.equal(events.length, 1003);
  });

  test('NDJSON and Parquet map alike: property time zone for a missing event_date, platform case, rejections', async () => {
    const ny = await createTestProperty(server, 'America/New_York');
    const rows = [
      { event_timestamp: '1717200000000000', event_name: 'e', user_pseudo_id: 'tz-1', platform: 'web' },
      { event_timestamp: '1717200000000000', event_name: 'e', user_pseudo_id: 'tz-2', platform: 'TV' },
    ];
    const ndjson = join(tmp, 'tz.ndjson');
    writeFileSync(ndjson, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const parquet = join(tmp, 'tz.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    await con.run(
      `COPY (SELECT * FROM read_json('${ndjson}', format='newline_delimited')) TO '${parquet}' (FORMAT parquet)`,
    );
    con.closeSync();
    for (const file of [ndjson, parquet]) {
      const res = await runCli(['import', '--property', ny.property, file, '--json'], env());
      const out = JSON.parse(res.stdout);
      assert.equal(out.importedRows, 1, file);
      assert.equal(out.rejectedRows, 1, file);
      assert.equal(out.errors[0].message, 'platform: expected WEB, ANDROID or IOS, got TV');
    }
    const events = await storedEvents(server, ny);
    assert.deepEqual(
      events.map((e) => [e.platform, e.event_date]),
      [
        ['WEB', '20240531'],
        ['WEB', '20240531'],
      ],
    );
  });

  test('a viewer cannot import; an unknown property is refused', async () => {
    const file = join(tmp, 'one.ndjson');
    writeFileSync(file, JSON.stringify(bqRow(1)) + '\n');
    const keyRes = await runCli(
      ['keys', 'create', '--property', p.property, '--role', 'viewer', '--json'],
      env(),
    );
    const viewer = JSON.parse(keyRes.stdout).key as string;
    const denied = await runCli(['import', '--property', p.property, file], { ...env(), AUDEX_KEY: viewer });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /PERMISSION_DENIED/);
    const missing = await runCli(['import', '--property', 'properties/99999', file], env());
    assert.match(missing.stderr, /NOT_FOUND/);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbEventStore } from './event-store.ts';
import { DuckDbDatabase, wrapDuckDbError } from './connection.ts';
import { quoteLiteral, quoteIdent } from './sql.ts';
import { baseEvent, realisticEvent } from '../../../test/helpers/event-fixtures.ts';
import { StorageError } from '../errors.ts';
import type { NewEvent, StoredEvent } from '../../domain/event.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'audex-duckdb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const HOSTILE = `it's "quoted" \\ back\\slash {brace} [x] \u0000nul\u0000 ünïcødé 🎉 ${'\n'}newline\t'); DROP TABLE events; --`;

function fullEvent(): NewEvent {
  return {
    property_id: 9_007_199_254_740_993n,
    stream_id: 'stream-"1"',
    platform: 'ANDROID',
    event_name: 'purchase',
    event_timestamp: 1_735_689_600_123_456n,
    event_date: '20250101',
    received_at: 1_735_689_601_000_000n,
    source: 'gtag',
    user_pseudo_id: HOSTILE,
    user_id: `user ${HOSTILE}`,
    ga_session_id: 9_223_372_036_854_775_807n,
    ga_session_number: 2_147_483_647,
    event_params: {
      big: { int_value: 9_007_199_254_740_993n },
      neg: { int_value: -9_223_372_036_854_775_808n },
      dbl: { double_value: 0.1 },
      tiny: { double_value: 5e-324 },
      huge: { double_value: 1.7976931348623157e308 },
      fifty: { double_value: 50 },
      [HOSTILE]: { string_value: HOSTILE },
      empty: { string_value: '' },
      '"i":5': { string_value: '"i":123456789012345678901' },
    },
    user_properties: {
      plan: { value: { string_value: 'pro' }, set_timestamp_micros: 1_735_689_000_000_000n },
      ltv: { value: { double_value: 12.5 }, set_timestamp_micros: 1n },
      visits: { value: { int_value: 12_345_678_901_234_567n }, set_timestamp_micros: 2n },
    },
    device_category: 'mobile',
    device_operating_system: 'Android',
    device_operating_system_version: '14',
    device_browser: 'Chrome',
    device_browser_version: '131.0',
    device_language: 'de-de',
    device_mobile_brand_name: 'Google',
    device_mobile_model_name: 'Pixel 8',
    device_is_limited_ad_tracking: false,
    geo_continent: 'Europe',
    geo_sub_continent: 'Western Europe',
    geo_country: 'Germany',
    geo_country_id: 'DE',
    geo_region: 'Berlin',
    geo_city: 'Berlin',
    traffic_source_source: 'google',
    traffic_source_medium: 'cpc',
    traffic_source_name: 'spring_sale',
    ecommerce_transaction_id: 'T-1',
    ecommerce_purchase_revenue: 123.45,
    ecommerce_refund_value: 0,
    items: [{ item_id: 'SKU1', item_name: HOSTILE, price: 19.99, quantity: 2 }],
    consent_ad_user_data: 'GRANTED',
    consent_ad_personalization: 'DENIED',
    non_personalized_ads: true,
  };
}

test('quoteLiteral and quoteIdent: DuckDB reads back exactly what was quoted', async (t) => {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  t.after(() => {
    con.closeSync();
    inst.closeSync();
  });
  for (const s of [
    "it's",
    "''",
    "\\'",
    'a\\nb',
    '$1',
    '?',
    '{x}',
    '"',
    'ünï🎉',
    '\n\r\t',
    "'); DROP TABLE t; --",
    '',
  ]) {
    const r = await con.runAndReadAll(`SELECT ${quoteLiteral(s)} AS v`);
    assert.equal(r.getRowObjectsJS()[0]?.v, s);
  }
  assert.throws(() => quoteLiteral('a\0b'), TypeError);
  assert.equal(quoteIdent('event_params'), '"event_params"');
  for (const bad of ['a"b', 'A', '1a', 'a b', '', 'a;b']) assert.throws(() => quoteIdent(bad), TypeError);
});

test('round-trip of every column, typed params, hostile strings', async (t) => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => store.close());
  const e = fullEvent();
  const minimal = baseEvent({ property_id: e.property_id, user_pseudo_id: 'a-minimal' });
  const seqs = await store.append([e, minimal]);
  assert.deepEqual(seqs, [1n, 2n]);
  const rows = await store.readEvents(e.property_id);
  // Ordered by user_pseudo_id (byte order): 'a-minimal' < "it's…"
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], { ...minimal, ingest_seq: 2n } satisfies StoredEvent);
  assert.deepEqual(rows[1], { ...e, ingest_seq: 1n } satisfies StoredEvent);
  assert.equal(await store.countEvents(e.property_id), 2);
  assert.equal(await store.countEvents(1n), 0);
  const one = await store.readEvents(e.property_id, { userPseudoId: HOSTILE });
  assert.equal(one.length, 1);
  assert.equal(one[0]?.user_pseudo_id, HOSTILE);
  assert.equal((await store.readEvents(e.property_id, { limit: 1 })).length, 1);
});

test('stored JSON params are readable with DuckDB json functions', async (t) => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => store.close());
  await store.append([fullEvent()]);
  const rows = await store.db
    .reader()
    .all(
      `SELECT event_params->'big'->>'i' AS big, CAST(event_params->'big'->'i' AS BIGINT) AS big_int, (event_params->'dbl'->>'d')::DOUBLE AS dbl, json_valid(items) AS items_ok FROM events`,
    );
  assert.deepEqual(rows[0], {
    big: '9007199254740993',
    big_int: 9_007_199_254_740_993n,
    dbl: 0.1,
    items_ok: true,
  });
});

test('ingest_seq is monotonic across reopen', async (t) => {
  const dataDir = tempDir(t);
  let store = await DuckDbEventStore.open({ dataDir });
  assert.deepEqual(await store.append([baseEvent(), baseEvent()]), [1n, 2n]);
  assert.deepEqual(await store.append([baseEvent()]), [3n]);
  await store.close();
  store = await DuckDbEventStore.open({ dataDir });
  t.after(() => store.close());
  assert.deepEqual(await store.append([baseEvent(), baseEvent()]), [4n, 5n]);
  assert.equal(await store.countEvents(1n), 5);
});

test('a failing batch stores nothing and the store keeps working', async (t) => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => store.close());
  const bad = baseEvent({ user_pseudo_id: null as unknown as string });
  await assert.rejects(store.append([baseEvent(), bad]), (err: unknown) => {
    assert.ok(err instanceof StorageError);
    assert.equal(err.kind, 'constraint');
    return true;
  });
  assert.equal(await store.countEvents(1n), 0);
  const [seq] = await store.append([baseEvent()]);
  assert.ok(seq !== undefined && seq > 0n);
  assert.equal(await store.countEvents(1n), 1);
});

test('a large batch (> appender auto-flush size) is one transaction', async (t) => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => store.close());
  const events = Array.from({ length: 250_001 }, (_, i) => realisticEvent(i));
  events[250_000] = baseEvent({ event_name: null as unknown as string });
  await assert.rejects(store.append(events), StorageError);
  assert.equal(await store.countEvents(1n), 0);
});

test('driver errors are wrapped with a backend-neutral kind', async (t) => {
  const db = await DuckDbDatabase.open({ dataDir: tempDir(t) });
  t.after(() => db.close());
  const cases: [string, string][] = [
    ['SELEC 1', 'syntax'],
    ['SELECT * FROM no_such_table', 'syntax'],
    [`SELECT * FROM read_parquet('/no/such/file.parquet')`, 'io'],
    [`SELECT 'x'::INTEGER`, 'other'],
  ];
  for (const [sql, kind] of cases) {
    await assert.rejects(db.reader().all(sql), (err: unknown) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.kind, kind, sql);
      assert.equal(err.sql, sql);
      assert.ok(err.cause instanceof Error);
      return true;
    });
  }
  assert.equal(wrapDuckDbError(new Error('Out of Memory Error: failed to allocate')).kind, 'memory_limit');
  assert.equal(wrapDuckDbError(new Error('Out of Memory Error: x')).isRetriable, true);
  assert.equal(wrapDuckDbError(new Error('Constraint Error: NOT NULL')).kind, 'constraint');
  await db.close();
  assert.throws(
    () => db.reader(),
    (err: unknown) => err instanceof StorageError && err.kind === 'unavailable',
  );
});

test('memory_limit and temp_directory are applied', async (t) => {
  const dataDir = tempDir(t);
  const db = await DuckDbDatabase.open({ dataDir, memoryLimit: '256MB', threads: 1 });
  t.after(() => db.close());
  const rows = await db
    .reader()
    .all(
      `SELECT current_setting('memory_limit') AS m, current_setting('threads') AS th, current_setting('temp_directory') AS tmp`,
    );
  assert.match(String(rows[0]?.m), /^2[0-9]{2}\.[0-9] MiB$/);
  assert.equal(Number(rows[0]?.th), 1);
  assert.equal(rows[0]?.tmp, join(dataDir, 'duckdb-tmp'));
});

// device-attributes.ts and export high-water marks rely on this: everything up to the highest
// committed ingest_seq is visible.
test('concurrent appends and imports commit in ingest_seq order: a committed prefix is never missing a row', async (t) => {
  const dir = tempDir(t);
  const files = await writeBigQueryRows(dir);
  const store = await DuckDbEventStore.open({ dataDir: join(dir, 'db') });
  t.after(() => store.close());
  const seen: [number, bigint][] = [];
  let running = true;
  const watcher = (async () => {
    while (running) {
      const r = await store.db
        .reader()
        .all('SELECT count(*) AS n, coalesce(max(ingest_seq), 0) AS m FROM events');
      seen.push([Number(r[0]!.n), BigInt(r[0]!.m as bigint)]);
    }
  })();
  const appends: Promise<bigint[]>[] = [];
  const imports: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) {
    appends.push(
      store.append(
        Array.from({ length: 1 + ((i * 37) % 400) }, () => baseEvent({ user_pseudo_id: `u${i}` })),
      ),
    );
    if (i === 13) imports.push(store.importFileReport(1n, files.ndjson, 'ndjson'));
  }
  const results = await Promise.all(appends);
  await Promise.all(imports);
  running = false;
  await watcher;
  // Seqs follow call order: each append after the previous one, the import between 13 and 14.
  for (let i = 1; i < results.length; i++) assert.ok(results[i]![0]! > results[i - 1]!.at(-1)!);
  const imported = (await store.readEvents(1n)).filter((e) => e.source === 'import').map((e) => e.ingest_seq);
  assert.ok(imported.length > 0);
  assert.ok(imported.every((s) => s > results[13]!.at(-1)! && s < results[14]![0]!));
  // Every observation was a complete prefix of what was finally stored.
  const stored = (await store.db.reader().all('SELECT ingest_seq AS s FROM events')).map((r) =>
    BigInt(r.s as bigint),
  );
  assert.ok(seen.length > 3, `only ${seen.length} observations`);
  for (const [n, m] of seen) assert.equal(n, stored.filter((s) => s <= m).length, `prefix up to ${m}`);
});

test('kill -9 right after acks: every acknowledged row is in the reopened database', async (t) => {
  const child = fileURLToPath(new URL('../../../test/helpers/durability-child.fixture.ts', import.meta.url));
  for (let round = 0; round < 3; round++) {
    const dataDir = tempDir(t);
    const acked: string[] = [];
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dataDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    let killed = false;
    const target = 1 + round * 40;
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.startsWith('acked ')) acked.push(l);
        if (!killed && acked.length >= target) {
          killed = true;
          proc.kill('SIGKILL');
        }
      });
      proc.on('exit', () => resolve());
    });
    assert.ok(killed, 'child exited before being killed');
    assert.ok(acked.length >= target);
    const store = await DuckDbEventStore.open({ dataDir });
    try {
      const stored = await store.db.reader().all('SELECT ingest_seq, user_pseudo_id FROM events');
      const bySeq = new Map(stored.map((r) => [r.ingest_seq as bigint, r.user_pseudo_id as string]));
      for (const line of acked) {
        const [, first, last, u1, u2] = line.split(' ');
        const a = BigInt(first as string);
        const b = BigInt(last as string);
        assert.equal(b - a, 24n);
        assert.equal(bySeq.get(a), u1, `acked seq ${a} missing after kill -9`);
        assert.equal(bySeq.get(b), u2, `acked seq ${b} missing after kill -9`);
        for (let s = a; s <= b; s++) assert.ok(bySeq.has(s), `acked seq ${s} missing`);
      }
      // And the store continues after the highest stored seq.
      const max = [...bySeq.keys()].reduce((m, s) => (s > m ? s : m), 0n);
      assert.deepEqual(await store.append([baseEvent()]), [max + 1n]);
    } finally {
      await store.close();
    }
  }
});

// ---- import ----

/** Writes BigQuery-shaped rows with DuckDB itself: 3 good rows and 3 to reject. */
async function writeBigQueryRows(dir: string): Promise<{ parquet: string; ndjson: string }> {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    await con.run(`CREATE TABLE bq AS SELECT * FROM (VALUES
      (0, '20250101', 1735689600000000, 'page_view', 'dev-1', NULL, 'WEB', '1234'),
      (1, '20250101', 1735689601000000, 'purchase',  'dev-1', 'user-1', 'web', '1234'),
      (2, NULL,       1735776000000000, 'login',     'dev-2', NULL, 'IOS', NULL),
      (3, '20250101', 1735689602000000, 'x',          NULL,   NULL, 'WEB', '1'),
      (4, '20250101', NULL,             'x',         'dev-3', NULL, 'WEB', '1'),
      (5, '20250101', 1735689603000000, '',          'dev-4', NULL, 'WEB', '1')
    ) v(n, event_date, event_timestamp, event_name, user_pseudo_id, user_id, platform, stream_id)`);
    const sql = `SELECT event_date, event_timestamp::BIGINT AS event_timestamp, event_name,
      CASE n WHEN 1 THEN [
        {'key': 'ga_session_id', 'value': {'string_value': NULL::VARCHAR, 'int_value': 1735689000::BIGINT, 'float_value': NULL::DOUBLE, 'double_value': NULL::DOUBLE}},
        {'key': 'ga_session_number', 'value': {'string_value': NULL, 'int_value': 3, 'float_value': NULL, 'double_value': NULL}},
        {'key': 'value', 'value': {'string_value': NULL, 'int_value': NULL, 'float_value': NULL, 'double_value': 19.5}},
        {'key': 'big', 'value': {'string_value': NULL, 'int_value': 9007199254740993, 'float_value': NULL, 'double_value': NULL}},
        {'key': 'weird ''"\\key', 'value': {'string_value': 'a "q" '' \\ ' || chr(0) || ' 🎉', 'int_value': NULL, 'float_value': NULL, 'double_value': NULL}},
        {'key': 'f', 'value': {'string_value': NULL, 'int_value': NULL, 'float_value': 2.0, 'double_value': NULL}},
        {'key': 'allnull', 'value': {'string_value': NULL, 'int_value': NULL, 'float_value': NULL, 'double_value': NULL}}
      ] ELSE [
        {'key': 'page_location', 'value': {'string_value': 'https://x.example/' || n, 'int_value': NULL, 'float_value': NULL, 'double_value': NULL}}
      ] END AS event_params,
      user_id, user_pseudo_id,
      CASE WHEN n = 1 THEN [{'key': 'plan', 'value': {'string_value': 'pro', 'int_value': NULL::BIGINT, 'float_value': NULL::DOUBLE, 'double_value': NULL::DOUBLE, 'set_timestamp_micros': 1735000000000000::BIGINT}},
                           {'key': 'visits', 'value': {'string_value': NULL, 'int_value': 7, 'float_value': NULL, 'double_value': NULL, 'set_timestamp_micros': NULL}}]
           ELSE [] END AS user_properties,
      {'category': 'desktop', 'mobile_brand_name': NULL::VARCHAR, 'mobile_model_name': NULL::VARCHAR, 'operating_system': 'Windows',
       'operating_system_version': 'Windows 10', 'language': 'en-us', 'is_limited_ad_tracking': 'No', 'browser': NULL::VARCHAR,
       'browser_version': NULL::VARCHAR, 'web_info': {'browser': 'Chrome', 'browser_version': '131.0', 'hostname': 'x.example'}} AS device,
      {'continent': 'Europe', 'sub_continent': 'Western Europe', 'country': 'Germany', 'region': 'Berlin', 'city': 'Berlin', 'metro': '(not set)'} AS geo,
      {'name': '(organic)', 'medium': 'organic', 'source': 'google'} AS traffic_source,
      stream_id, platform,
      CASE WHEN n = 1 THEN {'transaction_id': 'T1', 'purchase_revenue': 19.5::DOUBLE, 'refund_value': NULL::DOUBLE, 'total_item_quantity': 1::BIGINT} END AS ecommerce,
      CASE WHEN n = 1 THEN [{'item_id': 'SKU1', 'item_name': 'Shirt', 'price': 19.5::DOUBLE, 'quantity': 1::BIGINT}] ELSE [] END AS items,
      {'analytics_storage': 'Yes', 'ads_storage': CASE WHEN n = 1 THEN 'No' ELSE 'Yes' END, 'uses_transient_token': 'No'} AS privacy_info,
      1 AS extra_column
    FROM bq ORDER BY n`;
    const parquet = join(dir, 'export.parquet');
    const ndjson = join(dir, 'export.ndjson');
    await con.run(`COPY (${sql}) TO '${parquet.replaceAll("'", "''")}' (FORMAT parquet)`);
    await con.run(`COPY (${sql}) TO '${ndjson.replaceAll("'", "''")}' (FORMAT json)`);
    return { parquet, ndjson };
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

for (const format of ['parquet', 'ndjson'] as const) {
  test(`importFile (${format}): BigQuery shape mapped into events; bad rows reported`, async (t) => {
    const dir = tempDir(t);
    const files = await writeBigQueryRows(dir);
    const store = await DuckDbEventStore.open({ dataDir: join(dir, 'db'), nowMicros: () => 42n });
    t.after(() => store.close());
    await store.append([baseEvent({ property_id: 7n })]); // seq 1; import continues after it
    const report = await store.importFileReport(7n, files[format], format);
    assert.equal(report.stored, 3);
    assert.equal(report.rejected, 3);
    assert.deepEqual(report.examples, [
      { row: 3, reason: 'missing user_pseudo_id' },
      { row: 4, reason: 'missing or non-numeric event_timestamp' },
      { row: 5, reason: 'missing event_name' },
    ]);
    const rows = (await store.readEvents(7n)).filter((e) => e.source === 'import');
    assert.equal(rows.length, 3);
    const [pv, purchase, login] = rows as [StoredEvent, StoredEvent, StoredEvent];
    assert.deepEqual(
      rows.map((r) => r.ingest_seq),
      [2n, 3n, 4n],
    );
    assert.equal(pv.event_name, 'page_view');
    assert.equal(pv.platform, 'WEB');
    assert.equal(pv.stream_id, '1234');
    assert.equal(pv.received_at, 42n);
    assert.deepEqual(pv.event_params, { page_location: { string_value: 'https://x.example/0' } });
    assert.equal(pv.ga_session_id, null);
    // ads_storage "Yes" grants nothing explicitly (src/ingest/import/README.md: only "No" sets consent).
    assert.equal(pv.consent_ad_personalization, null);
    assert.deepEqual(pv.items, []);
    assert.equal(purchase.event_name, 'purchase');
    assert.equal(purchase.platform, 'WEB');
    assert.equal(purchase.user_id, 'user-1');
    assert.equal(purchase.ga_session_id, 1735689000n);
    assert.equal(purchase.ga_session_number, 3);
    assert.deepEqual(purchase.event_params, {
      value: { double_value: 19.5 },
      big: { int_value: 9007199254740993n },
      'weird \'"\\key': { string_value: 'a "q" \' \\ \u0000 🎉' },
      f: { double_value: 2 },
    });
    assert.deepEqual(purchase.user_properties, {
      plan: { value: { string_value: 'pro' }, set_timestamp_micros: 1735000000000000n },
      visits: { value: { int_value: 7n }, set_timestamp_micros: 1735689601000000n },
    });
    assert.equal(purchase.device_category, 'desktop');
    assert.equal(purchase.device_browser, 'Chrome');
    assert.equal(purchase.device_browser_version, '131.0');
    assert.equal(purchase.device_is_limited_ad_tracking, false);
    assert.equal(purchase.geo_country, 'Germany');
    assert.equal(purchase.geo_country_id, null);
    assert.equal(purchase.traffic_source_medium, 'organic');
    assert.equal(purchase.ecommerce_transaction_id, 'T1');
    assert.equal(purchase.ecommerce_purchase_revenue, 19.5);
    assert.equal(purchase.ecommerce_refund_value, null);
    assert.deepEqual(purchase.items, [{ item_id: 'SKU1', item_name: 'Shirt', price: 19.5, quantity: 1 }]);
    // ads_storage "No" denies both (the gtag rule, shared by both import paths).
    assert.equal(purchase.consent_ad_personalization, 'DENIED');
    assert.equal(purchase.consent_ad_user_data, 'DENIED');
    assert.equal(login.platform, 'IOS');
    assert.equal(login.stream_id, '');
    assert.equal(login.event_date, '20250102'); // derived from event_timestamp (UTC) when missing
    // Seqs continue after the import's reserved range.
    assert.deepEqual(await store.append([baseEvent({ property_id: 7n })]), [8n]);
  });
}

test('importFile (ndjson): BigQuery JSON export writes INT64 as strings', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'bq.ndjson');
  const line = {
    event_date: '20250101',
    event_timestamp: '1735689600000001',
    event_name: 'purchase',
    event_params: [
      { key: 'ga_session_id', value: { int_value: '1735689000' } },
      { key: 'big', value: { int_value: '9007199254740993' } },
      { key: 'value', value: { double_value: 19.99 } },
      { key: 'odd', value: { double_value: '2.5' } },
    ],
    user_pseudo_id: 'dev-1',
    user_properties: [{ key: 'n', value: { int_value: '5', set_timestamp_micros: '1735000000000000' } }],
    device: { is_limited_ad_tracking: true, category: 'mobile', unknown_field: 1 },
    ecommerce: { purchase_revenue: '19.99', transaction_id: 'T' },
    consent: { ad_personalization: 'denied', non_personalized_ads: true },
    something_else: { deep: [1, 2, 3] },
  };
  writeFileSync(path, JSON.stringify(line) + '\n');
  const store = await DuckDbEventStore.open({ dataDir: join(dir, 'db') });
  t.after(() => store.close());
  assert.equal(await store.importFile(2n, path, 'ndjson'), 1);
  const [e] = await store.readEvents(2n);
  assert.equal(e?.event_timestamp, 1735689600000001n);
  assert.equal(e?.ga_session_id, 1735689000n);
  assert.deepEqual(e?.event_params, {
    big: { int_value: 9007199254740993n },
    value: { double_value: 19.99 },
    odd: { double_value: 2.5 },
  });
  assert.deepEqual(e?.user_properties, {
    n: { value: { int_value: 5n }, set_timestamp_micros: 1735000000000000n },
  });
  assert.equal(e?.device_is_limited_ad_tracking, true);
  assert.equal(e?.ecommerce_purchase_revenue, 19.99);
  assert.equal(e?.consent_ad_personalization, 'DENIED');
  assert.equal(e?.non_personalized_ads, true);
});

test('importFile: a trimmed export (only the required columns) still loads', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'min.parquet');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  await con.run(
    `COPY (SELECT 'dev-' || i AS user_pseudo_id, 'e' AS event_name, 1735689600000000 + i AS event_timestamp FROM range(1000) r(i)) TO '${path}' (FORMAT parquet)`,
  );
  con.closeSync();
  inst.closeSync();
  const store = await DuckDbEventStore.open({ dataDir: join(dir, 'db') });
  t.after(() => store.close());
  assert.equal(await store.importFile(3n, path, 'parquet'), 1000);
  const [first] = await store.readEvents(3n, { limit: 1 });
  assert.equal(first?.event_date, '20250101');
  assert.deepEqual(first?.event_params, {});
});

test('importFile: hostile paths are bound or refused, never executed', async (t) => {
  const dir = tempDir(t);
  const store = await DuckDbEventStore.open({ dataDir: join(dir, 'db') });
  t.after(() => store.close());
  // A real file whose name is an SQL injection attempt loads fine (the path is a bound value).
  const evilDir = join(dir, `x'); DROP TABLE events; --`);
  mkdirSync(evilDir);
  const evil = join(evilDir, `a'b"c $1 \\.ndjson`);
  writeFileSync(evil, `{"user_pseudo_id":"d","event_name":"e","event_timestamp":1735689600000000}\n`);
  assert.equal(await store.importFile(1n, evil, 'ndjson'), 1);
  for (const bad of [
    join(dir, '*.parquet'),
    join(dir, 'a?.parquet'),
    join(dir, '[ab].parquet'),
    'https://example.com/x.parquet',
    's3://bucket/x.parquet',
    join(dir, 'missing.parquet'),
    dir,
    '',
    'a\0b',
  ]) {
    await assert.rejects(store.importFile(1n, bad, 'parquet'), (err: unknown) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.kind, 'io');
      return true;
    });
  }
  // Not a Parquet file: a clean error, nothing stored.
  await assert.rejects(store.importFile(1n, evil, 'parquet'), StorageError);
  assert.equal(await store.countEvents(1n), 1);
});

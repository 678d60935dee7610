// Parquet imports on every event engine: the same file gives the same stored events (every
// column but ingest_seq and received_at, which each engine assigns itself), in file order, and the
// same report (counts, first rejected rows and reasons) as the DuckDB backend. On ClickHouse the
// file is read by an in-process DuckDB through the same mapping and staged in JSONEachRow
// (src/storage/clickhouse/file-import.ts); this runs it against a real ClickHouse server.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ImportReport } from '../src/storage/contract.ts';
import type { StoredEvent } from '../src/domain/event.ts';
import { openStorage } from '../src/storage/index.ts';
import { forEachBackend } from './helpers/backends.ts';

const PROPERTY = 7n;
const ZONE = 'Asia/Kolkata';
let dir: string;
let file: string;
let reference: { report: ImportReport; events: StoredEvent[] };

const V = (s: string, i: string, d: string): string =>
  `{'string_value': ${s}, 'int_value': ${i}, 'float_value': NULL::DOUBLE, 'double_value': ${d}}`;

// Typed columns as BigQuery writes them, with hostile text (quotes, backslashes, control
// characters, emoji, SQL), NULLs at every level, repeated keys, 64-bit integers, doubles that
// print with exponents, a missing event_date (dated in the zone), and rows the mapping rejects
// (no user_pseudo_id, a bad platform, a ga_session_number out of range, a NULL entry).
const ROWS = `
SELECT
  CASE WHEN i % 7 = 3 THEN NULL ELSE strftime(make_timestamp(ts), '%Y%m%d') END AS event_date,
  ts AS event_timestamp,
  (['page_view', 'purchase', 'it''s "quoted" \\ 🎉', 'x; DROP TABLE events; --'])[1 + i % 4] AS event_name,
  CASE WHEN i % 11 = 5 THEN NULL ELSE [
    {'key': 'ga_session_id', 'value': ${V('NULL', '(1700000000 + i % 5)::BIGINT', 'NULL')}},
    {'key': 'ga_session_number', 'value': ${V('NULL', 'CASE WHEN i = 17 THEN 4294967296 ELSE 1 + i % 3 END::BIGINT', 'NULL')}},
    {'key': 'page_location', 'value': ${V("'https://shop.example/?q=' || chr(10) || '\"' || i", 'NULL', 'NULL')}},
    {'key': 'big', 'value': ${V('NULL', '9223372036854775807 - i', 'NULL')}},
    {'key': 'ratio', 'value': ${V('NULL', 'NULL', '(CASE i % 4 WHEN 0 THEN 1e21 WHEN 1 THEN 1e-7 WHEN 2 THEN 2.5 ELSE -0.1 END)::DOUBLE')}},
    {'key': 'empty', 'value': ${V('NULL', 'NULL', 'NULL')}},
    {'key': CASE WHEN i % 5 = 0 THEN 'page_location' ELSE 'k' || i END, 'value': ${V("'second ' || i", 'NULL', 'NULL')}}
  ] END AS event_params,
  CASE WHEN i % 3 = 0 THEN 'user ''' || i END AS user_id,
  CASE WHEN i = 13 THEN NULL ELSE 'device.' || (i % 9) END AS user_pseudo_id,
  CASE WHEN i % 2 = 0 THEN [{'key': 'plan', 'value': {'string_value': 'pro\\t', 'int_value': NULL::BIGINT, 'float_value': NULL::DOUBLE, 'double_value': NULL::DOUBLE, 'set_timestamp_micros': CASE WHEN i % 4 = 0 THEN NULL ELSE ts - 5 END}}] ELSE [] END AS user_properties,
  {'category': CASE WHEN i % 3 = 0 THEN 'mobile' END, 'operating_system': 'Windows', 'language': 'en-us',
   'is_limited_ad_tracking': (['No', 'Yes', NULL])[1 + i % 3], 'browser': 'Firefox', 'browser_version': NULL::VARCHAR,
   'web_info': CASE WHEN i % 2 = 0 THEN {'browser': 'Chrome', 'browser_version': '131.0'} END} AS device,
  {'continent': 'Europe', 'country': (['Germany', 'Côte d''Ivoire', NULL])[1 + i % 3], 'city': 'Berlin'} AS geo,
  {'name': '(organic)', 'medium': 'organic', 'source': 'google'} AS traffic_source,
  '1234567' AS stream_id,
  CASE WHEN i = 19 THEN 'TV' WHEN i % 2 = 0 THEN 'web' ELSE 'IOS' END AS platform,
  {'transaction_id': CASE WHEN i % 4 = 1 THEN 'T' || i END, 'purchase_revenue': CASE WHEN i % 4 = 1 THEN i / 3.0 END, 'refund_value': NULL::DOUBLE} AS ecommerce,
  CASE WHEN i % 4 = 1 THEN [
    {'item_id': 'SKU' || i, 'item_name': 'Shirt "XL"', 'price': 19.99::DOUBLE, 'quantity': 2::BIGINT,
     'item_params': [{'key': 'color', 'value': ${V("'red'", 'NULL', 'NULL')}}, {'key': 'n', 'value': ${V('NULL', '9007199254740993', 'NULL')}}]},
    CASE WHEN i % 8 = 1 THEN NULL ELSE {'item_id': NULL, 'item_name': 'Cap', 'price': 1e-7::DOUBLE, 'quantity': NULL::BIGINT, 'item_params': []} END
  ] WHEN i % 4 = 2 THEN [] END AS items,
  {'analytics_storage': 'Yes', 'ads_storage': CASE WHEN i % 5 = 0 THEN 'No' ELSE 'Yes' END, 'uses_transient_token': 'No'} AS privacy_info
FROM (SELECT i, (1735689600000000 + i * 1000003)::BIGINT AS ts FROM range(60) r(i))`;

function withoutEngineColumns(e: StoredEvent): Record<string, unknown> {
  const { ingest_seq: _seq, received_at: _received, ...rest } = e;
  return rest;
}

/** The property's events in ingest_seq order (file order for one import). */
async function storedEvents(events: {
  latestEvents(p: bigint, n: number): Promise<StoredEvent[]>;
}): Promise<StoredEvent[]> {
  const newestFirst = await events.latestEvents(PROPERTY, 10_000);
  return newestFirst.reverse();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audex-import-parquet-'));
  file = join(dir, 'export.parquet');
  const gen = await DuckDBInstance.create(':memory:');
  const con = await gen.connect();
  await con.run(`COPY (${ROWS}) TO '${file}' (FORMAT parquet)`);
  con.closeSync();
  gen.closeSync();
  // The DuckDB backend's result is the reference.
  const duck = await openStorage('duckdb', { dataDir: join(dir, 'reference') });
  try {
    const report = await duck.events.importFileReport!(PROPERTY, file, 'parquet', ZONE);
    reference = { report, events: await storedEvents(duck.events) };
  } finally {
    await duck.close();
  }
  assert.ok(reference.report.rejected >= 4, 'the file has rejected rows');
  assert.ok(reference.report.stored >= 40, 'the file has stored rows');
  assert.ok(
    reference.events.some((e) => e.items.length === 2),
    'stored rows with items',
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

forEachBackend((backend) => {
  test('a Parquet file stores the same events and reports the same rejections', async () => {
    const storage = await backend.open();
    try {
      const report = await storage.events.importFileReport!(PROPERTY, file, 'parquet', ZONE);
      assert.deepEqual(report, reference.report);
      const events = await storedEvents(storage.events);
      assert.deepEqual(events.map(withoutEngineColumns), reference.events.map(withoutEngineColumns));
      // One import: one received_at; ingest_seq increasing in file order.
      assert.equal(new Set(events.map((e) => e.received_at)).size, 1);
      for (let k = 1; k < events.length; k++) assert.ok(events[k]!.ingest_seq > events[k - 1]!.ingest_seq);
    } finally {
      await storage.close();
    }
  });

  test('an import with an importId is recorded once, with its result', async () => {
    const storage = await backend.open();
    try {
      const render = (r: ImportReport): string => JSON.stringify({ stored: r.stored, rejected: r.rejected });
      const report = await storage.events.importFileReport!(PROPERTY, file, 'parquet', ZONE, {
        importId: 'imp-1',
        render,
      });
      assert.equal(await storage.events.importResult(PROPERTY, 'imp-1'), render(report));
      assert.equal(await storage.events.importResult(PROPERTY, 'imp-2'), null);
    } finally {
      await storage.close();
    }
  });

  test('a file that is not Parquet fails the import and stores nothing', async () => {
    const storage = await backend.open();
    try {
      const bad = join(dir, `not-parquet-${backend.name}.parquet`);
      await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'PAR1 this is not a parquet file'));
      await assert.rejects(storage.events.importFileReport!(PROPERTY, bad, 'parquet', ZONE));
      assert.deepEqual(await storage.events.latestEvents(PROPERTY, 10), []);
    } finally {
      await storage.close();
    }
  });
});

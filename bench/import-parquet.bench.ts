// Bulk import speed of DuckDbEventStore.importFile from a BigQuery-export-shaped Parquet file.
// Run: npx tsx bench/import-parquet.bench.ts [rows=5000000]
// The file is generated with DuckDB (not timed); then importFile is timed, then the floor under
// any mapping: copying the stored rows into a new table.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';

const rows = Number(process.argv[2] ?? 5_000_000);
const dir = mkdtempSync(join(tmpdir(), 'audex-bench-import-'));
const file = join(dir, 'events.parquet');

const V = (s: string, i: string, d: string): string =>
  `{'string_value': ${s}, 'int_value': ${i}, 'float_value': NULL::DOUBLE, 'double_value': ${d}}`;

let t0 = performance.now();
const gen = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await gen.connect();
await con.run(`COPY (
  SELECT
    strftime(make_timestamp(ts), '%Y%m%d') AS event_date, ts AS event_timestamp, name AS event_name,
    [
      {'key': 'ga_session_id', 'value': ${V('NULL::VARCHAR', '(1735689600 + u % 977)::BIGINT', 'NULL::DOUBLE')}},
      {'key': 'ga_session_number', 'value': ${V('NULL', '(1 + i % 7)::BIGINT', 'NULL')}},
      {'key': 'page_location', 'value': ${V("'https://shop.example.com/products/item-' || (i % 1000) || '?ref=home'", 'NULL', 'NULL')}},
      {'key': 'page_title', 'value': ${V("'Product ' || (i % 1000) || ' | Example Shop'", 'NULL', 'NULL')}},
      {'key': 'engagement_time_msec', 'value': ${V('NULL', '(i % 10000)::BIGINT', 'NULL')}},
      {'key': 'session_engaged', 'value': ${V("'1'", 'NULL', 'NULL')}},
      {'key': 'value', 'value': ${V('NULL', 'NULL', "CASE WHEN name = 'purchase' THEN (i % 20000) / 100.0 END")}}
    ] AS event_params,
    CASE WHEN u % 4 = 0 THEN 'u' || u END AS user_id,
    u || '.' || (1700000000 + u % 977) AS user_pseudo_id,
    CASE WHEN u % 5 = 0 THEN [{'key': 'plan', 'value': {'string_value': 'pro', 'int_value': NULL::BIGINT, 'float_value': NULL::DOUBLE, 'double_value': NULL::DOUBLE, 'set_timestamp_micros': ts}}] ELSE [] END AS user_properties,
    {'category': CASE WHEN u % 3 = 0 THEN 'mobile' ELSE 'desktop' END, 'mobile_brand_name': NULL::VARCHAR, 'mobile_model_name': NULL::VARCHAR,
     'operating_system': 'Windows', 'operating_system_version': 'Windows 10', 'language': 'en-us', 'is_limited_ad_tracking': 'No',
     'browser': NULL::VARCHAR, 'browser_version': NULL::VARCHAR, 'web_info': {'browser': 'Chrome', 'browser_version': '131.0.0.0', 'hostname': 'shop.example.com'}} AS device,
    {'continent': 'Europe', 'sub_continent': 'Western Europe', 'country': (['Germany','France','Spain','Italy'])[1 + u % 4], 'region': 'Berlin', 'city': 'Berlin', 'metro': '(not set)'} AS geo,
    {'name': '(organic)', 'medium': 'organic', 'source': 'google'} AS traffic_source,
    '1234567' AS stream_id, 'WEB' AS platform,
    {'transaction_id': CASE WHEN name = 'purchase' THEN 'T' || i END, 'purchase_revenue': CASE WHEN name = 'purchase' THEN (i % 20000) / 100.0 END, 'refund_value': NULL::DOUBLE} AS ecommerce,
    CASE WHEN name = 'purchase' THEN [{'item_id': 'SKU' || (i % 50), 'item_name': 'Shirt', 'price': 19.99, 'quantity': 1}] ELSE [] END AS items,
    {'analytics_storage': 'Yes', 'ads_storage': CASE WHEN u % 10 = 0 THEN 'No' ELSE 'Yes' END, 'uses_transient_token': 'No'} AS privacy_info
  FROM (
    SELECT i, i % 500000 AS u, (1735689600000000 + i * 1000)::BIGINT AS ts,
      CASE WHEN i % 33 = 0 THEN 'purchase' ELSE (['page_view','user_engagement','scroll','view_item','add_to_cart'])[1 + i % 5] END AS name
    FROM range(${rows}) r(i)
  )
) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
con.closeSync();
gen.closeSync();
console.log(
  `generated ${rows.toLocaleString('en-US')} rows, ${(statSync(file).size / 1e6).toFixed(0)} MB, in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

const store = await DuckDbEventStore.open({ dataDir: join(dir, 'db') });
t0 = performance.now();
const report = await store.importFileReport(1n, file, 'parquet', 'UTC');
const secs = (performance.now() - t0) / 1000;
console.log(
  `importFile(parquet): stored=${report.stored} rejected=${report.rejected} in ${secs.toFixed(2)} s = ` +
    `${Math.round(report.stored / secs).toLocaleString('en-US')} rows/s`,
);
// The floor under any import mapping: writing the same rows, already mapped, into a table with
// the events columns (a plain copy of the events table just written, on the same database).
t0 = performance.now();
await store.db.writer.run(`CREATE TABLE events_copy AS SELECT * FROM events`);
const copySecs = (performance.now() - t0) / 1000;
console.log(
  `floor: copying the ${report.stored.toLocaleString('en-US')} stored rows into a new table: ${copySecs.toFixed(2)} s = ` +
    `${Math.round(report.stored / copySecs).toLocaleString('en-US')} rows/s`,
);
await store.close();
if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
else console.log(dir);

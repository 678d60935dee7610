// Bulk import speed of DuckDbEventStore.importFile from a BigQuery-export-shaped Parquet file.
// Run: npx tsx bench/import-parquet.bench.ts [rows=200000] [rounds=2]
// The file is generated with DuckDB (not timed). Then, per round, into fresh stores: the phases of
// an import (import-sql.ts's statements run one by one: describe, count, reading the file, the
// mapping without the write, INSERT … SELECT), importFileReport end to end, and the floor under
// any mapping: copying the stored rows into a new table. Each figure has wall time and the
// process's CPU time (DuckDB's threads included), which the shared machine's load disturbs less.
// AUDEX_BENCH_CLICKHOUSE=1 adds importFileReport on a private ClickHouse 18.16 server (file read
// by the in-process DuckDB, rows staged as JSONEachRow; the process CPU excludes the server's).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { openStorage } from '../src/storage/index.ts';
import { startClickHouse } from '../test/helpers/clickhouse-server.ts';
import { buildImportSql, describeSource } from '../src/storage/duckdb/import-sql.ts';

const rows = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 2);
const dir = mkdtempSync(join(tmpdir(), 'audex-bench-import-'));
const file = join(dir, 'events.parquet');

const V = (s: string, i: string, d: string): string =>
  `{'string_value': ${s}, 'int_value': ${i}, 'float_value': NULL::DOUBLE, 'double_value': ${d}}`;

const t0 = performance.now();
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

const rate = (n: number, ms: number): string =>
  `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} rows/s`;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** Runs f; returns its result, wall ms and CPU ms. */
const timed = async <T>(f: () => Promise<T>): Promise<[T, number, number]> => {
  const [t, c] = [performance.now(), cpuMs()];
  const r = await f();
  return [r, performance.now() - t, cpuMs() - c];
};
const fig = (n: number, ms: number, cpu: number): string =>
  `${ms.toFixed(0)} ms (${rate(n, ms)}; CPU ${cpu.toFixed(0)} ms)`;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(`load average before: ${load()}`);
for (let round = 1; round <= rounds; round++) {
  {
    const store = await DuckDbEventStore.open({ dataDir: join(dir, `db-${round}-phases`) });
    const [q, describeMs] = await timed(() =>
      store.db.writer.exclusive(async (con) => buildImportSql(await describeSource(con, file, 'parquet'))),
    );
    const [, countMs] = await timed(() => store.db.writer.all(q.countSql, [file]));
    const params = [file, 1n, 0n, 0n, 'UTC'];
    // Reading the file's columns without mapping, then the mapping without the write (every
    // stored column hashed, nothing kept), then the INSERT … SELECT.
    const [, readMs, readCpu] = await timed(() =>
      store.db.writer.all(`SELECT sum(hash(COLUMNS(*))) FROM read_parquet($1)`, [file]),
    );
    const [, mapMs, mapCpu] = await timed(() =>
      store.db.writer.all(`SELECT sum(hash(COLUMNS(*))) FROM (${q.selectSql})`, params),
    );
    const [stored, insertMs, insertCpu] = await timed(() => store.db.writer.run(q.insertSql, params));
    console.log(
      `round ${round} phases: describe ${describeMs.toFixed(0)} ms, count ${countMs.toFixed(0)} ms, ` +
        `read the file's columns ${fig(rows, readMs, readCpu)}, mapping without write ${fig(rows, mapMs, mapCpu)}, ` +
        `INSERT … SELECT ${fig(stored, insertMs, insertCpu)}`,
    );
    await store.close();
  }
  const store = await DuckDbEventStore.open({ dataDir: join(dir, `db-${round}-e2e`) });
  const [report, ms, cpu] = await timed(() => store.importFileReport(1n, file, 'parquet', 'UTC'));
  // The floor under any import mapping: writing the same rows, already mapped, into a table with
  // the events columns (a plain copy of the events table just written, on the same database).
  const [, copyMs, copyCpu] = await timed(() =>
    store.db.writer.run(`CREATE TABLE events_copy AS SELECT * FROM events`),
  );
  console.log(
    `round ${round} importFileReport(parquet): stored=${report.stored} rejected=${report.rejected} in ${fig(report.stored, ms, cpu)}; ` +
      `floor (copying the stored rows into a new table): ${fig(report.stored, copyMs, copyCpu)}`,
  );
  await store.close();
}
if (process.env.AUDEX_BENCH_CLICKHOUSE) {
  const ch = await startClickHouse();
  try {
    for (let round = 1; round <= rounds; round++) {
      const storage = await openStorage('clickhouse', {
        dataDir: join(dir, `ch-${round}`),
        eventsUrl: ch.eventsUrl(`bench_import_${round}`),
      });
      const [report, ms, cpu] = await timed(() =>
        storage.events.importFileReport!(1n, file, 'parquet', 'UTC'),
      );
      console.log(
        `round ${round} ClickHouse importFileReport(parquet): stored=${report.stored} rejected=${report.rejected} in ${fig(report.stored, ms, cpu)}`,
      );
      await storage.close();
    }
  } finally {
    await ch.stop();
  }
}
console.log(`load average after: ${load()}`);
if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
else console.log(dir);

// End-to-end bulk import as a user runs it: `importFile` (the code behind `audex import`) uploads a
// BigQuery-export-shaped file to a server started like a user starts it; timed from the first
// byte sent to the server's answer (every row stored). Both formats carry the same rows
// (bench/bigquery-rows.ts); the Parquet file is written from the NDJSON one by DuckDB, with
// BigQuery's column types.
// Usage: npx tsx bench/import-http.bench.ts [rows=500000] [runs=2]
// AUDEX_CPU_PROFILE_DIR=<dir> writes a CPU profile of the server's main thread there (as mp-ingest).
// AUDEX_BENCH_FORMATS=parquet (or ndjson) imports one format only: run after an NDJSON import, the
// Parquet figure also pays for the server's background work on the NDJSON rows (its device fold).
// Floors, measured in the same run and printed beside the figures: JSON.parse of the file's lines
// on this one thread (NDJSON), and copying the stored rows into a new table of the same shape in
// DuckDB (the write floor, Parquet); and the load average (uptime) before and after.
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { join } from 'node:path';
import { once } from 'node:events';
import { DuckDBInstance } from '@duckdb/node-api';
import { ADMIN_KEY, removeDir, startServer, tempDataDir } from '../test/helpers/server.ts';
import { createTestProperty } from '../test/helpers/property.ts';
import { AudexClient } from '../src/cli/client.ts';
import { importFile } from '../src/cli/import.ts';
import { row } from './bigquery-rows.ts';
import { cpuTicks } from './mp-requests.ts';

const rows = Number(process.argv[2] ?? 500_000);
const runs = Number(process.argv[3] ?? 2);
const FORMATS = (process.env.AUDEX_BENCH_FORMATS ?? 'ndjson,parquet').split(',');
const dir = tempDataDir('audex-bench-import-http-');
const ndjson = join(dir, 'events.ndjson');
const parquet = join(dir, 'events.parquet');

const out = createWriteStream(ndjson);
for (let i = 0; i < rows; i++) if (!out.write(row(i) + '\n')) await once(out, 'drain');
out.end();
await once(out, 'finish');
const gen = await DuckDBInstance.create(':memory:');
const con = await gen.connect();
// Typed like BigQuery's own Parquet export (INT64 columns as BIGINT): read_json alone would infer
// the JSON export's digit strings as VARCHAR (checked digit by digit) and the empty item_params as
// JSON (judged row by row): 4.7 s against 3.5 s typed for 200,000 rows in-process.
await con.run(
  `COPY (SELECT * REPLACE (
    event_timestamp::BIGINT AS event_timestamp,
    event_params::STRUCT("key" VARCHAR, "value" STRUCT(int_value BIGINT, string_value VARCHAR, double_value DOUBLE))[] AS event_params,
    user_properties::STRUCT("key" VARCHAR, "value" STRUCT(string_value VARCHAR, set_timestamp_micros BIGINT))[] AS user_properties,
    items::STRUCT(item_id VARCHAR, item_name VARCHAR, price DOUBLE, quantity BIGINT,
      item_params STRUCT("key" VARCHAR, "value" STRUCT(string_value VARCHAR, int_value BIGINT, double_value DOUBLE))[])[] AS items)
  FROM read_json('${ndjson}', format = 'newline_delimited')) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`,
);
con.closeSync();
gen.closeSync();
const mb = (f: string): string => (statSync(f).size / 1e6).toFixed(0);
console.log(`${rows.toLocaleString('en-US')} rows: NDJSON ${mb(ndjson)} MB, Parquet ${mb(parquet)} MB`);

console.log(execSync('uptime').toString().trim());
const lines = readFileSync(ndjson, 'utf8').split('\n');
for (let k = 0; k < 2; k++) {
  const t = performance.now();
  for (const l of lines) if (l.length > 0) JSON.parse(l);
  const s = (performance.now() - t) / 1000;
  console.log(
    `floor: JSON.parse of the ${rows.toLocaleString('en-US')} lines on one thread: ${Math.round(rows / s).toLocaleString('en-US')} rows/s`,
  );
}
lines.length = 0;

const profileDir = process.env.AUDEX_CPU_PROFILE_DIR;
const server = await startServer(
  profileDir ? { env: { NODE_OPTIONS: `--import ${join(import.meta.dirname, 'cpu-profile.mjs')}` } } : {},
);
try {
  for (let run = 1; run <= runs; run++) {
    for (const [format, file] of (
      [
        ['ndjson', ndjson],
        ['parquet', parquet],
      ] as const
    ).filter(([f]) => FORMATS.includes(f))) {
      const p = await createTestProperty(server);
      const client = new AudexClient(server.url, ADMIN_KEY);
      const cpu0 = cpuTicks(server.proc.pid!);
      const t0 = performance.now();
      const result = await importFile(client, p.property, file, format);
      const secs = (performance.now() - t0) / 1000;
      const cpu = (cpuTicks(server.proc.pid!) - cpu0) / 100;
      if (result.importedRows !== rows) throw new Error(`${format}: ${JSON.stringify(result).slice(0, 500)}`);
      console.log(
        `run ${run} ${format}: ${rows.toLocaleString('en-US')} rows in ${secs.toFixed(2)} s = ` +
          `${Math.round(rows / secs).toLocaleString('en-US')} rows/s; server CPU ${cpu.toFixed(1)} s, all threads ` +
          `(${((1e6 * cpu) / rows).toFixed(1)} µs per row; the fairer figure on a shared machine)`,
      );
    }
  }
} finally {
  await server.stop();
}
try {
  // The write floor: the last import's rows copied into a new table of the events table's shape.
  const store = await DuckDbEventStore.open({ dataDir: server.dataDir });
  for (let k = 0; k < 2; k++) {
    await store.db.writer.run('CREATE OR REPLACE TABLE bench_copy AS SELECT * FROM events LIMIT 0');
    const t = performance.now();
    const n = await store.db.writer.run(`INSERT INTO bench_copy SELECT * FROM events LIMIT ${rows}`);
    const s = (performance.now() - t) / 1000;
    console.log(
      `floor: copying ${n.toLocaleString('en-US')} stored rows into a new table: ${Math.round(n / s).toLocaleString('en-US')} rows/s`,
    );
  }
  await store.close();
  console.log(execSync('uptime').toString().trim());
} finally {
  removeDir(server.dataDir);
  removeDir(dir);
}

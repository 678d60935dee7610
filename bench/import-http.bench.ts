// End-to-end bulk import as a user runs it: `importFile` (the code behind `audex import`) uploads a
// BigQuery-export-shaped file to a server started like a user starts it; timed from the first
// byte sent to the server's answer (every row stored). Both formats carry the same rows
// (bench/bigquery-rows.ts); the Parquet file is written from the NDJSON one by DuckDB.
// Usage: npx tsx bench/import-http.bench.ts [rows=500000] [runs=2]
// AUDEX_CPU_PROFILE_DIR=<dir> writes a CPU profile of the server's main thread there (as mp-ingest).
import { createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { DuckDBInstance } from '@duckdb/node-api';
import { ADMIN_KEY, removeDir, startServer, tempDataDir } from '../test/helpers/server.ts';
import { createTestProperty } from '../test/helpers/property.ts';
import { AudexClient } from '../src/cli/client.ts';
import { importFile } from '../src/cli/import.ts';
import { row } from './bigquery-rows.ts';

const rows = Number(process.argv[2] ?? 500_000);
const runs = Number(process.argv[3] ?? 2);
const dir = tempDataDir('audex-bench-import-http-');
const ndjson = join(dir, 'events.ndjson');
const parquet = join(dir, 'events.parquet');

const out = createWriteStream(ndjson);
for (let i = 0; i < rows; i++) if (!out.write(row(i) + '\n')) await once(out, 'drain');
out.end();
await once(out, 'finish');
const gen = await DuckDBInstance.create(':memory:');
const con = await gen.connect();
await con.run(
  `COPY (SELECT * FROM read_json('${ndjson}', format = 'newline_delimited')) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`,
);
con.closeSync();
gen.closeSync();
const mb = (f: string): string => (statSync(f).size / 1e6).toFixed(0);
console.log(`${rows.toLocaleString('en-US')} rows: NDJSON ${mb(ndjson)} MB, Parquet ${mb(parquet)} MB`);

const profileDir = process.env.AUDEX_CPU_PROFILE_DIR;
const server = await startServer(
  profileDir ? { env: { NODE_OPTIONS: `--import ${join(import.meta.dirname, 'cpu-profile.mjs')}` } } : {},
);
try {
  for (let run = 1; run <= runs; run++) {
    for (const [format, file] of [
      ['ndjson', ndjson],
      ['parquet', parquet],
    ] as const) {
      const p = await createTestProperty(server);
      const client = new AudexClient(server.url, ADMIN_KEY);
      const t0 = performance.now();
      const result = await importFile(client, p.property, file, format);
      const secs = (performance.now() - t0) / 1000;
      if (result.importedRows !== rows) throw new Error(`${format}: ${JSON.stringify(result).slice(0, 500)}`);
      console.log(
        `run ${run} ${format}: ${rows.toLocaleString('en-US')} rows in ${secs.toFixed(2)} s = ` +
          `${Math.round(rows / secs).toLocaleString('en-US')} rows/s`,
      );
    }
  }
} finally {
  await server.stop();
  removeDir(server.dataDir);
  removeDir(dir);
}

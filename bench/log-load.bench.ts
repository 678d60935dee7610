// A design probe for the Measurement Protocol target (not audex's ingest path): what if an event
// were acknowledged once written to audex's own log file (one fdatasync per group commit) and the
// log were loaded into DuckDB in bulk by DuckDB's own threads (`read_json`), instead of the JS
// appender on the main thread? Prints the main thread's cost per row (encoding the stored row as
// one JSON line, writing and syncing the log), the bulk load's speed, and the same rows' load from
// CSV (DuckDB's fastest text reader) for comparison. Usage:
//   npx tsx bench/log-load.bench.ts [rows=200000] [segment=50000]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../src/storage/duckdb/connection.ts';
import { ensureSchema, EVENTS_TABLE } from '../src/storage/duckdb/schema.ts';
import { EVENT_COLUMNS, encodeParams, encodeUserProperties, type NewEvent } from '../src/domain/event.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';
import { quoteIdent, quoteLiteral } from '../src/storage/duckdb/sql.ts';

const rows = Number(process.argv[2] ?? 200_000);
const segment = Number(process.argv[3] ?? 50_000);
const dir = mkdtempSync(join(tmpdir(), 'audex-bench-log-'));
const db = await DuckDbDatabase.open({ dataDir: join(dir, 'db') });
await ensureSchema(db.writer);
const events = Array.from({ length: rows }, (_, i) => realisticEvent(i));

// BIGINTs as JSON numbers (exact for the values here; a real log would write them as digits).
function line(e: NewEvent, seq: number): string {
  const o: Record<string, unknown> = {};
  for (const [name] of EVENT_COLUMNS) {
    if (name === 'ingest_seq') o[name] = seq;
    else if (name === 'event_params') o[name] = encodeParams(e.event_params ?? {});
    else if (name === 'user_properties') o[name] = encodeUserProperties(e.user_properties ?? {});
    else if (name === 'items') o[name] = e.items?.length ? JSON.stringify(e.items) : '[]';
    else {
      const v = (e as unknown as Record<string, unknown>)[name];
      o[name] = typeof v === 'bigint' ? Number(v) : (v ?? null);
    }
  }
  return JSON.stringify(o);
}

const columns = `{${EVENT_COLUMNS.map(([n, t]) => `${quoteIdent(n)}: ${quoteLiteral(t === 'JSON' ? 'VARCHAR' : t)}`).join(', ')}}`;
let encodeMs = 0;
let writeMs = 0;
let loadMs = 0;
let seq = 1;
for (let start = 0; start < rows; start += segment) {
  let t = performance.now();
  let text = '';
  for (let i = start; i < Math.min(rows, start + segment); i++) text += line(events[i]!, seq++) + '\n';
  encodeMs += performance.now() - t;
  t = performance.now();
  const file = join(dir, `segment-${start}.ndjson`);
  const fd = openSync(file, 'w');
  writeSync(fd, text);
  fdatasyncSync(fd);
  closeSync(fd);
  writeMs += performance.now() - t;
  t = performance.now();
  await db.writer.run('BEGIN TRANSACTION');
  await db.writer.run(
    `INSERT INTO ${EVENTS_TABLE} SELECT * FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = ${columns})`,
  );
  await db.writer.run('COMMIT');
  loadMs += performance.now() - t;
}
const n = await db.writer.all(`SELECT count(*) AS n FROM ${EVENTS_TABLE}`);
const perRow = (ms: number): string => ((ms * 1000) / rows).toFixed(2);
console.log(`${String(n[0]!.n)} rows stored, segments of ${segment}`);
console.log(
  `main thread: encode ${perRow(encodeMs)} µs/row; log write + fdatasync ${perRow(writeMs)} µs/row; ` +
    `bulk load (DuckDB threads) ${perRow(loadMs)} µs/row = ${Math.round((rows / loadMs) * 1000).toLocaleString('en-US')} rows/s`,
);
// The same rows as CSV (written by DuckDB itself): DuckDB's fastest text reader, for comparison.
const csv = join(dir, 'rows.csv');
await db.writer.run(`COPY ${EVENTS_TABLE} TO ${quoteLiteral(csv)} (HEADER false)`);
await db.writer.run(`CREATE TABLE events_from_csv AS SELECT * FROM ${EVENTS_TABLE} LIMIT 0`);
const t = performance.now();
await db.writer.run(
  `INSERT INTO events_from_csv SELECT * FROM read_csv(${quoteLiteral(csv)}, header = false, columns = ${columns})`,
);
const csvMs = performance.now() - t;
console.log(
  `bulk load of the same rows from CSV: ${perRow(csvMs)} µs/row = ${Math.round((rows / csvMs) * 1000).toLocaleString('en-US')} rows/s`,
);
await db.close();
rmSync(dir, { recursive: true, force: true });

// Where the time of one append goes, per row: the appender calls (JS -> native, on the main
// thread), flushSync (DuckDB copies the chunk into the transaction, also on the main thread) and
// COMMIT (WAL write and fsync, on DuckDB's threads). The same steps as DuckDbEventStore.append,
// timed apart, with realistic 40-column events in batches of `batch` rows (the MP bench's mean
// batch is ~800). Usage: npx tsx bench/append-phases.bench.ts [rows=200000] [batch=800]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../src/storage/duckdb/connection.ts';
import { ensureSchema, EVENTS_TABLE } from '../src/storage/duckdb/schema.ts';
import { appendRow } from '../src/storage/duckdb/event-store.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';

const rows = Number(process.argv[2] ?? 200_000);
const batch = Number(process.argv[3] ?? 800);
const dir = mkdtempSync(join(tmpdir(), 'audex-bench-append-'));
const db = await DuckDbDatabase.open({ dataDir: dir });
await ensureSchema(db.writer);
const events = Array.from({ length: rows }, (_, i) => realisticEvent(i));

const spent = { begin: 0, appender: 0, flush: 0, commit: 0 };
let seq = 1n;
const t0 = performance.now();
await db.writer.exclusive(async (con) => {
  for (let start = 0; start < rows; start += batch) {
    let t = performance.now();
    await con.run('BEGIN TRANSACTION');
    const ap = await con.createAppender(EVENTS_TABLE);
    spent.begin += performance.now() - t;
    t = performance.now();
    for (let i = start; i < Math.min(rows, start + batch); i++) {
      appendRow(ap, events[i]!, seq++);
      ap.endRow();
    }
    spent.appender += performance.now() - t;
    t = performance.now();
    ap.flushSync();
    ap.closeSync();
    spent.flush += performance.now() - t;
    t = performance.now();
    await con.run('COMMIT');
    spent.commit += performance.now() - t;
  }
}, 'bench');
const total = performance.now() - t0;
const perRow = (ms: number): string => ((ms * 1000) / rows).toFixed(2);
console.log(
  `${rows.toLocaleString('en-US')} rows in batches of ${batch}: ${Math.round((rows / total) * 1000).toLocaleString('en-US')} rows/s`,
);
console.log(
  `µs per row: appender calls ${perRow(spent.appender)}, flushSync ${perRow(spent.flush)} (both on the main thread), ` +
    `COMMIT ${perRow(spent.commit)} (waits for the disk), BEGIN + createAppender ${perRow(spent.begin)}`,
);
await db.close();
rmSync(dir, { recursive: true, force: true });

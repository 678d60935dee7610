// What a DuckDB checkpoint does to acknowledgements: the one writer appends 800-row
// transactions (BEGIN, appender, COMMIT, as DuckDbEventStore.append) for `seconds`, with the
// automatic checkpoint at `threshold` of WAL; optionally (`manualMb` > 0) the automatic one is
// set out of reach and a CHECKPOINT runs on another connection, off the writer's path, whenever
// the WAL passes `manualMb` MiB. Prints every COMMIT slower than 200 ms (a stall: every request
// of that batch waits for it) and the checkpoints run.
// Usage: npx tsx bench/checkpoint-stalls.bench.ts [seconds=30] [threshold=256MB] [manualMb=0]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../src/storage/duckdb/connection.ts';
import { ensureSchema, EVENTS_TABLE } from '../src/storage/duckdb/schema.ts';
import { appendRow } from '../src/storage/duckdb/event-store.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';

const seconds = Number(process.argv[2] ?? 30);
const manualMb = Number(process.argv[4] ?? 0);
const threshold = manualMb > 0 ? '1TB' : (process.argv[3] ?? '256MB');
const dir = mkdtempSync(join(tmpdir(), 'audex-bench-checkpoint-'));
const db = await DuckDbDatabase.open({ dataDir: dir, checkpointThreshold: threshold });
await ensureSchema(db.writer);
const events = Array.from({ length: 800 }, (_, i) => realisticEvent(i));
let seq = 1n;
let commits = 0;
const stalls: number[] = [];
const checkpoints: string[] = [];
let checkpointing = false;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  const t = performance.now();
  await db.writer.exclusive(async (con) => {
    await con.run('BEGIN TRANSACTION');
    const ap = await con.createAppender(EVENTS_TABLE);
    for (const e of events) {
      appendRow(ap, e, seq++);
      ap.endRow();
    }
    ap.flushSync();
    ap.closeSync();
    await con.run('COMMIT');
  });
  const took = performance.now() - t;
  commits++;
  if (took > 200) stalls.push(Math.round(took));
  if (manualMb > 0 && !checkpointing) {
    let wal = 0;
    try {
      wal = statSync(`${db.path}.wal`).size;
    } catch {
      // no WAL yet
    }
    if (wal > manualMb * 2 ** 20) {
      checkpointing = true;
      const t0 = performance.now();
      db.maintenance
        .run('CHECKPOINT')
        .then(
          () => checkpoints.push(`${Math.round(performance.now() - t0)} ms`),
          (err: unknown) => checkpoints.push(`failed: ${String(err).slice(0, 100)}`),
        )
        .finally(() => (checkpointing = false));
    }
  }
}
console.log(
  `threshold ${threshold}${manualMb > 0 ? `, CHECKPOINT on another connection past ${manualMb} MiB of WAL` : ''}: ` +
    `${commits} commits (${(commits * 800).toLocaleString('en-US')} rows) in ${seconds} s`,
);
console.log(`COMMITs over 200 ms: ${stalls.length ? stalls.join(', ') + ' ms' : 'none'}`);
if (manualMb > 0) console.log(`background checkpoints: ${checkpoints.join(', ') || 'none'}`);
await db.close();
rmSync(dir, { recursive: true, force: true });

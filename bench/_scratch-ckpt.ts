import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../src/storage/duckdb/connection.ts';
import { ensureSchema, EVENTS_TABLE } from '../src/storage/duckdb/schema.ts';
import { appendRow } from '../src/storage/duckdb/event-store.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';

const seconds = Number(process.argv[2] ?? 20);
const threshold = process.argv[3] ?? '100GB';
const manualMb = Number(process.argv[4] ?? 0); // run CHECKPOINT on another connection when WAL > this
const dir = mkdtempSync(join(tmpdir(), 'audex-scratch-'));
const db = await DuckDbDatabase.open({ dataDir: dir, checkpointThreshold: threshold });
await ensureSchema(db.writer);
const events = Array.from({ length: 800 }, (_, i) => realisticEvent(i));
let seq = 1n;
let maxCommit = 0; let commits = 0; const slow: number[] = [];
let ckRunning = false; const cks: string[] = [];
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  const t = performance.now();
  await db.writer.exclusive(async (con) => {
    await con.run('BEGIN TRANSACTION');
    const ap = await con.createAppender(EVENTS_TABLE);
    for (const e of events) { appendRow(ap, e, seq++); ap.endRow(); }
    ap.flushSync(); ap.closeSync();
    await con.run('COMMIT');
  });
  const d = performance.now() - t; commits++;
  if (d > maxCommit) maxCommit = d;
  if (d > 200) slow.push(Math.round(d));
  if (manualMb > 0 && !ckRunning) {
    let wal = 0; try { wal = statSync(db.path + '.wal').size; } catch {}
    if (wal > manualMb * 2 ** 20) {
      ckRunning = true; const t0 = performance.now();
      db.maintenance.run('CHECKPOINT').then(() => cks.push(`ok ${Math.round(performance.now() - t0)}ms`), (e) => cks.push(`err ${String(e).slice(0, 120)}`)).finally(() => (ckRunning = false));
    }
  }
}
console.log({ threshold, manualMb, commits, rows: commits * 800, maxCommit: Math.round(maxCommit), slow: slow.slice(0, 20), cks: cks.slice(0, 10) });
await db.close(); rmSync(dir, { recursive: true, force: true });

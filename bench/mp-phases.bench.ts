// Where a Measurement Protocol event's time goes, phase by phase, without HTTP: the bench's own
// 25-event request bodies (bench/mp-requests.ts) through the route's steps, in group-commit
// batches of `batch` events (the MP bench's mean is ~800), into a real DuckDB store. Two paths:
//   main thread: JSON.parse + validation, toEvents, session context + sessionizer, appender
//     calls (appendRow, which also encodes the JSON columns), flushSync, COMMIT;
//   workers (AUDEX_COLLECT_WORKERS' path): the main thread's share only: hand-over to a worker
//     and back (wall time of the awaited encodes), session context + sessionizer on flat rows,
//     appender calls from flat rows, flushSync, COMMIT; and the worker's own work (parse,
//     validate, toEvents, flat encoding) measured on this thread for comparison.
// Prints µs per event. HTTP itself: bench/http-ceiling.bench.ts (49-67 µs of CPU per request).
// Usage: npx tsx bench/mp-phases.bench.ts [events=100000] [batch=800]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore, appendRow } from '../src/storage/duckdb/event-store.ts';
import { EVENTS_TABLE } from '../src/storage/duckdb/schema.ts';
import { FlatRowsReader, FlatRowsWriter, type FlatRows } from '../src/storage/duckdb/flat-rows.ts';
import { assignSessionsFlat } from '../src/storage/duckdb/flat-sessions.ts';
import { MpWorkers } from '../src/storage/duckdb/mp-workers.ts';
import { validateMeasurementBody } from '../src/ingest/mp/validate.ts';
import { toEvents } from '../src/ingest/mp/to-events.ts';
import { Sessionizer } from '../src/ingest/sessionizer.ts';
import { SessionContext } from '../src/ingest/session-context.ts';
import { nowMicros } from '../src/domain/time.ts';
import type { NewEvent } from '../src/domain/event.ts';
import { mpBodies } from './mp-requests.ts';

const total = Number(process.argv[2] ?? 100_000);
const batch = Number(process.argv[3] ?? 800);
const requests = Math.ceil(total / 25);
const body = mpBodies(4096);
const bodies = Array.from({ length: requests }, (_, i) => body(i));
const query = { measurement_id: 'G-BENCH', api_secret: 'x' };
const stream = { propertyId: 1n, streamId: '1', timeZone: 'Europe/Berlin' };

const dir = mkdtempSync(join(tmpdir(), 'audex-bench-mp-phases-'));
const store = await DuckDbEventStore.open({ dataDir: dir, collectWorkers: 0 });
const t = () => performance.now();

/** Appends batches through the writer the way appendParts does, timing its three steps. */
async function write(parts: (NewEvent[] | FlatRows)[], spent: Record<string, number>): Promise<void> {
  let seq = BigInt(Date.now()) * 1000n;
  await store.db.writer.exclusive(async (con) => {
    await con.run('BEGIN TRANSACTION');
    const ap = await con.createAppender(EVENTS_TABLE);
    let t0 = t();
    for (const p of parts) {
      if (Array.isArray(p))
        for (const e of p) {
          appendRow(ap, e, seq++);
          ap.endRow();
        }
      else {
        const r = new FlatRowsReader(p);
        for (let i = 0; i < p.rows; i++) r.appendNext(ap, i, seq++);
      }
    }
    spent['appender calls'] = (spent['appender calls'] ?? 0) + t() - t0;
    t0 = t();
    ap.flushSync();
    ap.closeSync();
    spent.flushSync = (spent.flushSync ?? 0) + t() - t0;
    t0 = t();
    await con.run('COMMIT');
    spent['COMMIT (waits)'] = (spent['COMMIT (waits)'] ?? 0) + t() - t0;
  });
}

async function mainThreadPath(): Promise<Record<string, number>> {
  const spent: Record<string, number> = {};
  const sessions = { ctx: new SessionContext(), sz: new Sessionizer() };
  const per = Math.max(1, Math.round(batch / 25));
  for (let r = 0; r < requests; r += per) {
    const parts: NewEvent[][] = [];
    for (const b of bodies.slice(r, r + per)) {
      let t0 = t();
      const now = nowMicros();
      const v = validateMeasurementBody(b, { query, debug: false, nowMicros: now });
      spent['parse + validate'] = (spent['parse + validate'] ?? 0) + t() - t0;
      t0 = t();
      const events = toEvents(v.events, { ...stream, nowMicros: now });
      for (const e of events) e.source = 'mp';
      spent.toEvents = (spent.toEvents ?? 0) + t() - t0;
      t0 = t();
      sessions.ctx.apply(events, true);
      sessions.sz.assign(events);
      spent['session context + sessionizer'] = (spent['session context + sessionizer'] ?? 0) + t() - t0;
      parts.push(events);
    }
    await write(parts, spent);
  }
  return spent;
}

async function workerPath(pool: MpWorkers): Promise<Record<string, number>> {
  const spent: Record<string, number> = {};
  const sessions = { sessionContext: new SessionContext(), sessionizer: new Sessionizer() };
  const per = Math.max(1, Math.round(batch / 25));
  for (let r = 0; r < requests; r += per) {
    let t0 = t();
    const now = nowMicros();
    const flats = await Promise.all(
      bodies
        .slice(r, r + per)
        .map((b) => pool.encode({ body: new Uint8Array(b), query, nowMicros: now, ...stream })),
    );
    spent['worker round trip (wall)'] = (spent['worker round trip (wall)'] ?? 0) + t() - t0;
    t0 = t();
    const parts = flats.map((f) => assignSessionsFlat(f!, { ...sessions, inherit: true }));
    spent['session context + sessionizer (flat)'] =
      (spent['session context + sessionizer (flat)'] ?? 0) + t() - t0;
    await write(parts, spent);
  }
  return spent;
}

/** The worker's own work per request, timed here on one thread. */
function workerShare(): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const b of bodies) {
    const t0 = t();
    const now = nowMicros();
    const v = validateMeasurementBody(b, { query, debug: false, nowMicros: now });
    const events = toEvents(v.events, { ...stream, nowMicros: now });
    const w = new FlatRowsWriter(events.length);
    for (const e of events) w.push(e);
    w.finish();
    spent['worker: parse + validate + toEvents + flat encoding'] =
      (spent['worker: parse + validate + toEvents + flat encoding'] ?? 0) + t() - t0;
  }
  return spent;
}

const print = (title: string, spent: Record<string, number>) => {
  const n = requests * 25;
  const main = Object.entries(spent)
    .filter(([k]) => !k.startsWith('COMMIT') && !k.startsWith('worker'))
    .reduce((a, [, v]) => a + v, 0);
  console.log(`${title} (${n.toLocaleString('en-US')} events, batches of ~${batch}):`);
  for (const [k, v] of Object.entries(spent))
    console.log(`  ${k.padEnd(52)} ${((v * 1000) / n).toFixed(2)} µs/event`);
  console.log(
    `  ${'main thread, all but COMMIT and worker time'.padEnd(52)} ${((main * 1000) / n).toFixed(2)} µs/event`,
  );
};

const pool = new MpWorkers({ size: 1 });
await pool.encode({ body: new Uint8Array(bodies[0]!), query, nowMicros: nowMicros(), ...stream }); // warm-up
// Alternating, twice each: the machine is shared.
for (let round = 0; round < 2; round++) {
  print(`main-thread path, round ${round + 1}`, await mainThreadPath());
  print(`worker path (1 worker), round ${round + 1}`, await workerPath(pool));
}
print('worker share on one thread', workerShare());
await pool.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

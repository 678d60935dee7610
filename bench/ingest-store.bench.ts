// Append throughput of DuckDbEventStore behind IngestBuffer (group commit), with ack latency.
// Run: npx tsx bench/ingest-store.bench.ts [totalEvents=1000000] [producers=8] [batch=25] [lingerMs=0]
import { mkdtempSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IngestBuffer } from '../src/ingest/buffer.ts';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const producers = Number(process.argv[3] ?? 8);
const batch = Number(process.argv[4] ?? 25);
const lingerMs = Number(process.argv[5] ?? 0);

const dataDir = mkdtempSync(join(tmpdir(), 'audex-bench-ingest-'));
const pool = Array.from({ length: 200_000 }, (_, i) => realisticEvent(i));
const store = await DuckDbEventStore.open({ dataDir });
const buffer = new IngestBuffer(store, { lingerMs });
const latencies: number[] = [];
let next = 0;

async function producer(): Promise<void> {
  for (;;) {
    const start = next;
    if (start >= total) return;
    next += batch;
    const events = [];
    for (let i = start; i < Math.min(start + batch, total); i++) events.push(pool[i % pool.length]!);
    const t0 = performance.now();
    await buffer.submit(events);
    latencies.push(performance.now() - t0);
  }
}

const cpu0 = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
const t0 = performance.now();
await Promise.all(Array.from({ length: producers }, producer));
await buffer.drain();
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const elu = performance.eventLoopUtilization(elu0);
latencies.sort((a, b) => a - b);
const pct = (p: number): string =>
  (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(1);
const stored = await store.countEvents(1n);
console.log(
  `events=${total} stored=${stored} producers=${producers} batch=${batch} linger=${lingerMs}ms: ` +
    `${Math.round(total / secs).toLocaleString('en-US')} events/s in ${secs.toFixed(2)} s; ` +
    `appends=${buffer.stats.appends} (avg ${(buffer.stats.events / buffer.stats.appends).toFixed(0)} events/append); ` +
    `ack latency p50=${pct(0.5)} ms p99=${pct(0.99)} ms max=${pct(1)} ms`,
);
// Main-thread busy time (event-loop utilization) per event is what limits collection: the
// appender runs on the main thread; DuckDB's commit (WAL write + fsync) runs on its own threads.
console.log(
  `main thread busy ${((elu.active / total) * 1000).toFixed(2)} us/event (utilization ${(elu.utilization * 100).toFixed(0)}%); ` +
    `process cpu ${((cpu.user + cpu.system) / total).toFixed(2)} us/event (all threads)`,
);
await store.close();
rmSync(dataDir, { recursive: true, force: true });

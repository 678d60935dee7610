// The same audiences over the same events on DuckDB, ClickHouse (one node) and ClickHouse (two
// shards on this machine): load rate through EventStore.append, then per audience the time of
// SnapshotStore.materialize (what an export does between create and ACTIVE) and its row count,
// which must agree across the three engines. Prints a table and the load average. Run by hand:
//   npx tsx bench/clickhouse-vs-duckdb.bench.ts                  (1M events, 100k devices)
//   AUDEX_BENCH_EVENTS=10000000 npx tsx bench/clickhouse-vs-duckdb.bench.ts
// ClickHouse is Debian's 18.16, started privately (test/helpers/clickhouse-server.ts); both
// shards share this machine's cores, so the two-shard figures show the overhead, not a scale-out.

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudienceDefinition } from '../src/domain/audience.ts';
import type { NewEvent } from '../src/domain/event.ts';
import { BUILTIN_AUDIENCES, parseAudience } from '../src/audience/validate.ts';
import { E1, E2, E4, E10, E12 } from '../src/audience/fixtures/examples.ts';
import { openStorage, type OpenedStorage } from '../src/storage/index.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';
import { startClickHouse, type ClickHouseServer } from '../test/helpers/clickhouse-server.ts';

const EVENTS = Number(process.env.AUDEX_BENCH_EVENTS ?? 1_000_000);
const BATCH = 50_000;
const NAMES = [
  'page_view',
  'scroll',
  'view_item',
  'add_to_cart',
  'purchase',
  'user_engagement',
  'page_view',
  'click',
];

/** realisticEvent with event names mixed per device (its own cycle gives each device one name). */
function event(i: number): NewEvent {
  const e = realisticEvent(i, 1n);
  return { ...e, event_name: NAMES[(i * 7 + Math.floor(i / 100_000)) % NAMES.length]! };
}

const AUDIENCES: [string, AudienceDefinition][] = [
  ['All Users', BUILTIN_AUDIENCES[0]!.definition],
  ['E1 purchasers', parseAudience(E1)],
  ['E4 cart, never purchased', parseAudience(E4)],
  ['E10 country at latest event', parseAudience(E10)],
  // One statement on ClickHouse 18.16 since the typed-param and per-user-array spellings.
  ['E2 page path param', parseAudience(E2)],
  ['E12 lifetime revenue > 100', parseAudience(E12)],
];

function fmt(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
}

async function main(): Promise<void> {
  const servers: ClickHouseServer[] = [];
  const dirs: string[] = [];
  const engines: { name: string; storage: OpenedStorage }[] = [];
  const open = async (name: string, backend: 'duckdb' | 'clickhouse', eventsUrl?: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'audex-bench-ch-'));
    dirs.push(dataDir);
    engines.push({
      name,
      storage: await openStorage(backend, { dataDir, eventsUrl, threads: 2, memoryLimit: '4GB' }),
    });
  };
  try {
    const [one, two] = await Promise.all([startClickHouse({ shards: 1 }), startClickHouse({ shards: 2 })]);
    servers.push(one, two);
    await open('DuckDB', 'duckdb');
    await open('ClickHouse 1 node', 'clickhouse', one.eventsUrl('bench'));
    await open('ClickHouse 2 shards', 'clickhouse', two.eventsUrl('bench'));
    console.log(
      `${EVENTS.toLocaleString('en')} events, ${Math.min(EVENTS, 100_000).toLocaleString('en')} devices`,
    );
    const load = new Map<string, number>();
    let last = 0n;
    for (let from = 0; from < EVENTS; from += BATCH) {
      const batch: NewEvent[] = [];
      for (let i = from; i < Math.min(EVENTS, from + BATCH); i++) batch.push(event(i));
      last = batch[batch.length - 1]!.event_timestamp;
      for (const { name, storage } of engines) {
        const t = performance.now();
        await storage.events.append(batch);
        load.set(name, (load.get(name) ?? 0) + performance.now() - t);
      }
    }
    const asOf = last + 1n;
    const config = {
      createTimeMicros: asOf,
      backfillDays: 30,
      timeZone: 'UTC',
      ignoreEventNamesForAdjacency: [],
    };
    const rows: string[][] = [];
    rows.push([
      'load (append, 50k per call)',
      ...engines.map((e) => `${Math.round(EVENTS / (load.get(e.name)! / 1000)).toLocaleString('en')} ev/s`),
    ]);
    for (const [label, audience] of AUDIENCES) {
      const cells: string[] = [];
      const counts: number[] = [];
      for (const { storage } of engines) {
        const req = {
          propertyId: 1n,
          audience,
          config,
          asOfMicros: asOf,
          maxIngestSeq: await storage.snapshots.highWaterMark(),
        };
        const t = performance.now();
        const n = await storage.snapshots.materialize(`bench_${counts.length}`, req);
        cells.push(`${fmt(performance.now() - t)} (${n.toLocaleString('en')} rows)`);
        counts.push(n);
        await storage.snapshots.drop(`bench_${counts.length - 1}`);
      }
      if (new Set(counts).size !== 1) throw new Error(`${label}: row counts differ ${counts.join(' / ')}`);
      rows.push([`materialize ${label}`, ...cells]);
    }
    const header = ['', ...engines.map((e) => e.name)];
    const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => r[c]!.length)));
    for (const r of [header, ...rows]) console.log(r.map((v, c) => v.padEnd(widths[c]!)).join(' | '));
    console.log(
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    for (const { storage } of engines) await storage.close();
    for (const s of servers) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();

// The same audiences over the same generated events on DuckDB, ClickHouse (one node) and ClickHouse
// (two shards): per audience, create -> ACTIVE (SnapshotStore.materialize: what an export job does
// between create and ACTIVE: members, their attributes, the snapshot table) and `:query` rows/s
// (every page of the snapshot read as the export service reads it: pre-rendered JSON pages where
// the engine has them, else rows rendered to AudienceRow JSON), and the peak RSS (VmHWM) of every
// process: the audex process (one child process per engine, so the figures do not mix) and each
// clickhouse-server, during the load and, separately (peaks reset after the load through
// /proc/PID/clear_refs), during the audiences. Member counts must agree across the three engines.
// On two shards, per audience on the SQL plan, the members statement alone is also timed through
// the Distributed table and shard-locally (best of two each), to compare the two mechanisms.
//
//   npx tsx bench/scale-out-audiences.bench.ts [events]        (default 1,000,000; devices = events/10)
//   AUDEX_BENCH_DEVICES=500000 npx tsx bench/scale-out-audiences.bench.ts 10000000
//   AUDEX_BENCH_ENGINES=ch1,ch2 …      (a subset of duckdb,ch1,ch2)
//
// Events: `realisticEvent` rows, about 10 per device (event()), over 90 days; membership as of the
// end of the 90 days, with no backfill limit. ClickHouse is Debian's 18.16 started privately
// (test/helpers/clickhouse-server.ts); on one machine both shards share its cores.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AudienceDefinition } from '../src/domain/audience.ts';
import type { NewEvent } from '../src/domain/event.ts';
import { BUILTIN_AUDIENCES, parseAudience } from '../src/audience/validate.ts';
import { E5, E10 } from '../src/audience/fixtures/examples.ts';
import { openStorage } from '../src/storage/index.ts';
import type { MemberRow } from '../src/storage/contract.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';
import { startClickHouse, type ClickHouseServer } from '../test/helpers/clickhouse-server.ts';

const EVENTS = Number(process.argv[2] ?? process.env.AUDEX_BENCH_EVENTS ?? 1_000_000);
const DEVICES = Number(process.env.AUDEX_BENCH_DEVICES ?? Math.max(1, Math.floor(EVENTS / 10)));
const BATCH = 50_000;
const PAGE = 100_000;
const DAY = 86_400_000_000n;
const T0 = 1_735_689_600_000_000n;
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
const DIMENSIONS = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'] as const;

/** MurmurHash3's finalizer: well-mixed bits for consecutive integers. */
function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Event i: device i mod devices, its nth event; each device is active for a few days (one event
 * every 12 hours, from a start spread over the first 85 days), in sessions of 3 events, with names
 * drawn by a hash of i (page_view 1 in 4, purchase 1 in 8).
 */
function event(i: number): NewEvent {
  const e = realisticEvent(i, 1n);
  const device = i % DEVICES;
  const nth = Math.floor(i / DEVICES);
  const ts = T0 + (BigInt(device) * 85n * DAY) / BigInt(DEVICES) + BigInt(nth) * (DAY / 2n);
  return {
    ...e,
    event_name: NAMES[mix32(i) >>> 29]!,
    user_pseudo_id: `${device}.${1_700_000_000 + device}`,
    event_timestamp: ts,
    received_at: ts + 50_000n,
    ga_session_id: BigInt(1_735_689_600 + Math.floor(nth / 3)),
  };
}

const or = (leaf: unknown) => ({
  andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] },
});
const countIn = (eventName: string, moreThan: number, days: number) => ({
  eventFilter: {
    eventName,
    eventParameterFilterExpression: {
      andGroup: {
        filterExpressions: [
          {
            dimensionOrMetricFilter: {
              fieldName: 'eventCount',
              numericFilter: { operation: 'GREATER_THAN', value: { int64Value: String(moreThan) } },
              atAnyPointInTime: true,
              inAnyNDayPeriod: days,
            },
          },
        ],
      },
    },
  },
});
const simple = (displayName: string, leaf: unknown) => ({
  displayName,
  description: 'bench',
  membershipDurationDays: 30,
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      simpleFilter: { scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS', filterExpression: or(leaf) },
    },
  ],
});
const step = (eventName: string) => ({
  scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
  filterExpression: or({ eventFilter: { eventName } }),
});

const AUDIENCES: [string, AudienceDefinition][] = [
  ['All Users', BUILTIN_AUDIENCES[0]!.definition],
  ['E5 cart, excluded while purchasing in the session (temporary)', parseAudience(E5)],
  ['E10 country at the latest event (dynamic)', parseAudience(E10)],
  ['page_view count > 3 in any 7 days', parseAudience(simple('nday', countIn('page_view', 3, 7)))],
  [
    'sequence view_item then purchase within 7 days',
    parseAudience({
      displayName: 'seq',
      description: 'bench',
      membershipDurationDays: 30,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          sequenceFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            sequenceMaximumDuration: '604800s',
            sequenceSteps: [step('view_item'), step('purchase')],
          },
        },
      ],
    }),
  ],
  ['3+ purchases in 30 days', parseAudience(simple('3+', countIn('purchase', 2, 30)))],
];

/** VmHWM (peak RSS) of a process in MiB. */
function peakMiB(pid: number | 'self'): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** Resets a process's VmHWM to its current RSS (ours or our children only). */
function resetPeak(pid: number | 'self'): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

interface AudienceResult {
  label: string;
  rows: number;
  createMs: number;
  queryRowsPerSec: number;
  /** On a cluster, the members statement alone, best of two: [through the Distributed table, shard-local]. */
  membersMs?: [number, number];
}
interface EngineResult {
  engine: string;
  loadEventsPerSec: number;
  audiences: AudienceResult[];
  /** [process, peak MiB during the load, peak MiB during the audiences] */
  peaks: [string, number, number][];
}

/** One engine in this (child) process: load, then every audience. */
async function child(
  engine: string,
  eventsUrl: string | undefined,
  serverPids: number[],
): Promise<EngineResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'audex-bench-scale-'));
  const storage = await openStorage(eventsUrl ? 'clickhouse' : 'duckdb', {
    dataDir,
    eventsUrl,
    threads: 2,
    memoryLimit: '4GB',
  });
  try {
    let loadMs = 0;
    for (let from = 0; from < EVENTS; from += BATCH) {
      const batch: NewEvent[] = [];
      for (let i = from; i < Math.min(EVENTS, from + BATCH); i++) batch.push(event(i));
      const t = performance.now();
      await storage.events.append(batch);
      loadMs += performance.now() - t;
    }
    const pids: [string, number | 'self'][] = [
      ['audex', 'self'],
      ...serverPids.map((p, n): [string, number] => [`clickhouse-server ${n + 1}`, p]),
    ];
    const loadPeaks = pids.map(([, p]) => peakMiB(p));
    // The audiences' peaks start from what is live after the load, not from its garbage.
    (globalThis as { gc?: () => void }).gc?.();
    for (const [, p] of pids) resetPeak(p);
    const asOf = T0 + 90n * DAY + 1n;
    const config = {
      createTimeMicros: asOf,
      backfillDays: null,
      timeZone: 'UTC',
      ignoreEventNamesForAdjacency: [],
    };
    const audiences: AudienceResult[] = [];
    for (const [k, [label, audience]] of AUDIENCES.entries()) {
      const id = `bench_${k}`;
      const req = {
        propertyId: 1n,
        audience,
        config,
        asOfMicros: asOf,
        maxIngestSeq: await storage.snapshots.highWaterMark(),
      };
      const t0 = performance.now();
      const rows = await storage.snapshots.materialize(id, req);
      const createMs = performance.now() - t0;
      const t1 = performance.now();
      let bytes = 0;
      for (let offset = 0; offset < rows; offset += PAGE) {
        if (storage.snapshots.readRowsJson) {
          const page = await storage.snapshots.readRowsJson(id, offset, PAGE, [...DIMENSIONS], {
            waitForRender: true,
          });
          bytes += page.data.length;
          page.release();
        } else {
          const page = await storage.snapshots.read(id, offset, PAGE);
          bytes += JSON.stringify(page.map(audienceRow)).length;
        }
      }
      const readMs = performance.now() - t1;
      // The mechanism, compared in one sitting: the same members statement read through the
      // Distributed table on the first node (executor.firstColumn) and shard-locally (findMembers).
      const query = serverPids.length > 1 ? (storage.audiences.membersQuery?.(req) ?? null) : null;
      let membersMs: [number, number] | undefined;
      if (query) {
        membersMs = [Infinity, Infinity];
        for (let r = 0; r < 2; r++) {
          const t = performance.now();
          const viaDistributed = await storage.executor.firstColumn({ sql: query.sql, parameters: [] });
          membersMs[0] = Math.min(membersMs[0], performance.now() - t);
          const u = performance.now();
          const local = await storage.audiences.findMembers(req);
          membersMs[1] = Math.min(membersMs[1], performance.now() - u);
          if (viaDistributed.length !== local.length)
            throw new Error(`${label}: Distributed and shard-local differ`);
        }
      }
      audiences.push({
        label,
        rows,
        createMs,
        queryRowsPerSec: rows === 0 || bytes === 0 ? 0 : rows / (readMs / 1000),
        ...(membersMs ? { membersMs } : {}),
      });
      await storage.snapshots.drop(id);
      console.error(
        `${engine}: ${label}: ${rows} rows, create ${createMs.toFixed(0)} ms, read ${readMs.toFixed(0)} ms`,
      );
    }
    const peaks = pids.map(([name, p], n): [string, number, number] => [name, loadPeaks[n]!, peakMiB(p)]);
    return { engine, loadEventsPerSec: EVENTS / (loadMs / 1000), audiences, peaks };
  } finally {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function audienceRow(m: MemberRow): unknown {
  return {
    dimensionValues: [
      m.deviceId,
      m.userId ?? '(not set)',
      m.isAdsPersonalizationAllowed,
      m.isLimitedAdTracking,
    ].map((value) => ({ value })),
  };
}

function runChild(engine: string, eventsUrl: string | undefined, pids: number[]): Promise<EngineResult> {
  return new Promise((resolve, reject) => {
    const args = [
      ...process.execArgv,
      '--expose-gc',
      fileURLToPath(import.meta.url),
      String(EVENTS),
      '--child',
      engine,
      eventsUrl ?? '-',
      pids.join(','),
    ];
    const p = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AUDEX_BENCH_DEVICES: String(DEVICES) },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`${engine} child exited with ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as EngineResult);
    });
  });
}

const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const fmtN = (n: number) => Math.round(n).toLocaleString('en');
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const servers: ClickHouseServer[] = [];
  try {
    const engines = (process.env.AUDEX_BENCH_ENGINES ?? 'duckdb,ch1,ch2').split(',');
    const [one, two] = await Promise.all([
      engines.includes('ch1') ? startClickHouse({ shards: 1 }) : null,
      engines.includes('ch2') ? startClickHouse({ shards: 2 }) : null,
    ]);
    for (const s of [one, two]) if (s) servers.push(s);
    console.log(
      `${fmtN(EVENTS)} events, ${fmtN(DEVICES)} devices over 90 days; load average before: ${load()}`,
    );
    const started = performance.now();
    const results: EngineResult[] = [];
    if (engines.includes('duckdb')) results.push(await runChild('DuckDB', undefined, []));
    if (one)
      results.push(
        await runChild(
          'ClickHouse 1 node',
          one.eventsUrl('bench'),
          one.nodes.map((n) => n.pid),
        ),
      );
    if (two)
      results.push(
        await runChild(
          'ClickHouse 2 shards',
          two.eventsUrl('bench'),
          two.nodes.map((n) => n.pid),
        ),
      );
    const rows: string[][] = [
      ['load (append, 50k per call)', ...results.map((r) => `${fmtN(r.loadEventsPerSec)} ev/s`)],
    ];
    for (const [k, [label]] of AUDIENCES.entries()) {
      const counts = results.map((r) => r.audiences[k]!.rows);
      if (new Set(counts).size !== 1) throw new Error(`${label}: member counts differ ${counts.join(' / ')}`);
      rows.push([
        `${label} (${fmtN(counts[0]!)} members): create -> ACTIVE`,
        ...results.map((r) => fmtMs(r.audiences[k]!.createMs)),
      ]);
      rows.push([
        `  :query rows/s`,
        ...results.map((r) => (counts[0] === 0 ? '-' : fmtN(r.audiences[k]!.queryRowsPerSec))),
      ]);
      if (results.some((r) => r.audiences[k]!.membersMs))
        rows.push([
          `  members statement: via Distributed / shard-local`,
          ...results.map((r) => {
            const m = r.audiences[k]!.membersMs;
            return m ? `${fmtMs(m[0])} / ${fmtMs(m[1])}` : '-';
          }),
        ]);
    }
    const names = [...new Set(results.flatMap((r) => r.peaks.map(([n]) => n)))];
    for (const name of names) {
      const cell = (r: EngineResult, i: 1 | 2) => {
        const p = r.peaks.find(([n]) => n === name);
        return p ? `${fmtN(p[i])} MiB` : '-';
      };
      rows.push([`peak RSS ${name}, load`, ...results.map((r) => cell(r, 1))]);
      rows.push([`peak RSS ${name}, audiences`, ...results.map((r) => cell(r, 2))]);
    }
    const header = ['', ...results.map((r) => r.engine)];
    console.log(`| ${header.join(' | ')} |`);
    console.log(`| ${header.map(() => '---').join(' | ')} |`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(`load average after: ${load()}; total ${fmtMs(performance.now() - started)}`);
  } finally {
    for (const s of servers) await s.stop();
  }
}

if (process.argv[3] === '--child') {
  const [, , , , engine, url, pids] = process.argv;
  const result = await child(
    engine!,
    url === '-' ? undefined : url,
    pids ? pids.split(',').filter(Boolean).map(Number) : [],
  );
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
} else {
  await main();
}

// Measurement Protocol ingest over loopback: concurrent clients POST 25-event requests to
// /mp/collect on a server started like a user starts it; every 204 is a durable acknowledgement.
// Prints events/s, request latency percentiles, the longest stall (the longest time between two
// acknowledgements, and the slowest request), the CPU used by the server and by the load
// generator (this process: autocannon shares the machine's cores with the server), and then the
// write floor measured right after in the same run: the bench's own events appended by the
// DuckDB appender on one thread (AUDEX_BENCH_FLOOR=0 skips it). Usage:
//   npx tsx bench/mp-ingest.bench.ts [seconds=15] [connections=64] [clients=4096]
// AUDEX_BENCH_LONG=1 runs 100 s (the stall run) unless seconds are given.
// AUDEX_COLLECT_WORKERS=0 measures the main-thread path (no collection workers) for comparison.
// Bodies are built before the run (bench/mp-requests.ts; 4,096 client ids by default), so the
// load generator only copies buffers; more clients (e.g. 1000000) exercise the sessionizer's LRU
// of 100,000 users, at one string replace per request in the load generator.
// AUDEX_BENCH_TRIGGER=1 first creates spec example E12 (an audience with an eventTrigger, on the
// hybrid plan), so the trigger logger evaluates the users with new events every 5 s during the run.
// AUDEX_BENCH_TRIGGER=sql creates a SQL-plan trigger audience instead, "Purchasers" (E1): none of the
// bench's users purchases, the usual case of a trigger audience with few members among the active
// users. AUDEX_BENCH_TRIGGER=sql-members: a SQL-plan one that every active user belongs to (added
// to cart), the worst case of the trigger pass's gate (docs/audiences.md §2.7).
// AUDEX_CPU_PROFILE_DIR=<dir> writes a CPU profile of the server's main thread there (bench/cpu-profile.mjs; summarize with bench/profile-summary.mjs).
import { join } from 'node:path';
import { api, removeDir, startServer } from '../test/helpers/server.ts';
import { E1, E12 } from '../src/audience/fixtures/examples.ts';
import { createTestProperty } from '../test/helpers/property.ts';
import { POOL, appenderFloor, postLoad } from './mp-requests.ts';
import { execSync } from 'node:child_process';

const seconds = Number(process.argv[2] ?? (process.env.AUDEX_BENCH_LONG === '1' ? 100 : 15));
const connections = Number(process.argv[3] ?? 64);
const clients = Number(process.argv[4] ?? POOL);

const profileDir = process.env.AUDEX_CPU_PROFILE_DIR;
const server = await startServer(
  profileDir ? { env: { NODE_OPTIONS: `--import ${join(import.meta.dirname, 'cpu-profile.mjs')}` } } : {},
);
const p = await createTestProperty(server);
const joined = { eventName: 'audience_joined_bench', logCondition: 'AUDIENCE_JOINED' };
const cartUsers = {
  ...E1,
  displayName: 'Cart users',
  eventTrigger: joined,
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      simpleFilter: {
        scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
        filterExpression: {
          andGroup: {
            filterExpressions: [
              { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'add_to_cart' } }] } },
            ],
          },
        },
      },
    },
  ],
};
const triggerAudience = { '1': E12, sql: { ...E1, eventTrigger: joined }, 'sql-members': cartUsers }[
  process.env.AUDEX_BENCH_TRIGGER ?? ''
];
if (triggerAudience) {
  const r = await api(server, 'POST', `/v1alpha/${p.property}/audiences`, triggerAudience);
  if (r.status !== 200) throw new Error(`trigger audience: ${JSON.stringify(r.json)}`);
}

const loadBefore = execSync('uptime').toString().trim();
const { result, wall, serverCpu, selfCpu, longestGap } = await postLoad(
  `${server.url}/mp/collect?measurement_id=${p.measurementId}&api_secret=${p.secret}`,
  server.proc.pid!,
  connections,
  seconds,
  clients,
);

const stored = await fetch(`${server.url}/audex/v1/metrics`, {
  headers: { authorization: 'Bearer test-admin-key-0123456789abcdef' },
}).then((r) => r.json());
await server.stop();
removeDir(server.dataDir);
const loadAfter = execSync('uptime').toString().trim();

const ok = result['2xx'];
if (triggerAudience) console.log(`audience triggers: ${JSON.stringify(stored.audienceTriggers)}`);
console.log(
  `connections=${connections} clients=${clients} duration=${seconds}s requests=${result.requests.total} 2xx=${ok} non2xx=${result.non2xx} errors=${result.errors}`,
);
console.log(
  `events acknowledged: ${ok * 25} (${Math.round((ok * 25) / seconds)} events/s; stored per server: ${stored.collect.eventsStored})`,
);
console.log(
  `latency ms: p50=${result.latency.p50} p90=${result.latency.p90} p99=${result.latency.p99} max=${result.latency.max}`,
);
console.log(
  `longest stall: ${Math.round(longestGap)} ms without any acknowledgement; slowest request ${result.latency.max} ms`,
);
console.log(
  `ingest appends: ${stored.ingest.appends} (mean batch ${Math.round(stored.ingest.events / Math.max(1, stored.ingest.appends))} events)`,
);
console.log(
  `cpu over ${wall.toFixed(1)} s wall: server ${serverCpu.toFixed(1)} s (${((100 * serverCpu) / wall).toFixed(0)}%, all threads), ` +
    `load generator ${selfCpu.toFixed(1)} s (${((100 * selfCpu) / wall).toFixed(0)}%)`,
);
console.log(`collection workers: ${process.env.AUDEX_COLLECT_WORKERS ?? 'default'}`);
console.log(`uptime before: ${loadBefore}`);
console.log(`uptime after:  ${loadAfter}`);
if (process.env.AUDEX_BENCH_FLOOR !== '0') {
  const floor = await appenderFloor(200_000, 800);
  console.log(
    `floor, same run: appender on one thread ${Math.round(floor)} rows/s (800-row transactions); ` +
      `collection reached ${(((ok * 25) / seconds / floor) * 100).toFixed(0)} % of it`,
  );
  console.log(`uptime after the floor: ${execSync('uptime').toString().trim()}`);
}

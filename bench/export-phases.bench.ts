// Where an export job's snapshot time goes, phase by phase, next to its floor measured in the same
// run. Generates N events over D devices (test/helpers/generated-events.ts), folds the device attributes (as a
// running server has), then for each audience, RUNS times:
//   floor members      a hand-written DuckDB query materialising the same ordered member list
//   floor snapshot     the same members joined by hand to the folded attributes, written as a table
//   compiled members   the compiler's members query alone, materialised
//   materialize        DuckDbSnapshotStore.materialize (the job's snapshot), with its phase timings
//                      (All Users: read from the device summary; "compiled path" beside it is the
//                      same snapshot from the compiled members query, as before the summary)
//   render rows        the JSON rows file the first :query page reads (rendered-rows.ts)
// The catalog writes and the client's polling are in the server bench (bench/exports.bench.ts
// prints the job log's phases). Member counts are checked against the hand-written query.
// Usage: npx tsx bench/export-phases.bench.ts [events=2000000] [devices=200000] [runs=3]
// AUDEX_BENCH_ONLY=<label part> runs one audience. AUDEX_BENCH_JOIN_KEYS=1 also times the
// attribute join alone (floor members LEFT JOIN the folded attributes, into a temp table, ORDER BY
// rn) on the VARCHAR device id, and on a precomputed 64-bit hash of it (an integer key: with and
// without the VARCHAR check a real join would need against collisions), issue 17's "integer keys".
// AUDEX_BENCH_DATA=<dir> keeps the generated data folder there and reuses it in later runs (to
// compare two commits on the same data). DuckDB runs with the server's default memory_limit, 4GB
// (AUDEX_BENCH_MEMORY_LIMIT to change it).
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDataDir } from '../test/helpers/server.ts';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import { DuckDbSnapshotStore } from '../src/storage/duckdb/snapshots.ts';
import { DeviceAttributeIndex } from '../src/storage/duckdb/device-attributes.ts';
import { E1, E8 } from '../src/audience/fixtures/examples.ts';
import { BUILTIN_AUDIENCES, parseAudience } from '../src/audience/validate.ts';
import type { MembershipRequest } from '../src/storage/contract.ts';
import { generateEvents } from '../test/helpers/generated-events.ts';

const EVENTS = Number(process.argv[2] ?? 2_000_000);
const DEVICES = Number(process.argv[3] ?? 200_000);
const RUNS = Number(process.argv[4] ?? 3);
// Fixed, so a kept data folder (AUDEX_BENCH_DATA) gives the same members every run.
const NOW = 1_764_000_000_000_000n;
const CUTOFF = NOW - 30n * 86_400_000_000n;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const uptime = () => execSync('uptime').toString().trim();

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [Math.round(performance.now() - t), r];
}

async function main(): Promise<void> {
  console.log(`${uptime()}`);
  const kept = process.env.AUDEX_BENCH_DATA;
  const dataDir = kept ?? tempDataDir('audex-bench-export-phases-');
  if (!kept || !existsSync(join(kept, 'events.duckdb'))) {
    const [ms] = await timed(() => generateEvents(dataDir, EVENTS, DEVICES, NOW));
    console.log(`generated ${fmt(EVENTS)} events over ${fmt(DEVICES)} devices: ${ms} ms`);
  } else console.log(`reusing ${kept} (${EVENTS} events over ${DEVICES} devices, as generated)`);
  // DuckDB's memory_limit as the server sets it by default (config.ts), so these figures and
  // the server's job log compare; AUDEX_BENCH_MEMORY_LIMIT overrides it.
  const memoryLimit = process.env.AUDEX_BENCH_MEMORY_LIMIT ?? '4GB';
  const store = await DuckDbEventStore.open({ dataDir, memoryLimit });
  console.log(`DuckDB memory_limit ${memoryLimit}`);
  const engine = new DuckDbAudienceEngine(store.db);
  const fold = new DeviceAttributeIndex(store.db);
  // As the server wires it: the fold is the device summary All Users is read from.
  const snaps = new DuckDbSnapshotStore(store.db, engine, fold);
  const compiledSnaps = new DuckDbSnapshotStore(store.db, engine);
  const [ms] = await timed(() => fold.catchUp());
  console.log(`device-attribute fold: ${ms} ms`);

  const e8 = structuredClone(E8) as any;
  const leaves =
    e8.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup
      .filterExpressions[0].eventFilter.eventParameterFilterExpression.andGroup;
  leaves.filterExpressions = leaves.filterExpressions.slice(0, 1); // eventCount > 2
  const window = `property_id = 1 AND event_name = 'purchase' AND event_timestamp > ${CUTOFF} AND event_timestamp <= ${NOW}`;
  const allUsersWindow = `property_id = 1 AND event_timestamp > ${NOW - 540n * 86_400_000_000n} AND event_timestamp <= ${NOW} AND event_timestamp >= ${NOW - 30n * 86_400_000_000n} AND source <> 'audience_trigger'`;
  const only = process.env.AUDEX_BENCH_ONLY;
  const audiences = [
    {
      label: 'All Users (built-in)',
      def: BUILTIN_AUDIENCES.find((b) => b.key === 'all_users')!.definition,
      floor: `SELECT DISTINCT user_pseudo_id FROM events WHERE ${allUsersWindow} ORDER BY 1`,
    },
    {
      label: 'Purchasers (E1)',
      def: parseAudience(E1),
      floor: `SELECT DISTINCT user_pseudo_id FROM events WHERE ${window} ORDER BY 1`,
    },
    {
      label: 'Frequent purchasers (3+ purchases in 30 days)',
      def: parseAudience({ ...e8, displayName: 'Frequent purchasers', membershipDurationDays: 30 }),
      floor: `SELECT user_pseudo_id FROM events WHERE ${window} GROUP BY 1 HAVING count(*) > 2 ORDER BY 1`,
    },
  ].filter((a) => !only || a.label.includes(only));
  const dims = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'] as const;
  let sid = 0;
  for (const a of audiences) {
    const req: MembershipRequest = {
      propertyId: 1n,
      audience: a.def,
      config: { createTimeMicros: NOW, backfillDays: 30, timeZone: 'UTC', ignoreEventNamesForAdjacency: [] },
      asOfMicros: NOW,
    };
    const compiled = engine.membersQuery(req);
    if (!compiled) throw new Error(`${a.label}: not on the SQL plan`);
    for (let run = 1; run <= RUNS; run++) {
      const w = store.db.writer;
      const [floorMs] = await timed(() =>
        w.run(`CREATE OR REPLACE TEMP TABLE bench_floor AS
SELECT (row_number() OVER () - 1)::BIGINT AS rn, device_id FROM (${a.floor}) m(device_id)`),
      );
      // A table in the database file, like the snapshot (a TEMP table never reaches the disk).
      const [floorSnapMs] = await timed(() =>
        w.run(`CREATE OR REPLACE TABLE bench_floor_snap AS
SELECT m.rn, m.device_id, a.user_id,
  CASE WHEN a.consent = 'DENIED' OR a.npa THEN 'false' WHEN a.consent IS NOT NULL OR a.npa IS NOT NULL THEN 'true' ELSE '(not set)' END AS ads_personalization,
  CASE WHEN a.lat IS NULL THEN '(not set)' WHEN a.lat THEN 'true' ELSE 'false' END AS limited_ad_tracking
FROM (SELECT (row_number() OVER () - 1)::BIGINT AS rn, device_id FROM (${a.floor}) m(device_id)) m
LEFT JOIN (SELECT * FROM device_attributes WHERE property_id = 1) a USING (device_id) ORDER BY m.rn`),
      );
      if (process.env.AUDEX_BENCH_JOIN_KEYS) {
        await w.run(
          `CREATE OR REPLACE TEMP TABLE bench_mh AS SELECT rn, device_id, hash(device_id) AS h FROM bench_floor`,
        );
        await w.run(
          `CREATE OR REPLACE TEMP TABLE bench_ah AS SELECT hash(device_id) AS h, * FROM device_attributes WHERE property_id = 1`,
        );
        const cols = 'm.rn, m.device_id, a.user_id, a.consent, a.npa, a.lat';
        const [varcharMs] = await timed(() =>
          w.run(`CREATE OR REPLACE TEMP TABLE bench_j AS SELECT ${cols} FROM bench_floor m
LEFT JOIN (SELECT * FROM device_attributes WHERE property_id = 1) a USING (device_id) ORDER BY m.rn`),
        );
        const [hashCheckMs] = await timed(() =>
          w.run(`CREATE OR REPLACE TEMP TABLE bench_j AS SELECT ${cols} FROM bench_mh m
LEFT JOIN bench_ah a ON m.h = a.h AND m.device_id = a.device_id ORDER BY m.rn`),
        );
        const [hashMs] = await timed(() =>
          w.run(`CREATE OR REPLACE TEMP TABLE bench_j AS SELECT ${cols} FROM bench_mh m
LEFT JOIN bench_ah a ON m.h = a.h ORDER BY m.rn`),
        );
        console.log(
          `${a.label}, run ${run}/${RUNS}: attribute join alone: VARCHAR key ${varcharMs} ms | hash key + VARCHAR check ${hashCheckMs} ms | hash key only ${hashMs} ms`,
        );
      }
      const [compiledMs] = await timed(() =>
        w.run(
          `CREATE OR REPLACE TEMP TABLE bench_compiled AS SELECT * FROM (${compiled.sql})`,
          compiled.parameters as never,
        ),
      );
      const id = `bench${sid++}`;
      const [materializeMs, rows] = await timed(() => snaps.materialize(id, req));
      const [renderMs] = await timed(() => snaps.warmRowsJson(id, [...dims]));
      let compiledPath = '';
      if (snaps.usesDeviceSummary(req)) {
        const cid = `bench${sid++}`;
        const [cms, crows] = await timed(() => compiledSnaps.materialize(cid, req));
        if (crows !== rows) throw new Error(`${a.label}: ${rows} rows from the summary, ${crows} compiled`);
        compiledPath = ` | compiled path (no summary) ${cms} ms ${JSON.stringify(compiledSnaps.phaseTimings(cid))}`;
        await compiledSnaps.drop(cid);
      }
      const floorRows = Number((await w.all('SELECT count(*) AS n FROM bench_floor'))[0]!.n);
      if (floorRows !== rows) throw new Error(`${a.label}: ${rows} rows, hand-written ${floorRows}`);
      console.log(
        `${a.label}, run ${run}/${RUNS}: ${fmt(rows)} members | floor members ${floorMs} ms, floor snapshot ${floorSnapMs} ms | compiled members ${compiledMs} ms | materialize ${materializeMs} ms ${JSON.stringify(snaps.phaseTimings(id))} (${(materializeMs / floorSnapMs).toFixed(2)}x floor snapshot)${compiledPath} | render rows ${renderMs} ms`,
      );
      await snaps.drop(id);
      await w.run('DROP TABLE bench_floor_snap');
    }
  }
  await fold.stop();
  await store.close();
  if (!kept) removeDir(dataDir);
  console.log(`${uptime()}`);
}

await main();

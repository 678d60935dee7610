// Audience exports at scale. Generates N events over D devices straight into a data folder's
// events.duckdb with DuckDB SQL (the columns of EVENT_COLUMNS), starts `audex serve` on it like a
// user, then measures with the official client: create -> ACTIVE for the built-in Purchasers
// audience; and :query throughput over HTTP with 250,000-row pages, with plain fetch and with the
// official client (the first plain-fetch run includes the one-time rendering of the snapshot's
// rows file, src/storage/duckdb/rendered-rows.ts; its first page is timed apart). The plain-fetch
// line includes the client's JSON.parse of every page; the "bytes only" lines (fetch, node:http)
// show what the server and the transport deliver without it; then
// `audex exports download` (src/cli/exports.ts, the CLI's own code in this process) to CSV, NDJSON
// and Parquet. Last, the snapshot read paths at offset 0 vs offset 5,000,000 on a 6M-row snapshot
// (cost must not grow with the offset). Prints figures; no assertions. Usage:
//   npx tsx bench/exports.bench.ts [events=10000000] [devices=1000000]
// All Users: before the server opens the data folder, a hand-written DuckDB query counts the
// distinct users of the events and writes the numbered member list as a table (the floor without a
// device summary), three times; then All Users create -> ACTIVE through the server, three times,
// in the same run. AUDEX_BENCH_ONLY=allusers stops after that. AUDEX_BENCH_EVENTS_DB=<file>
// copies an events.duckdb generated earlier by this bench (timestamps are relative to the day it
// was generated: the built-in audiences count 30 days of backfill) instead of generating one;
// AUDEX_BENCH_SAVE_EVENTS_DB=<file> keeps a copy of the generated one for that.
// AUDEX_BENCH_ONLY=exports stops after the typical and Purchasers exports (no size estimates, no
// reads), printing the server's peak RSS. AUDEX_BENCH_MP=0 sends no Measurement Protocol while an
// export runs (to tell the export's own time from the cost of collecting and folding meanwhile).
// AUDEX_BENCH_PAUSE_MS (default 3000): the pause between two exports, in which the previous
// export's rows file is rendered in the background (7 s for 7.4M rows at 100M events).
import { ADMIN_KEY, api, removeDir, startServer, tempDataDir } from '../test/helpers/server.ts';
import { generateEvents } from '../test/helpers/generated-events.ts';
import { dataClient } from '../test/helpers/clients.ts';
import { createTestProperty, sendMp } from '../test/helpers/property.ts';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import { DuckDbSnapshotStore } from '../src/storage/duckdb/snapshots.ts';
import { E8 } from '../src/audience/fixtures/examples.ts';
import { AudexClient } from '../src/cli/client.ts';
import { downloadExport, type DownloadFormat } from '../src/cli/exports.ts';
import { copyFileSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { procStatusMiB } from './proc-status.ts';

const EVENTS = Number(process.argv[2] ?? 10_000_000);
const DEVICES = Number(process.argv[3] ?? 1_000_000);
const PAGE = 250_000;
const ONLY = process.env.AUDEX_BENCH_ONLY;
const SEND_MP = process.env.AUDEX_BENCH_MP !== '0';
const PAUSE_MS = Number(process.env.AUDEX_BENCH_PAUSE_MS ?? 3000);

const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * The server's resident memory sampled every 250 ms, its maximum kept per stage of the bench,
 * with what the server's /metrics said at (about) that moment: DuckDB's buffer-manager memory
 * (duckdb_memory()), the JS heap and the memory outside it (Buffers), so a peak shows whose it is.
 */
function rssByStage(pid: number, metricsUrl: string) {
  const peaks = new Map<string, { mib: number; parts: string }>();
  let stage = 'start';
  let asking = false;
  const mib = (b: number) => fmt(b / 2 ** 20);
  const explain = async (at: { mib: number; parts: string }) => {
    asking = true;
    try {
      const text = await (await fetch(metricsUrl)).text();
      const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
      at.parts =
        `DuckDB ${mib(value(/^audex_duckdb_memory_bytes\{tag="TOTAL"\} (\S+)$/m))} MiB, ` +
        `JS heap ${mib(value(/^audex_nodejs_heap_size_used_bytes (\S+)$/m))} MiB, ` +
        `external ${mib(value(/^audex_nodejs_external_memory_bytes (\S+)$/m))} MiB`;
    } catch {
      // the server is busy or gone: the peak stays unexplained
    } finally {
      asking = false;
    }
  };
  const timer = setInterval(() => {
    try {
      const now = procStatusMiB(pid, 'VmRSS');
      if (Number.isNaN(now)) return;
      const seen = peaks.get(stage);
      if (seen && seen.mib >= now) return;
      const at = { mib: now, parts: seen?.parts ?? '' };
      peaks.set(stage, at);
      if (!asking) void explain(at);
    } catch {
      // the server has gone
    }
  }, 250);
  timer.unref();
  return {
    enter: (s: string) => (stage = s),
    print: () => {
      clearInterval(timer);
      console.log(
        `server peak RSS by stage: ${[...peaks]
          .map(([s, p]) => `${s} ${fmt(p.mib)} MiB${p.parts ? ` (${p.parts})` : ''}`)
          .join('; ')}`,
      );
    },
  };
}

async function main(): Promise<void> {
  const dataDir = tempDataDir('audex-bench-exports-');
  let t = performance.now();
  const seedDb = process.env.AUDEX_BENCH_EVENTS_DB;
  if (seedDb) copyFileSync(seedDb, join(dataDir, 'events.duckdb'));
  else await generateEvents(dataDir, EVENTS, DEVICES);
  const saveDb = process.env.AUDEX_BENCH_SAVE_EVENTS_DB;
  if (!seedDb && saveDb) copyFileSync(join(dataDir, 'events.duckdb'), saveDb);
  console.log(
    `${seedDb ? 'copied' : 'generated'} ${fmt(EVENTS)} events over ${fmt(DEVICES)} devices: ${ms(t)}`,
  );
  console.log(execSync('uptime').toString().trim());
  {
    const floor = await DuckDbEventStore.open({ dataDir });
    for (let run = 1; run <= 3; run++) {
      t = performance.now();
      await floor.db.writer.run(`CREATE OR REPLACE TABLE bench_all_users AS
SELECT (row_number() OVER () - 1)::BIGINT AS rn, device_id FROM (
  SELECT DISTINCT user_pseudo_id AS device_id FROM events
  WHERE property_id = 1 AND source <> 'audience_trigger' ORDER BY 1)`);
      const took = ms(t);
      const n = (await floor.db.writer.all('SELECT count(*) AS n FROM bench_all_users'))[0]!.n;
      console.log(
        `All Users, hand-written query (distinct users of every event, numbered member list written), run ${run}/3: ${took}, ${fmt(Number(n))} members`,
      );
    }
    await floor.db.writer.run('DROP TABLE bench_all_users');
    await floor.close();
  }

  t = performance.now();
  const server = await startServer({ dataDir });
  const rss = rssByStage(server.proc.pid!, `${server.url}/metrics`);
  rss.enter('start + fold');
  try {
    // The events were written behind the server's back, so its device-attribute fold starts from
    // scratch (what a restart over a big history costs, once); a live server folds as it goes.
    // Exports are exact either way; this measures them with the fold caught up, as in steady state.
    for (;;) {
      const m = (await api(server, 'GET', '/audex/v1/metrics')).json as {
        deviceAttributes: { watermark: string };
      };
      if (BigInt(m.deviceAttributes.watermark) >= BigInt(EVENTS)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`server start + device-attribute fold over ${fmt(EVENTS)} events: ${ms(t)}`);
    const tp = await createTestProperty(server);
    const property = tp.property;
    if (property !== 'properties/1') throw new Error(`expected properties/1, got ${property}`);
    const audiences = (await api(server, 'GET', `/v1alpha/${property}/audiences`)).json.audiences as any[];
    const client = dataClient(server.port, ADMIN_KEY);
    // The client's first call loads its protos and auth stack (~150-250 ms, client side, once per
    // process); it is timed apart so the create -> ACTIVE lines measure the export itself.
    t = performance.now();
    await client.listAudienceExports({ parent: property });
    console.log(`official client's first call (listAudienceExports, warm-up): ${ms(t)}`);

    // create -> ACTIVE with the official client, while Measurement Protocol keeps sending (ingest
    // must not stall behind an export). Returns the finished export.
    const createExport = async (label: string, audience: string) => {
      const t0 = performance.now();
      const [operation] = await client.createAudienceExport({
        parent: property,
        audienceExport: {
          audience,
          dimensions: ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'].map(
            (dimensionName) => ({ dimensionName }),
          ),
        },
      });
      let creating = true;
      const latencies: number[] = [];
      const ingestLoop = (async () => {
        for (let k = 0; creating && SEND_MP; k++) {
          const t1 = performance.now();
          await sendMp(server, tp, { client_id: `live.${k}`, events: [{ name: 'page_view' }] });
          latencies.push(performance.now() - t1);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const createCallMs = performance.now() - t0;
      const [done] = await operation.promise();
      const createMs = performance.now() - t0;
      creating = false;
      await ingestLoop;
      latencies.sort((a, b) => a - b);
      console.log(
        `${label}: create -> ACTIVE (official client, operation.promise()): ${createMs.toFixed(0)} ms (create call ${createCallMs.toFixed(0)} ms), rowCount ${fmt(done.rowCount ?? 0)}`,
      );
      if (latencies.length > 0)
        console.log(
          `  /mp/collect meanwhile: ${latencies.length} requests, p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(0)} ms, max ${latencies[latencies.length - 1]!.toFixed(0)} ms`,
        );
      const id = String(done.name).split('/').pop();
      const log = server
        .output()
        .split('\n')
        .find((l) => l.includes('export job finished') && l.includes(`"export":${id},`));
      if (log) console.log(`  server: ${log}`);
      return done;
    };

    // All Users, read from the device summary (src/storage/duckdb/snapshots.ts).
    const allUsers = audiences.find((a) => a.displayName === 'All Users').name as string;
    rss.enter('All Users');
    for (let run = 1; run <= 3; run++) {
      if (run > 1) await new Promise((r) => setTimeout(r, PAUSE_MS));
      await createExport(`All Users, run ${run}/3`, allUsers);
    }
    console.log(execSync('uptime').toString().trim());
    if (ONLY === 'allusers') return; // (the data folder goes in finally)

    // A more typical size: devices with 3+ purchases in 30 days (~13% of the devices): spec example
    // E8 without its currency leaf (the generated events carry no parameters).
    const e8 = structuredClone(E8) as any;
    const purchase =
      e8.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup
        .filterExpressions[0].eventFilter.eventParameterFilterExpression.andGroup;
    purchase.filterExpressions = purchase.filterExpressions.slice(0, 1); // the eventCount > 2 leaf
    const frequent = (
      await api(server, 'POST', `/v1alpha/${property}/audiences`, {
        ...e8,
        displayName: 'Frequent purchasers',
        membershipDurationDays: 30,
      })
    ).json.name as string;
    // The console's size estimate (POST …/audiences:evaluate: an unsaved definition evaluated now,
    // docs/console.md) for the typical audience and a sequence, three runs each, then one 30-day
    // size history.
    const step = (eventName: string) => ({
      andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [{ eventFilter: { eventName } }] } }] },
    });
    const sequence = {
      displayName: 'Viewed then directly added to cart',
      description: 'x',
      membershipDurationDays: 30,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          sequenceFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            sequenceSteps: [
              { scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT', filterExpression: step('view_item') },
              {
                scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
                immediatelyFollows: true,
                constraintDuration: '3600s',
                filterExpression: step('add_to_cart'),
              },
            ],
          },
        },
      ],
    };
    const estimates: [string, unknown][] = [
      ['typical (3+ purchases)', { ...e8, displayName: 'Frequent purchasers', membershipDurationDays: 30 }],
      ['sequence (view_item, directly add_to_cart within 1 h)', sequence],
    ];
    rss.enter('estimates');
    for (const [label, body] of ONLY === 'exports' ? [] : estimates) {
      for (let run = 1; run <= 3; run++) {
        t = performance.now();
        const res = await api(server, 'POST', `/audex/v1/${property}/audiences:evaluate`, body);
        const out = res.json as { memberCount: string; elapsedMs: number };
        console.log(
          `size estimate, ${label}, run ${run}/3: ${fmt(Number(out.memberCount))} members, ` +
            `${out.elapsedMs} ms in the engine, ${ms(t)} end to end`,
        );
      }
    }
    if (ONLY !== 'exports') {
      t = performance.now();
      await api(server, 'POST', `/audex/v1/${property}/audiences:sizeHistory`, estimates[0]![1]);
      console.log(`30-day size history, typical audience: ${ms(t)}`);
    }

    // Three exports each (three snapshots), so one noisy run does not make the figure.
    const RUNS = 3;
    rss.enter('typical');
    for (let run = 1; run <= RUNS; run++) {
      await createExport(`Frequent purchasers (typical audience), run ${run}/${RUNS}`, frequent);
      // Let that export's background page rendering finish before the next measurement.
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    // A large audience: 74% of the devices bought in the last 30 days (1 event in 8 is a purchase).
    const purchasers = audiences.find((a) => a.displayName === 'Purchasers').name as string;
    let done!: Awaited<ReturnType<typeof createExport>>;
    rss.enter('Purchasers');
    for (let run = 1; run <= RUNS; run++) {
      if (run > 1) await new Promise((r) => setTimeout(r, PAUSE_MS));
      done = await createExport(`Purchasers (large audience), run ${run}/${RUNS}`, purchasers);
    }
    const rows = done.rowCount ?? 0;
    if (ONLY === 'exports') {
      rss.print();
      console.log(`server peak RSS (VmHWM): ${fmt(procStatusMiB(server.proc.pid!, 'VmHWM'))} MiB`);
      return;
    }
    rss.enter('reads');

    for (let run = 0; run < 2; run++) {
      t = performance.now();
      let n = 0;
      let bytes = 0;
      let firstPageMs = 0;
      for (let offset = 0; offset < rows; offset += PAGE) {
        const res = await fetch(`${server.url}/v1beta/${done.name}:query`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ offset: String(offset), limit: String(PAGE) }),
        });
        const text = await res.text();
        bytes += text.length;
        n += (JSON.parse(text) as { audienceRows: unknown[] }).audienceRows.length;
        if (offset === 0) firstPageMs = performance.now() - t;
      }
      const s = (performance.now() - t) / 1000;
      console.log(
        `:query plain fetch, ${PAGE}-row pages: ${fmt(n)} rows in ${s.toFixed(2)} s = ${fmt(n / s)} rows/s (${(bytes / 1e6).toFixed(0)} MB JSON; first page ${firstPageMs.toFixed(0)} ms${run === 0 ? ', includes rendering the rows file' : ''})`,
      );
    }
    // The same pages, read as bytes without JSON.parse: what the server and the transport deliver
    // (the line above also pays the client's JSON.parse of ~110 bytes/row, which dominates it).
    t = performance.now();
    let bytesOnly = 0;
    let parseMs = 0;
    for (let offset = 0; offset < rows; offset += PAGE) {
      const res = await fetch(`${server.url}/v1beta/${done.name}:query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ offset: String(offset), limit: String(PAGE) }),
      });
      bytesOnly += (await res.arrayBuffer()).byteLength;
    }
    const sBytes = (performance.now() - t) / 1000;
    // And with node:http, the plainest client (fetch's own body handling costs ~0.2-0.3 s of CPU per
    // 28 MB page on the bench VM, where first-touch page faults are expensive).
    const agent = new http.Agent({ keepAlive: true });
    const httpPage = (offset: number) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ offset: String(offset), limit: String(PAGE) });
        const req = http.request(
          `${server.url}/v1beta/${done.name}:query`,
          {
            method: 'POST',
            agent,
            headers: {
              authorization: `Bearer ${ADMIN_KEY}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            let size = 0;
            res.on('data', (c: Buffer) => (size += c.length));
            res.on('end', () => resolve(size));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const httpRuns: string[] = [];
    for (let run = 0; run < 2; run++) {
      const t0 = performance.now();
      let size = 0;
      for (let offset = 0; offset < rows; offset += PAGE) size += await httpPage(offset);
      const s = (performance.now() - t0) / 1000;
      httpRuns.push(`${fmt(rows / s)} rows/s (${(size / 1e6).toFixed(0)} MB in ${s.toFixed(2)} s)`);
    }
    agent.destroy();
    {
      // The client's JSON.parse of one full page, alone.
      const res = await fetch(`${server.url}/v1beta/${done.name}:query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ offset: '0', limit: String(PAGE) }),
      });
      const text = await res.text();
      const t0 = performance.now();
      JSON.parse(text);
      parseMs = performance.now() - t0;
    }
    console.log(
      `:query plain fetch, bytes only (no JSON.parse): ${fmt(rows)} rows in ${sBytes.toFixed(2)} s = ${fmt(rows / sBytes)} rows/s (${(bytesOnly / 1e6).toFixed(0)} MB); client JSON.parse of one ${fmt(Math.min(rows, PAGE))}-row page: ${parseMs.toFixed(0)} ms`,
    );
    console.log(`:query plain node:http, bytes only, ${PAGE}-row pages: ${httpRuns.join('; ')}`);
    t = performance.now();
    let n = 0;
    for (let offset = 0; offset < rows; offset += PAGE) {
      const [page] = await client.queryAudienceExport({ name: done.name!, offset, limit: PAGE });
      n += page.audienceRows!.length;
    }
    const s = (performance.now() - t) / 1000;
    console.log(
      `:query official client, ${PAGE}-row pages: ${fmt(n)} rows in ${s.toFixed(2)} s = ${fmt(n / s)} rows/s`,
    );
    // The CLI's download (the server's GET …:download endpoint streamed into the file).
    const cli = new AudexClient(server.url, ADMIN_KEY);
    for (const format of ['csv', 'ndjson', 'parquet'] as DownloadFormat[]) {
      const out = join(dataDir, `download.${format}`);
      t = performance.now();
      const r = await downloadExport(cli, done.name!, { format, out });
      const s = (performance.now() - t) / 1000;
      console.log(
        `exports download --format ${format}: ${fmt(r.rowsWritten)} rows in ${s.toFixed(2)} s = ${fmt(r.rowsWritten / s)} rows/s (${(statSync(out).size / 1e6).toFixed(0)} MB)`,
      );
    }
    // Same page at the start and at the end of the export.
    for (const offset of [0, Math.max(0, rows - PAGE)]) {
      t = performance.now();
      await fetch(`${server.url}/v1beta/${done.name}:query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ offset: String(offset), limit: '10000' }),
      }).then((r) => r.text());
      console.log(`:query 10,000 rows at offset ${fmt(offset)}: ${ms(t)}`);
    }
    // The server's own peak (the bench process generates the data with DuckDB's default limit,
    // so /usr/bin/time's maximum may be the bench's, not the server's).
    rss.print();
    console.log(`server peak RSS (VmHWM): ${fmt(procStatusMiB(server.proc.pid!, 'VmHWM'))} MiB`);
  } finally {
    await server.stop();
    if (ONLY === 'allusers' || ONLY === 'exports') removeDir(dataDir);
  }
  if (ONLY === 'allusers' || ONLY === 'exports') return;

  // The read path alone on a 6M-row snapshot: offset 0 vs 5,000,000.
  const store = await DuckDbEventStore.open({ dataDir });
  const snaps = new DuckDbSnapshotStore(store.db, new DuckDbAudienceEngine(store.db));
  t = performance.now();
  await store.db.writer.run(`CREATE OR REPLACE TABLE export_snapshot_bench6m AS
SELECT i::BIGINT AS rn, lpad(i::VARCHAR, 10, '0') || '.1700000000' AS device_id,
  CASE WHEN i % 3 = 0 THEN 'user-' || i::VARCHAR END AS user_id, 'true' AS ads_personalization, '(not set)' AS limited_ad_tracking
FROM range(6000000) t(i) ORDER BY rn`);
  console.log(`6M-row snapshot table written: ${ms(t)}`);
  for (const offset of [0, 5_000_000, 0, 5_000_000]) {
    for (const limit of [10_000, PAGE]) {
      t = performance.now();
      const r = await snaps.read('bench6m', offset, limit);
      console.log(
        `snapshot read offset ${fmt(offset)} limit ${fmt(limit)}: ${ms(t)} (${fmt(r.length)} rows)`,
      );
    }
  }
  const dims = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'] as const;
  t = performance.now();
  await snaps.readRowsJson('bench6m', 0, 1, [...dims]);
  console.log(`6M-row snapshot rows file rendered (first JSON page): ${ms(t)}`);
  for (const offset of [0, 5_000_000, 0, 5_000_000]) {
    t = performance.now();
    const r = await snaps.readRowsJson('bench6m', offset, PAGE, [...dims]);
    console.log(
      `snapshot JSON page offset ${fmt(offset)} limit ${fmt(PAGE)}: ${ms(t)} (${fmt(r.data.length)} bytes)`,
    );
    r.release(); // as the REST transport does once written: the next page reuses the memory
  }
  await snaps.drop('bench6m');
  await store.close();
  removeDir(dataDir);
}

await main();

// Deleting one user (SubmitUserDeletion's storage work, src/storage/duckdb/user-deletion.ts) from a
// property of N events and from its live snapshots. Generates N events over N/10 devices straight
// into a fresh events.duckdb (test/helpers/generated-events.ts, like the export benches), folds the device attributes,
// writes two snapshots of every device (the snapshot store's table layout, by SQL; with
// BENCH_REAL_SNAPSHOTS=1 the real store materializes "All Users", which is slow at scale), then
// deletes users one at a time and times each step: the events DELETE (by client id, then by user
// id), the folded attributes, and each snapshot's row removal with the renumbering of the rows
// after it. Checks that the table was not rewritten (its row groups stay) and prints `uptime`
// (the machine is shared). Prints figures; no assertions. Usage:
//   npx tsx bench/user-deletion.bench.ts [events=10000000]
import { execSync } from 'node:child_process';
import { removeDir, tempDataDir } from '../test/helpers/server.ts';
import { generateEvents } from '../test/helpers/generated-events.ts';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import { DuckDbSnapshotStore } from '../src/storage/duckdb/snapshots.ts';
import { DeviceAttributeIndex } from '../src/storage/duckdb/device-attributes.ts';
import {
  deleteDeviceAttributes,
  deleteFromSnapshot,
  deleteUserEvents,
} from '../src/storage/duckdb/user-deletion.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';

const EVENTS = Number(process.argv[2] ?? 10_000_000);
const DEVICES = Math.max(10, Math.floor(EVENTS / 10));
const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const device = (i: number) => `${((i % DEVICES) * 7919) % 1000000007}.1700000000`;

async function main(): Promise<void> {
  console.log(`load before: ${execSync('uptime').toString().trim()}`);
  const dataDir = tempDataDir('audex-bench-deletion-');
  const now = BigInt(Date.now()) * 1000n;
  let t = performance.now();
  await generateEvents(dataDir, EVENTS, DEVICES, now);
  console.log(`generated ${fmt(EVENTS)} events over ${fmt(DEVICES)} devices: ${ms(t)}`);
  const store = await DuckDbEventStore.open({ dataDir });
  const db = store.db;
  try {
    t = performance.now();
    await new DeviceAttributeIndex(db).catchUp();
    console.log(`device-attribute fold: ${ms(t)}`);
    for (const id of ['ae_1', 'ae_2']) {
      t = performance.now();
      let n: number;
      if (process.env.BENCH_REAL_SNAPSHOTS === '1') {
        // The real snapshot store ("All Users" goes through the reference evaluator: slow at scale).
        const snapshots = new DuckDbSnapshotStore(db, new DuckDbAudienceEngine(db));
        const allUsers = BUILTIN_AUDIENCES.find((a) => a.key === 'all_users')!.definition;
        n = await snapshots.materialize(id, {
          propertyId: 1n,
          audience: allUsers,
          config: {
            createTimeMicros: now,
            backfillDays: null,
            timeZone: 'UTC',
            ignoreEventNamesForAdjacency: [],
          },
          asOfMicros: now,
        });
      } else {
        // The same table as the snapshot store writes (every device, rn dense in deviceId order,
        // written in rn order), built by one SQL statement.
        await db.writer.run(`CREATE OR REPLACE TABLE export_snapshot_${id} AS
SELECT (row_number() OVER (ORDER BY device_id) - 1)::BIGINT AS rn, device_id, a.user_id,
  '(not set)' AS ads_personalization, '(not set)' AS limited_ad_tracking
FROM (SELECT DISTINCT user_pseudo_id AS device_id FROM events WHERE property_id = 1) m
LEFT JOIN device_attributes a USING (device_id) ORDER BY rn`);
        n = Number((await db.reader().all(`SELECT count(*)::INTEGER AS n FROM export_snapshot_${id}`))[0]!.n);
      }
      console.log(`snapshot ${id}: ${fmt(n)} members: ${ms(t)}`);
    }
    const blocks = async () =>
      Number(
        (
          await db
            .reader()
            .all(`SELECT count(DISTINCT row_group_id)::INTEGER AS n FROM pragma_storage_info('events')`)
        )[0]!.n,
      );
    const before = await blocks();
    // Devices spread over the id range: by client id (i not divisible by 3) and by user id.
    const cases: { kind: 'client_id' | 'user_id'; value: string }[] = [
      { kind: 'client_id', value: device(1) },
      { kind: 'client_id', value: device(Math.floor(DEVICES / 2) + 1) },
      { kind: 'client_id', value: device(DEVICES - 2) },
      { kind: 'user_id', value: `user-${Math.floor(DEVICES / 3) * 3}` },
      { kind: 'user_id', value: 'user-3' },
    ];
    for (const c of cases) {
      const t0 = performance.now();
      const ev = await deleteUserEvents(db, 1n, c);
      const tEvents = performance.now() - t0;
      let t1 = performance.now();
      await deleteDeviceAttributes(db, 1n, ev.devices);
      const tAttrs = performance.now() - t1;
      const snaps: string[] = [];
      for (const id of ['ae_1', 'ae_2']) {
        t1 = performance.now();
        const r = await deleteFromSnapshot(
          db,
          `export_snapshot_${id}`,
          ev.devices,
          c.kind === 'user_id' ? c.value : null,
        );
        snaps.push(`${id} -${r?.removed} rows ${(performance.now() - t1).toFixed(0)} ms`);
      }
      console.log(
        `delete ${c.kind} (${ev.events} events, ${ev.devices.length} device): events ${tEvents.toFixed(0)} ms, ` +
          `attributes ${tAttrs.toFixed(0)} ms, ${snaps.join(', ')}; total ${ms(t0)}`,
      );
    }
    console.log(`events row groups before ${before}, after ${await blocks()} (not rewritten)`);
    console.log(`load after: ${execSync('uptime').toString().trim()}`);
  } finally {
    await db.close();
    removeDir(dataDir);
  }
}

await main();

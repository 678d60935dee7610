// Several audex processes writing one ClickHouse database (src/storage/clickhouse/ingest-seq.ts):
// two stores opened on one database append at once (and import), and the seqs stay unique, no row
// is lost, and the export mark taken at any moment covers every event acknowledged before it,
// while events appended after it are above it. Uses a private ClickHouse 18.16 server (fails when
// missing).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type ClickHouseStorage } from '../src/storage/clickhouse/index.ts';
import { claimWriterSlot } from '../src/storage/clickhouse/ingest-seq.ts';
import { ClickHouseTriggerProgress } from '../src/storage/clickhouse/trigger-progress.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import { freshDatabaseName, sharedClickHouse } from './helpers/clickhouse-server.ts';

const P = 5n;
const now = () => BigInt(Date.now()) * 1000n;
let a: ClickHouseStorage;
let b: ClickHouseStorage;
let url: string;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'audex-ch-mw-'));
  const server = await sharedClickHouse();
  url = server.eventsUrl(freshDatabaseName());
  [a, b] = await Promise.all([open({ dataDir, eventsUrl: url }), open({ dataDir, eventsUrl: url })]);
});
after(async () => {
  await a?.close();
  await b?.close();
  rmSync(dataDir, { recursive: true, force: true });
  await (await sharedClickHouse()).stop();
});

const ev = (device: string, i: number) =>
  baseEvent({ property_id: P, user_pseudo_id: device, event_timestamp: 1_735_689_600_000_000n + BigInt(i) });

test('two writers on one database hold different slots', () => {
  assert.notEqual(a.events.writerSlot, b.events.writerSlot);
});

test('concurrent appends from two writers: unique seqs, increasing per writer, no lost rows, marks cover every acknowledgement', async () => {
  const acked: bigint[] = [];
  const perWriter = new Map<ClickHouseStorage, bigint[]>([
    [a, []],
    [b, []],
  ]);
  const violations: string[] = [];
  let markChecks = 0;
  const writer = async (s: ClickHouseStorage, tag: string) => {
    for (let round = 0; round < 15; round++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const seqs = await s.events.append([
            ev(`${tag}-${round}-${i}`, i),
            ev(`${tag}-${round}-${i}`, i + 1),
          ]);
          acked.push(...seqs);
          perWriter.get(s)!.push(...seqs);
        }),
      );
    }
  };
  const marker = async (done: () => boolean) => {
    while (!done()) {
      // Everything acknowledged before the mark is taken is at or below it...
      const before = [...acked];
      const mark = await (markChecks % 2 === 0 ? a : b).snapshots.highWaterMark();
      for (const seq of before) if (seq > mark) violations.push(`acknowledged ${seq} > mark ${mark}`);
      // ...and an append started after it returned is above it (one machine, one clock).
      const [later] = await (markChecks % 2 === 0 ? b : a).events.append([ev('after-mark', markChecks)]);
      acked.push(later!);
      if (later! <= mark) violations.push(`appended after the mark: ${later} <= ${mark}`);
      markChecks++;
    }
  };
  let finished = false;
  await Promise.all([
    Promise.all([writer(a, 'a'), writer(b, 'b')]).then(() => (finished = true)),
    marker(() => finished),
  ]);
  assert.deepEqual(violations, []);
  assert.ok(markChecks >= 3, `only ${markChecks} marks taken`);
  assert.equal(new Set(acked.map(String)).size, acked.length, 'every seq is unique');
  assert.equal(await a.events.countEvents(P), acked.length, 'every acknowledged row is stored once');
  const stored = (await b.events.readEvents(P)).map((e) => e.ingest_seq).sort((x, y) => (x < y ? -1 : 1));
  assert.deepEqual(
    stored,
    [...acked].sort((x, y) => (x < y ? -1 : 1)),
  );
  for (const [s, seqs] of perWriter) {
    assert.ok(
      seqs.every((q) => Number(q & 63n) === s.events.writerSlot),
      'a writer only uses its slot',
    );
    assert.ok(
      seqs.every((q) => q < 2n ** 53n),
      'seqs fit the catalog (JS numbers)',
    );
  }
});

test('an import on one writer while the other appends: unique seqs, rows counted', async () => {
  const before = await a.events.countEvents(P);
  const stage = await b.events.openStage();
  await b.events.stageAppend(
    stage,
    Array.from({ length: 300 }, (_, i) => ev(`imp-${i}`, i)),
    0,
  );
  const appended: bigint[] = [];
  const [stored] = await Promise.all([
    b.events.commitStage(stage, P, 'imp-1', (n) => `stored ${n}`),
    (async () => {
      for (let i = 0; i < 10; i++) appended.push(...(await a.events.append([ev(`during-${i}`, i)])));
    })(),
  ]);
  assert.equal(stored, 300);
  const all = (await a.events.readEvents(P)).map((e) => e.ingest_seq.toString());
  assert.equal(all.length, before + 310);
  assert.equal(new Set(all).size, all.length, 'every seq is unique');
});

test('a writer that starts later takes a free slot and hands out seqs above every stored one', async () => {
  const hwm = await a.snapshots.highWaterMark();
  const c = await open({ dataDir, eventsUrl: url });
  try {
    assert.ok(![a.events.writerSlot, b.events.writerSlot].includes(c.events.writerSlot));
    const [seq] = await c.events.append([ev('late', 0)]);
    assert.ok(seq! > hwm);
  } finally {
    await c.close();
  }
});

test('processes claiming slots at the same moment never share one', async () => {
  const server = await sharedClickHouse();
  const other = await open({ dataDir, eventsUrl: server.eventsUrl(freshDatabaseName()) });
  try {
    const claims = await Promise.all(
      Array.from({ length: 12 }, () => claimWriterSlot(other.nodes, now, 60_000)),
    );
    const slots = [...claims.map((c) => c.slot), other.events.writerSlot];
    assert.equal(new Set(slots).size, slots.length, `slots ${slots.join(',')}`);
    // A released slot is free again.
    await claims[0]!.release();
    const again = await claimWriterSlot(other.nodes, now, 60_000);
    assert.ok(!slots.slice(1).includes(again.slot));
  } finally {
    await other.close();
  }
});

test('the trigger watermark leaves out seqs younger than the settle time', async () => {
  const settled = new ClickHouseTriggerProgress(a.nodes, now, 60_000);
  const fresh = new ClickHouseTriggerProgress(a.nodes, now, 0);
  const [seq] = await a.events.append([ev('young', 0)]);
  assert.ok((await settled.highWaterMark()) < seq!, 'a seq of now is not settled for a minute');
  assert.equal(await fresh.highWaterMark(), await a.snapshots.highWaterMark());
});

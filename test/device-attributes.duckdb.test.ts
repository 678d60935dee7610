// The folded per-device export attributes (src/storage/duckdb/device-attributes.ts) against a plain
// JS computation of "latest non-null value by (event_timestamp, ingest_seq) within the cut", on
// random histories, random fold points (none, part, all, past the cut) and random cuts. A fold
// may only make exports faster, never change an attribute.
// Replay a failure: AUDEX_FC_SEED=<seed> [AUDEX_FC_PATH=<path>] npm test -- test/device-attributes.duckdb.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DuckDBValue } from '@duckdb/node-api';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { DeviceAttributeIndex, stageMemberAttributes } from '../src/storage/duckdb/device-attributes.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import type { NewEvent } from '../src/domain/event.ts';

const T0 = 1_735_689_600_000_000n;
const DEVICES = ['d0', 'd1', 'd2', 'd3', 'd4'];

let dir: string;
let store: DuckDbEventStore;
let index: DeviceAttributeIndex;
let nextProperty = 1n;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audex-devattr-'));
  store = await DuckDbEventStore.open({ dataDir: dir });
  // A tiny chunk so that folds run over several transactions.
  index = new DeviceAttributeIndex(store.db, { chunk: 3n });
});
after(async () => {
  await index.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const eventArb = fc.record({
  device: fc.constantFrom(...DEVICES),
  // Few distinct instants, so ties on event_timestamp (broken by ingest_seq) are common.
  minute: fc.integer({ min: 0, max: 6 }),
  userId: fc.constantFrom<string | null>(null, null, 'u1', 'u2', 'ü"\\'),
  consent: fc.constantFrom<'GRANTED' | 'DENIED' | null>(null, null, 'GRANTED', 'DENIED'),
  npa: fc.constantFrom<boolean | null>(null, null, true, false),
  lat: fc.constantFrom<boolean | null>(null, null, true, false),
});
type Ev = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;

const caseArb = fc.record({
  batches: fc.array(fc.array(eventArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
  late: fc.array(eventArb, { maxLength: 4 }),
  // Where the fold stops, as a fraction of the acknowledged events; and whether it then folds the
  // late events too (so the state holds events the export must not see).
  foldAt: fc.constantFrom(0, 0.3, 0.6, 1),
  foldLate: fc.boolean(),
  asOfMinute: fc.integer({ min: 0, max: 6 }),
  members: fc.subarray([...DEVICES, 'nobody'], { minLength: 1 }),
  // Stage for the members only, or for every device (the in-engine export path).
  allDevices: fc.boolean(),
});

const MINUTE = 60_000_000n;
const toEvent = (property: bigint, e: Ev): NewEvent =>
  baseEvent({
    property_id: property,
    user_pseudo_id: e.device,
    event_timestamp: T0 + BigInt(e.minute) * MINUTE,
    user_id: e.userId,
    consent_ad_personalization: e.consent,
    non_personalized_ads: e.npa,
    device_is_limited_ad_tracking: e.lat,
  });

type Attrs = { user_id: unknown; consent: unknown; npa: unknown; lat: unknown };

function expected(events: { e: Ev; seq: bigint }[], asOf: bigint, maxSeq: bigint, members: string[]) {
  const out = new Map<string, Attrs>();
  const visible = events
    .filter(({ e, seq }) => T0 + BigInt(e.minute) * MINUTE <= asOf && seq <= maxSeq)
    .sort((a, b) => a.e.minute - b.e.minute || (a.seq < b.seq ? -1 : 1));
  for (const { e } of visible) {
    if (!members.includes(e.device)) continue;
    const a = out.get(e.device) ?? { user_id: null, consent: null, npa: null, lat: null };
    if (e.userId !== null) a.user_id = e.userId;
    if (e.consent !== null) a.consent = e.consent;
    if (e.npa !== null) a.npa = e.npa;
    if (e.lat !== null) a.lat = e.lat;
    out.set(e.device, a);
  }
  return Object.fromEntries([...out].sort(([x], [y]) => (x < y ? -1 : 1)));
}

test('export attributes are the same whatever the fold has reached', { timeout: 600_000 }, async () => {
  const seed = process.env.AUDEX_FC_SEED;
  const path = process.env.AUDEX_FC_PATH;
  const paths = { dirty: 0, fresh: 0 };
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const property = nextProperty++;
      const acked: { e: Ev; seq: bigint }[] = [];
      for (const batch of c.batches) {
        const seqs = await store.append(batch.map((e) => toEvent(property, e)));
        batch.forEach((e, i) => acked.push({ e, seq: seqs[i]! }));
      }
      const maxSeq = acked[acked.length - 1]!.seq;
      const foldTo = acked[Math.floor((acked.length - 1) * c.foldAt)]!.seq;
      await index.catchUp(c.foldAt === 0 ? 0n : foldTo);
      const lateSeqs = await store.append(c.late.map((e) => toEvent(property, e)));
      const all = [...acked, ...c.late.map((e, i) => ({ e, seq: lateSeqs[i]! }))];
      if (c.foldLate) await index.catchUp();
      const asOf = T0 + BigInt(c.asOfMinute) * MINUTE;

      const actual = await store.db.reader().exclusive(async (con) => {
        await con.run('BEGIN TRANSACTION');
        try {
          await con.run('CREATE TEMP TABLE t_members (device_id VARCHAR)');
          for (const m of c.members) await con.run('INSERT INTO t_members VALUES ($1)', [m] as DuckDBValue[]);
          const staged = await stageMemberAttributes(con, c.allDevices ? null : 't_members', 't_snap', {
            propertyId: property,
            asOfMicros: asOf,
            maxIngestSeq: maxSeq,
          });
          paths.dirty += staged.stats.dirty;
          paths.fresh += staged.stats.freshDevices;
          const rows = (
            await con.runAndReadAll(
              `SELECT device_id, user_id, consent, npa, lat FROM ${staged.relation}
                 WHERE device_id IN (SELECT device_id FROM t_members) ORDER BY device_id`,
              [property] as DuckDBValue[],
            )
          ).getRowObjectsJS();
          return Object.fromEntries(
            rows
              // A device whose events carry no attribute within the cut may appear with all NULLs.
              .filter((r) => [r.user_id, r.consent, r.npa, r.lat].some((v) => v !== null))
              .map((r) => [r.device_id, { user_id: r.user_id, consent: r.consent, npa: r.npa, lat: r.lat }]),
          );
        } finally {
          await con.run('ROLLBACK');
        }
      });
      const want = expected(all, asOf, maxSeq, c.members);
      for (const k of Object.keys(want)) if (Object.values(want[k]!).every((v) => v === null)) delete want[k];
      assert.deepEqual(actual, want);
    }),
    {
      numRuns: Number(process.env.AUDEX_FC_RUNS ?? 150),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
      endOnFailure: true,
    },
  );
  // The property is only as strong as the paths it took.
  assert.ok(paths.dirty > 0 && paths.fresh > 0, JSON.stringify(paths));
});

test('a fold is idempotent and resumes where it stopped', async () => {
  const property = nextProperty++;
  await store.append([
    baseEvent({ property_id: property, user_pseudo_id: 'x', user_id: 'a', event_timestamp: T0 }),
    baseEvent({ property_id: property, user_pseudo_id: 'x', user_id: 'b', event_timestamp: T0 + 1n }),
  ]);
  const r1 = await index.catchUp();
  assert.ok(r1.to > r1.from);
  const r2 = await index.catchUp();
  assert.equal(r2.from, r2.to, 'nothing left to fold');
  const rows = await store.db
    .reader()
    .all('SELECT user_id FROM device_attributes WHERE property_id = $1 AND device_id = $2', [property, 'x']);
  assert.deepEqual(
    rows.map((r) => r.user_id),
    ['b'],
  );
});

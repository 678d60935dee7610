// All Users from the device summary (src/storage/duckdb/device-attributes.ts, snapshots.ts): the
// snapshot that DuckDB's materialize() writes from the per-device summary must equal, row for row,
// the one written from the compiled members query over the events (the same store without a
// summary), and its members must be the reference evaluator's, whatever the fold has reached:
// on random histories (audience triggers, events past asOf, acknowledged after the mark, at the
// membership cutoff, before the backfill window), and after an import, a user deletion, a
// retention pass, and appends racing the export.
// Replay a failure: AUDEX_FC_SEED=<seed> [AUDEX_FC_PATH=<path>] npm test -- test/device-summary.duckdb.test.ts
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { open, type DuckDbStorage } from '../src/storage/duckdb/index.ts';
import { DuckDbSnapshotStore } from '../src/storage/duckdb/snapshots.ts';
import { DeviceAttributeIndex } from '../src/storage/duckdb/device-attributes.ts';
import { BUILTIN_AUDIENCES, parseAudience } from '../src/audience/validate.ts';
import { isAnyEventAudience } from '../src/audience/compile/plan.ts';
import { evaluateUser, compareEvents } from '../src/audience/reference/evaluate.ts';
import { isMemberAt } from '../src/audience/evaluate/members.ts';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import type { NewEvent, StoredEvent } from '../src/domain/event.ts';
import type { MemberRow, MembershipRequest } from '../src/storage/contract.ts';
import { E1 } from '../src/audience/fixtures/examples.ts';
import { baseEvent } from './helpers/event-fixtures.ts';

const DAY = 86_400_000_000n;
const MINUTE = 60_000_000n;
const AS_OF = 1_735_689_600_000_000n;
const allUsers = BUILTIN_AUDIENCES.find((b) => b.key === 'all_users')!.definition;

/** An "any event" audience of another duration and threshold (also answered by the summary). */
const anyEvent = (days: number, x: number): AudienceDefinition =>
  parseAudience({
    displayName: 'any event',
    description: 'x',
    membershipDurationDays: days,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
          filterExpression: {
            andGroup: {
              filterExpressions: [
                {
                  orGroup: {
                    filterExpressions: [
                      {
                        dimensionOrMetricFilter: {
                          fieldName: 'eventCount',
                          numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: x } },
                        },
                      },
                    ],
                  },
                },
              ],
            },
          },
        },
      },
    ],
  });

let dir: string;
let storage: DuckDbStorage;
/** The same database without a summary: the compiled members query, the reference for rows. */
let plain: DuckDbSnapshotStore;
/** The summary path with the fold left where the test put it (no catch-up before the export). */
let frozen: DuckDbSnapshotStore;
let index: DeviceAttributeIndex;
let nextProperty = 1n;
let nextSnapshot = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audex-devsummary-'));
  storage = await open({ dataDir: dir });
  plain = new DuckDbSnapshotStore(storage.events.db, storage.audiences);
  frozen = new DuckDbSnapshotStore(storage.events.db, storage.audiences, { catchUp: async () => undefined });
  // A tiny chunk so that folds run over several transactions.
  index = new DeviceAttributeIndex(storage.events.db, { chunk: 3n });
});
after(async () => {
  await index.stop();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

async function rows(store: DuckDbSnapshotStore, req: MembershipRequest): Promise<MemberRow[]> {
  const id = `s${nextSnapshot++}`;
  const n = await store.materialize(id, req);
  const out = await store.read(id, 0, n + 1);
  assert.equal(out.length, n);
  await store.drop(id);
  return out;
}

/** The reference evaluator's members over the stored events with ingest_seq <= the mark. */
async function referenceMembers(req: MembershipRequest): Promise<string[]> {
  const byUser = new Map<string, StoredEvent[]>();
  for (const e of await storage.events.readEvents(req.propertyId)) {
    if (req.maxIngestSeq !== undefined && e.ingest_seq > req.maxIngestSeq) continue;
    byUser.set(e.user_pseudo_id, [...(byUser.get(e.user_pseudo_id) ?? []), e]);
  }
  const members: string[] = [];
  for (const [user, events] of byUser) {
    events.sort(compareEvents);
    const r = evaluateUser(req.audience, events, req.asOfMicros, req.config);
    if (isMemberAt(r.intervals, req.asOfMicros)) members.push(user);
  }
  return members.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));
}

/** Summary rows (fold as left, and brought up to date) == compiled-SQL rows; members == reference. */
async function assertSame(req: MembershipRequest): Promise<MemberRow[]> {
  assert.ok(storage.snapshots.usesDeviceSummary!(req), 'the summary path is taken');
  const want = await rows(plain, req);
  assert.deepEqual(await rows(frozen, req), want, 'summary as the fold left it');
  assert.deepEqual(
    await rows(storage.snapshots as DuckDbSnapshotStore, req),
    want,
    'summary brought up to date',
  );
  assert.deepEqual(
    want.map((r) => r.deviceId),
    await referenceMembers(req),
    'members = reference evaluator',
  );
  return want;
}

const config = (backfillDays: number | null): EvaluationConfig => ({
  createTimeMicros: AS_OF - 10n * DAY,
  backfillDays,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
});

test('only audiences the summary is exact for take it', () => {
  assert.equal(isAnyEventAudience(allUsers), true);
  assert.equal(isAnyEventAudience(anyEvent(3, 0.5)), true);
  assert.equal(isAnyEventAudience(anyEvent(3, 1)), false, 'eventCount > 1 is false on one event');
  assert.equal(isAnyEventAudience(parseAudience(E1)), false);
  const withExclusion = structuredClone(allUsers);
  withExclusion.filterClauses.push({ ...structuredClone(allUsers.filterClauses[0]!), clauseType: 'EXCLUDE' });
  assert.equal(isAnyEventAudience(withExclusion), false);
  const req = { propertyId: 1n, audience: parseAudience(E1), config: config(null), asOfMicros: AS_OF };
  assert.equal(storage.snapshots.usesDeviceSummary!(req), false);
  assert.equal(plain.usesDeviceSummary(req), false, 'no summary, no summary path');
});

// Instants around the boundaries: 540 days (All Users' duration), the backfill start, asOf.
const WHEN = [
  -600n * DAY,
  -540n * DAY,
  -540n * DAY + 1n,
  -539n * DAY,
  -40n * DAY,
  -3n * DAY,
  -3n * DAY + 1n,
  -MINUTE,
  0n,
  MINUTE,
];
const eventArb = fc.record({
  device: fc.constantFrom('d0', 'd1', 'd2', 'd3', 'd4', 'd5'),
  when: fc.constantFrom(...WHEN),
  trigger: fc.constantFrom(false, false, false, true),
  userId: fc.constantFrom<string | null>(null, null, 'u1', 'ü"\\'),
  consent: fc.constantFrom<'GRANTED' | 'DENIED' | null>(null, 'GRANTED', 'DENIED'),
  lat: fc.constantFrom<boolean | null>(null, true, false),
});
type Ev = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;
const toEvent = (property: bigint, e: Ev): NewEvent =>
  baseEvent({
    property_id: property,
    user_pseudo_id: e.device,
    event_timestamp: AS_OF + e.when,
    source: e.trigger ? 'audience_trigger' : 'mp',
    event_name: e.trigger ? 'audience_trigger' : 'page_view',
    user_id: e.userId,
    consent_ad_personalization: e.consent,
    device_is_limited_ad_tracking: e.lat,
  });

test(
  'random histories: the summary path equals the compiled query and the reference',
  { timeout: 600_000 },
  async () => {
    const seed = process.env.AUDEX_FC_SEED;
    const path = process.env.AUDEX_FC_PATH;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batches: fc.array(fc.array(eventArb, { minLength: 1, maxLength: 6 }), {
            minLength: 1,
            maxLength: 4,
          }),
          late: fc.array(eventArb, { maxLength: 4 }),
          foldAt: fc.constantFrom(0, 0.5, 1),
          foldLate: fc.boolean(),
          audience: fc.constantFrom(allUsers, anyEvent(3, 0), anyEvent(41, -2.5)),
          backfillDays: fc.constantFrom<number | null>(null, 30, 600),
        }),
        async (c) => {
          const property = nextProperty++;
          const seqs: bigint[] = [];
          for (const b of c.batches)
            seqs.push(...(await storage.events.append(b.map((e) => toEvent(property, e)))));
          const mark = seqs[seqs.length - 1]!;
          await index.catchUp(c.foldAt === 0 ? 0n : seqs[Math.floor((seqs.length - 1) * c.foldAt)]!);
          // Acknowledged after the export's mark (backdated ones included): never in its snapshot.
          await storage.events.append(c.late.map((e) => toEvent(property, e)));
          if (c.foldLate) await index.catchUp();
          await assertSame({
            propertyId: property,
            audience: c.audience,
            config: config(c.backfillDays),
            asOfMicros: AS_OF,
            maxIngestSeq: mark,
          });
        },
      ),
      {
        numRuns: Number(process.env.AUDEX_FC_RUNS ?? 60),
        ...(seed === undefined ? {} : { seed: Number(seed) }),
        ...(path === undefined ? {} : { path }),
        endOnFailure: true,
      },
    );
  },
);

describe('the summary stays exact through the data paths', () => {
  const property = 1000n;
  const req = async (): Promise<MembershipRequest> => ({
    propertyId: property,
    audience: allUsers,
    config: config(null),
    asOfMicros: AS_OF,
    maxIngestSeq: await storage.snapshots.highWaterMark(),
  });
  const ev = (device: string, when: bigint, o: Partial<NewEvent> = {}) =>
    baseEvent({ property_id: property, user_pseudo_id: device, event_timestamp: AS_OF + when, ...o });

  test('appends, then an import', async () => {
    await storage.events.append([
      ev('a', -2n * DAY, { user_id: 'ua' }),
      ev('b', -600n * DAY),
      ev('c', -100n * DAY, { user_id: 'uc' }),
      ev('d', -539n * DAY),
    ]);
    await index.catchUp();
    assert.deepEqual(
      (await assertSame(await req())).map((r) => [r.deviceId, r.userId]),
      [
        ['a', 'ua'],
        ['c', 'uc'],
        ['d', null],
      ],
    );
    // An import of old history for b (back in the window) and a new device.
    const stage = await storage.events.openStage();
    await storage.events.stageAppend(stage, [ev('b', -5n * DAY, { user_id: 'ub' }), ev('e', -1n * DAY)], 0);
    await storage.events.commitStage(stage, property, 'imp-1', (n) => `{"stored":${n}}`);
    const after = await assertSame(await req());
    assert.deepEqual(
      after.map((r) => r.deviceId),
      ['a', 'b', 'c', 'd', 'e'],
    );
  });

  test('a user deletion', async () => {
    await index.catchUp();
    const { devices } = await storage.eraser.deleteUserEvents(property, { kind: 'user_id', value: 'uc' });
    assert.deepEqual(devices, ['c']);
    await storage.eraser.deleteDeviceAttributes(property, devices);
    const after = await assertSame(await req());
    assert.ok(!after.some((r) => r.deviceId === 'c'));
  });

  test('a retention pass', async () => {
    await index.catchUp();
    // b's old event and d's only event go; b stays with its imported one, d leaves.
    const gone = await storage.eraser.deleteExpiredEvents(property, {
      eventsBefore: AS_OF - 400n * DAY,
      inactiveBefore: null,
    });
    assert.equal(gone, 2);
    const after = await assertSame(await req());
    assert.deepEqual(
      after.map((r) => r.deviceId),
      ['a', 'b', 'e'],
    );
  });

  test('appends racing an export: an event acknowledged before the create call is in the snapshot', async () => {
    await index.catchUp();
    let racing = true;
    let k = 0;
    const appends = (async () => {
      while (racing) {
        await storage.events.append([ev(`r${k++}`, -MINUTE)]);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        // Acknowledged, then the export's mark is taken (as the create call does).
        await storage.events.append([ev(`acked${round}`, -MINUTE, { user_id: `u${round}` })]);
        const r = await req();
        const id = `race${round}`;
        await storage.snapshots.materialize(id, r);
        const got = await storage.snapshots.read(id, 0, 1_000_000);
        await storage.snapshots.drop(id);
        const row = got.find((x) => x.deviceId === `acked${round}`);
        assert.deepEqual(row?.userId, `u${round}`, 'the acknowledged event is in the snapshot');
        // Nothing acknowledged after the mark, and the same rows as the compiled query.
        assert.deepEqual(got, await rows(plain, r));
      }
    } finally {
      racing = false;
      await appends;
    }
    assert.ok(k > 0);
  });
});

test('a data folder from before the summary is folded again from the first event', async () => {
  const old = mkdtempSync(join(tmpdir(), 'audex-devsummary-old-'));
  try {
    let s = await open({ dataDir: old });
    await s.events.append([baseEvent({ user_pseudo_id: 'x', event_timestamp: AS_OF - DAY })]);
    // The earlier layout: attribute-carrying devices only, no first_ts/last_ts; folded to seq 1.
    await s.events.db.writer.run('DROP TABLE device_attributes');
    await s.events.db.writer.run(`CREATE TABLE device_attributes (property_id BIGINT NOT NULL,
  device_id VARCHAR NOT NULL, user_id VARCHAR, user_id_k HUGEINT, consent VARCHAR, consent_k HUGEINT,
  npa BOOLEAN, npa_k HUGEINT, lat BOOLEAN, lat_k HUGEINT, max_ts BIGINT NOT NULL, max_seq BIGINT NOT NULL)`);
    await s.events.db.writer.run('UPDATE device_attributes_watermark SET seq = 1');
    await s.close();
    s = await open({ dataDir: old });
    try {
      const wm = await s.events.db.reader().all('SELECT seq FROM device_attributes_watermark');
      assert.deepEqual(
        wm.map((r) => BigInt(r.seq as bigint)),
        [0n],
      );
      await new DeviceAttributeIndex(s.events.db).catchUp();
      const rows = await s.events.db.reader().all('SELECT device_id, last_ts FROM device_attributes');
      assert.deepEqual(rows, [{ device_id: 'x', last_ts: AS_OF - DAY }]);
      const req = { propertyId: 1n, audience: allUsers, config: config(null), asOfMicros: AS_OF };
      assert.equal(await s.snapshots.materialize('old', req), 1);
    } finally {
      await s.close();
    }
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
});

// The SnapshotStore contract on every backend (test/helpers/backends.ts): members as of the
// snapshot point, their attributes (latest user id and ad signals as of that point), dense rn
// paging in deviceId byte order, idempotent retry, drop. The device attribute index is DuckDB's own
// maintenance, so its case runs on DuckDB only and says so.
// Run one engine: AUDEX_TEST_BACKENDS=clickhouse npm test -- test/exports.snapshots.test.ts
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import { forEachBackend } from './helpers/backends.ts';
import { DuckDbSnapshotStore } from '../src/storage/duckdb/snapshots.ts';
import { DeviceAttributeIndex } from '../src/storage/duckdb/device-attributes.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';
import type { EventStore, MembershipRequest, SnapshotStore } from '../src/storage/contract.ts';
import type { OpenedStorage } from '../src/storage/index.ts';
import type { NewEvent } from '../src/domain/event.ts';

const HOUR = 3_600_000_000n;
const NOW = BigInt(Date.now()) * 1000n;
const purchasers = BUILTIN_AUDIENCES.find((b) => b.key === 'purchasers')!.definition;

function ev(o: Partial<NewEvent>): NewEvent {
  return baseEvent({ event_timestamp: NOW - 10n * HOUR, received_at: NOW - 10n * HOUR, ...o });
}

/**
 * Purchasers d0–d3 with their signals, a non-member, events after the snapshot point, and one
 * backdated event acknowledged after the high-water mark; returns that mark.
 */
async function seed(events: EventStore, snapshots: SnapshotStore): Promise<bigint> {
  assert.equal(await snapshots.highWaterMark(), 0n);
  const seqs = await events.append([
    // d1: user id changes; latest non-null wins even if a later event has none.
    ev({ user_pseudo_id: 'd1', user_id: 'old', event_timestamp: NOW - 20n * HOUR }),
    ev({
      user_pseudo_id: 'd1',
      user_id: 'new',
      event_timestamp: NOW - 15n * HOUR,
      consent_ad_personalization: 'GRANTED',
    }),
    ev({ user_pseudo_id: 'd1', event_name: 'purchase', device_is_limited_ad_tracking: false }),
    // d2: consent denied; limited ad tracking true.
    ev({
      user_pseudo_id: 'd2',
      event_name: 'purchase',
      consent_ad_personalization: 'DENIED',
      device_is_limited_ad_tracking: true,
    }),
    // d3: non personalized ads flag.
    ev({ user_pseudo_id: 'd3', event_name: 'purchase', non_personalized_ads: true }),
    // d0: no signals at all.
    ev({ user_pseudo_id: 'd0', event_name: 'purchase' }),
    // not a purchaser
    ev({ user_pseudo_id: 'd9', event_name: 'page_view' }),
    // after asOf: neither membership nor attributes count.
    ev({ user_pseudo_id: 'd4', event_name: 'purchase', event_timestamp: NOW }),
    ev({ user_pseudo_id: 'd1', user_id: 'future', event_timestamp: NOW }),
  ]);
  // The mark is the last acknowledged event's ingest_seq (9 on DuckDB; clock-based on ClickHouse,
  // where several processes write one database).
  const hwm = await snapshots.highWaterMark();
  assert.equal(hwm, seqs[seqs.length - 1]);
  // Acknowledged after the snapshot point, backdated: must not change attributes.
  await events.append([
    ev({
      user_pseudo_id: 'd2',
      consent_ad_personalization: 'GRANTED',
      user_id: 'late',
      event_timestamp: NOW - 2n * HOUR,
    }),
  ]);
  return hwm;
}

function listOf(snapshots: SnapshotStore): (() => Promise<string[]>) | undefined {
  const list = (snapshots as { list?: () => Promise<string[]> }).list;
  return list?.bind(snapshots);
}

function request(hwm: bigint | undefined, extra: Partial<MembershipRequest> = {}): MembershipRequest {
  return {
    propertyId: 1n,
    audience: purchasers,
    config: {
      createTimeMicros: NOW - 100n * HOUR,
      backfillDays: 30,
      timeZone: 'UTC',
      ignoreEventNamesForAdjacency: [],
    },
    asOfMicros: NOW - HOUR,
    maxIngestSeq: hwm,
    ...extra,
  };
}

forEachBackend((backend) => {
  describe('SnapshotStore', () => {
    let storage: OpenedStorage;
    let snapshots: SnapshotStore;
    let hwm: bigint;
    const req = (extra: Partial<MembershipRequest> = {}) => request(hwm, extra);

    before(async () => {
      storage = await backend.open();
      snapshots = storage.snapshots;
      hwm = await seed(storage.events, snapshots);
    });
    after(() => storage?.close());

    test('materializes members in deviceId order with their attributes as of the snapshot point', async () => {
      const progress: number[] = [];
      const n = await snapshots.materialize('t1', req(), (p) => progress.push(p));
      assert.equal(n, 4);
      assert.ok(progress.length >= 2 && progress.every((p, i) => i === 0 || p >= progress[i - 1]!));
      assert.deepEqual(await snapshots.read('t1', 0, 10), [
        {
          deviceId: 'd0',
          userId: null,
          isAdsPersonalizationAllowed: '(not set)',
          isLimitedAdTracking: '(not set)',
        },
        { deviceId: 'd1', userId: 'new', isAdsPersonalizationAllowed: 'true', isLimitedAdTracking: 'false' },
        { deviceId: 'd2', userId: null, isAdsPersonalizationAllowed: 'false', isLimitedAdTracking: 'true' },
        {
          deviceId: 'd3',
          userId: null,
          isAdsPersonalizationAllowed: 'false',
          isLimitedAdTracking: '(not set)',
        },
      ]);
    });

    test('pages by rn: no overlap, no gap, empty past the end', async () => {
      await snapshots.materialize('t2', req());
      const pages = [await snapshots.read('t2', 0, 3), await snapshots.read('t2', 3, 3)];
      assert.deepEqual(
        pages.flat().map((r) => r.deviceId),
        ['d0', 'd1', 'd2', 'd3'],
      );
      assert.deepEqual(await snapshots.read('t2', 4, 10), []);
      assert.deepEqual(await snapshots.read('t2', 1000, 10), []);
    });

    test('a retry replaces the snapshot; drop removes it', async () => {
      assert.equal(await snapshots.materialize('t3', req()), 4);
      assert.equal(await snapshots.materialize('t3', req()), 4);
      assert.equal((await snapshots.read('t3', 0, 100)).length, 4);
      // list() is not in the contract; a store that has one (DuckDB's) must agree with read().
      const list = listOf(snapshots);
      if (backend.name === 'duckdb') assert.ok(list, 'the DuckDB snapshot store lists its snapshots');
      if (list) assert.ok((await list()).includes('t3'));
      await snapshots.drop('t3');
      if (list) assert.ok(!(await list()).includes('t3'));
      await assert.rejects(snapshots.read('t3', 0, 1));
    });
  });

  describe('SnapshotStore at a few thousand members', () => {
    test('rn follows deviceId byte order on the in-engine path', async () => {
      const storage = await backend.open({ threads: 2 });
      try {
        const { events: store, snapshots } = storage;
        const ids = Array.from(
          { length: 30_000 },
          (_, i) => `${((i * 7919) % 30_011).toString(36)}.${i % 7}`,
        );
        for (let i = 0; i < ids.length; i += 5000)
          await store.append(
            ids.slice(i, i + 5000).map((id) => ev({ user_pseudo_id: id, event_name: 'purchase' })),
          );
        const n = await snapshots.materialize('o1', {
          propertyId: 1n,
          audience: purchasers,
          config: {
            createTimeMicros: NOW - 100n * HOUR,
            backfillDays: 30,
            timeZone: 'UTC',
            ignoreEventNamesForAdjacency: [],
          },
          asOfMicros: NOW,
        });
        const unique = [...new Set(ids)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.equal(n, unique.length);
        const got: string[] = [];
        for (let offset = 0; offset < n; offset += 7000)
          got.push(...(await snapshots.read('o1', offset, 7000)).map((r) => r.deviceId));
        assert.deepEqual(got, unique);
      } finally {
        await storage.close();
      }
    });
  });
});

// DuckDB only: DeviceAttributeIndex is the DuckDB backend's maintenance (ClickHouse has none); the
// snapshot must not change whichever part of the history the index has folded.
describe('DuckDB only: the device attribute index', () => {
  let dir: string;
  let store: DuckDbEventStore;
  let snapshots: DuckDbSnapshotStore;
  let hwm: bigint;
  const req = (extra: Partial<MembershipRequest> = {}) => request(hwm, extra);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audex-snap-'));
    store = await DuckDbEventStore.open({ dataDir: dir });
    snapshots = new DuckDbSnapshotStore(store.db, new DuckDbAudienceEngine(store.db));
    hwm = await seed(store, snapshots);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the folded device attributes change nothing, late and future events included', async () => {
    const expected = await (async () => {
      await snapshots.materialize('f0', req());
      return snapshots.read('f0', 0, 10);
    })();
    const index = new DeviceAttributeIndex(store.db, { chunk: 2n });
    // Part of the history, then all of it: the state then holds the late (after the high-water
    // mark) and future (after asOf) events, so d1 and d2 must be recomputed from their events.
    for (const upTo of [3n, undefined]) {
      await index.catchUp(upTo);
      await snapshots.materialize('f1', req());
      assert.deepEqual(await snapshots.read('f1', 0, 10), expected);
    }
    await index.stop();
  });
});

// ClickHouse sharded by device: two private 18.16 servers form a two-shard cluster (local MergeTree
// tables on each, a Distributed table over them, sharded by cityHash64(user_pseudo_id)); for the
// differential test's random audiences and histories, the cluster returns the same members as a
// single node (and as the reference evaluator), and the events really are spread over both shards.
// Also: the storage opened on the cluster URL appends through the Distributed table and exports
// the same snapshot as a single node. Fails (never skips) when clickhouse-server is missing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import { ApiError } from '../src/domain/errors.ts';
import { audienceToJson, parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { E1 } from '../src/audience/fixtures/examples.ts';
import { openStorage, type OpenedStorage } from '../src/storage/index.ts';
import type { MembershipRequest } from '../src/storage/contract.ts';
import {
  CREATE_TIME,
  audienceArb,
  engineAudienceArb,
  buildEvents,
  historyArb,
  nowsArb,
  resolveNows,
  timeZoneArb,
} from './audience-arbitraries.ts';
import { freshDatabaseName, sharedClickHouse, type ClickHouseServer } from './helpers/clickhouse-server.ts';
import { openClickHouseScratch } from './helpers/clickhouse-scratch.ts';
import type { ScratchEngine } from './helpers/backends.ts';
import { realisticEvent } from './helpers/event-fixtures.ts';

const PROPERTY = 1n;

function validated(def: AudienceDefinition): AudienceDefinition | null {
  try {
    const meta = {
      name: 'properties/1/audiences/1',
      createTime: '2024-06-01T00:00:00Z',
      adsPersonalizationEnabled: true,
    };
    return parseAudience(audienceToJson(def, meta, false));
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}

let single: ClickHouseServer;
let cluster: ClickHouseServer;
let one: ScratchEngine;
let two: ScratchEngine;
let twoDb: string;

before(async () => {
  [single, cluster] = await Promise.all([sharedClickHouse(1), sharedClickHouse(2)]);
  one = await openClickHouseScratch(single.eventsUrl(freshDatabaseName()));
  twoDb = freshDatabaseName();
  two = await openClickHouseScratch(cluster.eventsUrl(twoDb));
});
after(async () => {
  await one?.close();
  await two?.close();
  await single?.stop();
  await cluster?.stop();
});

async function localCount(node: number, database: string): Promise<number> {
  const res = await fetch(`${cluster.nodes[node]!.httpUrl}/`, {
    method: 'POST',
    body: `SELECT count() FROM ${database}.events_local`,
  });
  return Number((await res.text()).trim());
}

test(
  'two shards return the same members as one node for the differential audiences',
  { timeout: 600_000 },
  async () => {
    let spread = 0;
    let nonEmpty = 0;
    const property = fc.asyncProperty(
      fc.oneof(audienceArb, engineAudienceArb),
      historyArb,
      nowsArb,
      timeZoneArb,
      fc.constantFrom<number | null>(30, 5, null),
      async (raw, history, nowSpecs, timeZone, backfillDays) => {
        const def = validated(raw);
        fc.pre(def !== null);
        if (def === null) return;
        const config: EvaluationConfig = {
          createTimeMicros: CREATE_TIME,
          backfillDays,
          timeZone,
          ignoreEventNamesForAdjacency: timeZone === 'UTC' ? [] : ['scroll'],
        };
        const events = buildEvents(history, PROPERTY);
        await Promise.all([one.load(events), two.load(events)]);
        const [a, b] = await Promise.all([localCount(0, twoDb), localCount(1, twoDb)]);
        assert.equal(a + b, events.length);
        if (a > 0 && b > 0) spread++;
        for (const now of resolveNows(nowSpecs, events, def.membershipDurationDays)) {
          const req: MembershipRequest = { propertyId: PROPERTY, audience: def, config, asOfMicros: now };
          const [m1, m2]: string[][] = await Promise.all([
            one.engine.findMembers(req),
            two.engine.findMembers(req),
          ]);
          assert.deepEqual(m2, m1);
          assert.deepEqual(m1, membersAt(evaluateAudience(def, events, now, config), now));
          if (m1.length > 0) nonEmpty++;
        }
      },
    );
    await fc.assert(property, {
      numRuns: Number(process.env.AUDEX_FC_RUNS ?? 25),
      ...(process.env.CI ? { seed: 20261203 } : {}),
    });
    assert.ok(spread > 0, 'some histories must have events on both shards');
    assert.ok(nonEmpty > 0, 'some checks must expect members');
  },
);

test('storage on the cluster URL: appends through the Distributed table, same snapshot as one node', async () => {
  const dirs: string[] = [];
  const opened: OpenedStorage[] = [];
  const open = async (url: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'audex-ch-shards-'));
    dirs.push(dataDir);
    const s = await openStorage('clickhouse', { dataDir, eventsUrl: url });
    opened.push(s);
    return s;
  };
  try {
    const db = freshDatabaseName();
    const [s1, s2] = await Promise.all([
      open(single.eventsUrl(freshDatabaseName())),
      open(cluster.eventsUrl(db)),
    ]);
    const events = Array.from({ length: 2000 }, (_, i) => realisticEvent(i * 37, 5n));
    for (let i = 0; i < events.length; i += 500) {
      const batch = events.slice(i, i + 500);
      await Promise.all([s1.events.append(batch), s2.events.append(batch)]);
    }
    assert.equal(await s2.events.countEvents(5n), events.length);
    const [a, b] = await Promise.all([localCount(0, db), localCount(1, db)]);
    assert.ok(a > 0 && b > 0 && a + b === events.length, `split ${a}/${b}`);
    const audience = parseAudience(E1);
    const asOf = events[events.length - 1]!.event_timestamp + 1n;
    const req = {
      propertyId: 5n,
      audience,
      config: {
        createTimeMicros: asOf,
        backfillDays: null,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: [],
      },
      asOfMicros: asOf,
    };
    const n1 = await s1.snapshots.materialize('shardsnap', {
      ...req,
      maxIngestSeq: await s1.snapshots.highWaterMark(),
    });
    const n2 = await s2.snapshots.materialize('shardsnap', {
      ...req,
      maxIngestSeq: await s2.snapshots.highWaterMark(),
    });
    assert.ok(n1 > 0);
    assert.equal(n2, n1);
    assert.deepEqual(
      await s2.snapshots.read('shardsnap', 0, n2),
      await s1.snapshots.read('shardsnap', 0, n1),
    );
    const gone = await s2.eraser.deleteUserEvents(5n, {
      kind: 'client_id',
      value: events[0]!.user_pseudo_id,
    });
    assert.ok(gone.events > 0);
    assert.equal(await s2.events.countEvents(5n), events.length - gone.events);
  } finally {
    for (const s of opened) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

// ClickHouse sharded by device: two private 18.16 servers form a two-shard cluster (local MergeTree
// tables on each, a Distributed table over them, sharded by cityHash64(user_pseudo_id)); for the
// differential test's random audiences and histories, the cluster returns the same members as a
// single node (and as the reference evaluator), and the events really are spread over both shards.
// Membership is shard-local: each node's system.query_log shows the audience statement started on
// that node itself over its own events_local (nothing through the Distributed table, no statement
// forwarded by a query node), and the members split between the nodes. Also: the storage opened
// on the cluster URL appends through the Distributed table and exports the same snapshot as a
// single node, its members and attributes computed on each shard. Fails (never skips) when
// clickhouse-server is missing. A snapshot larger than a ClickHouse block is numbered in device
// order inside ClickHouse on both. And a trigger pass on the cluster stores the triggers a single
// node stores (its IN subqueries over the Distributed table read each shard's own rows).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import type { NewEvent } from '../src/domain/event.ts';
import { ApiError } from '../src/domain/errors.ts';
import { BUILTIN_AUDIENCES, audienceToJson, parseAudience } from '../src/audience/validate.ts';
import { compareDeviceIds, evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { E1, E4, E10, E12 } from '../src/audience/fixtures/examples.ts';
import { openStorage, type OpenedStorage } from '../src/storage/index.ts';
import { openCatalog } from '../src/catalog/db.ts';
import { AudienceTriggerLogger } from '../src/audience/triggers/logger.ts';
import type { MemberRow, MembershipRequest } from '../src/storage/contract.ts';
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
import {
  freshDatabaseName,
  sharedClickHouse,
  startClickHouse,
  type ClickHouseServer,
} from './helpers/clickhouse-server.ts';
import { openClickHouseScratch } from './helpers/clickhouse-scratch.ts';
import type { ScratchEngine } from './helpers/backends.ts';
import { realisticEvent } from './helpers/event-fixtures.ts';

const PROPERTY = 1n;

// The ClickHouse trigger watermark waits for seqs to settle (several writers); one writer here.
process.env.AUDEX_TRIGGER_SETTLE_MS = '0';

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
  [single, cluster] = await Promise.all([
    sharedClickHouse(1),
    startClickHouse({ shards: 2, logQueries: true }),
  ]);
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

/** A statement on one cluster node over HTTP (test-written text only), its output as text. */
async function onNode(node: number, statement: string): Promise<string> {
  const res = await fetch(`${cluster.nodes[node]!.httpUrl}/`, { method: 'POST', body: statement });
  const text = await res.text();
  assert.ok(res.ok, text);
  return text;
}

async function localCount(node: number, database: string): Promise<number> {
  return Number((await onNode(node, `SELECT count() FROM ${database}.events_local`)).trim());
}

interface LoggedQuery {
  /** Sent by a client (audex) to this node, not forwarded to it by another node's Distributed table. */
  initial: boolean;
  readRows: number;
  resultRows: number;
  query: string;
}

/** The finished statements node `node` logged whose text holds `marker` (digits). */
async function logged(node: number, marker: string): Promise<LoggedQuery[]> {
  assert.match(marker, /^\d+$/);
  await onNode(node, 'SYSTEM FLUSH LOGS');
  const text = await onNode(
    node,
    `SELECT is_initial_query, read_rows, result_rows, query FROM system.query_log WHERE type = 2 AND position(query, '${marker}') > 0 AND position(query, 'query_log') = 0 FORMAT JSONEachRow`,
  );
  return text
    .split('\n')
    .filter((l) => l)
    .map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      return {
        initial: Number(r.is_initial_query) === 1,
        readRows: Number(r.read_rows),
        resultRows: Number(r.result_rows),
        query: String(r.query),
      };
    });
}

/** A read of the Distributed table: `events` as a whole word (not events_local). */
const READS_DISTRIBUTED = /\b(FROM|JOIN) (\w+\.)?`?events`?(?!_)\b/;

/**
 * Every statement holding `marker` ran shard-locally: on each node, audex sent it to that node
 * itself (is_initial_query), it read the node's own events_local and never the Distributed
 * table, and no node received a part of it from another node. Returns the per-node statements.
 */
async function assertShardLocal(marker: string, what: string): Promise<LoggedQuery[][]> {
  // A node logs a statement when it finishes it, which can come just after audex has read the
  // last bytes of its answer; SYSTEM FLUSH LOGS only writes what is queued. So look again for up
  // to 5 s before concluding that a node ran nothing (a CI run once found node 1's log empty).
  let perNode = await Promise.all(cluster.nodes.map((_, n) => logged(n, marker)));
  for (let tries = 0; tries < 50 && perNode.some((qs) => qs.length === 0); tries++) {
    await new Promise((r) => setTimeout(r, 100));
    perNode = await Promise.all(cluster.nodes.map((_, n) => logged(n, marker)));
  }
  perNode.forEach((queries, n) => {
    assert.ok(queries.length > 0, `${what}: node ${n} ran no statement of its own`);
    for (const q of queries) {
      assert.ok(q.initial, `${what}: node ${n} got a statement forwarded by a Distributed table: ${q.query}`);
      assert.match(q.query, /\bevents_local\b/, `${what}: node ${n} did not read its own events_local`);
      assert.doesNotMatch(q.query, READS_DISTRIBUTED, `${what}: node ${n} read the Distributed table`);
    }
  });
  return perNode;
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

test("each shard computes its own devices' membership (system.query_log of each node)", async () => {
  const events = Array.from({ length: 3000 }, (_, i) => ({
    ...realisticEvent(i, PROPERTY),
    user_pseudo_id: `u${i % 300}.${1_700_000_000 + (i % 300)}`,
  })).map((e, i) => ({ ...e, ingest_seq: BigInt(i + 1) }));
  await Promise.all([one.load(events), two.load(events)]);
  const [a, b] = await Promise.all([localCount(0, twoDb), localCount(1, twoDb)]);
  assert.ok(a > 0 && b > 0, `split ${a}/${b}`);
  const last = events[events.length - 1]!.event_timestamp;
  const config: EvaluationConfig = {
    createTimeMicros: last,
    backfillDays: null,
    timeZone: 'UTC',
    ignoreEventNamesForAdjacency: [],
  };
  // One per form: closed, closed with a permanent exclusion (GLOBAL NOT IN), latest event,
  // per-user sorted arrays. A distinct asOf per audience tells their statements apart in the logs.
  const audiences = { E1, E4, E10, E12 };
  let withMembers = 0;
  let k = 0;
  for (const [name, json] of Object.entries(audiences)) {
    const asOf = last + 1000n + BigInt(k++);
    const req: MembershipRequest = {
      propertyId: PROPERTY,
      audience: parseAudience(json),
      config,
      asOfMicros: asOf,
    };
    const [m1, m2] = await Promise.all([one.engine.findMembers(req), two.engine.findMembers(req)]);
    assert.deepEqual(m2, m1, name);
    if (m1.length > 0) withMembers++;
    const perNode = await assertShardLocal(String(asOf), name);
    // Each node returned its own devices' members: together, exactly the members.
    const returned = perNode.map((qs) => qs.reduce((n, q) => n + q.resultRows, 0));
    assert.equal(returned[0]! + returned[1]!, m1.length, `${name}: members per node ${returned.join('+')}`);
    perNode.forEach((qs, n) =>
      assert.ok(
        qs.some((q) => q.readRows > 0) && qs.every((q) => q.readRows <= 4 * [a, b][n]!),
        `${name}: node ${n} read ${qs.map((q) => q.readRows).join(',')} of its ${[a, b][n]} rows`,
      ),
    );
  }
  assert.ok(withMembers >= 2, 'some audiences must have members');
});

/**
 * The export attributes of realisticEvent devices as the rules give them (a user id on every third
 * device, consent DENIED on every tenth, no limited-ad-tracking flag), for `events`' devices.
 */
function assertRealisticAttributes(rows: readonly MemberRow[], events: readonly NewEvent[]): void {
  const byDevice = new Map(rows.map((r) => [r.deviceId, r]));
  for (const e of events) {
    const row = byDevice.get(e.user_pseudo_id);
    assert.ok(row, `no row for ${e.user_pseudo_id}`);
    assert.equal(row.userId, e.user_id);
    assert.equal(
      row.isAdsPersonalizationAllowed,
      e.consent_ad_personalization === 'DENIED' ? 'false' : 'true',
    );
    assert.equal(row.isLimitedAdTracking, '(not set)');
  }
}

/** Storages opened on events URLs, each with a data folder of its own; close() closes and removes all. */
function storages(): { open: (url: string) => Promise<OpenedStorage>; close: () => Promise<void> } {
  const dirs: string[] = [];
  const opened: OpenedStorage[] = [];
  return {
    open: async (url) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'audex-ch-shards-'));
      dirs.push(dataDir);
      const s = await openStorage('clickhouse', { dataDir, eventsUrl: url });
      opened.push(s);
      return s;
    },
    close: async () => {
      for (const s of opened) await s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

test('storage on the cluster URL: appends through the Distributed table, same snapshot as one node', async () => {
  const { open, close } = storages();
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
    // Members and attributes: one statement on each shard, over its own events_local.
    const perNode = await assertShardLocal(String(asOf), 'snapshot');
    for (const qs of perNode) assert.ok(qs.some((q) => /argMax\(user_id/.test(q.query)));
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
    await close();
  }
});

test('a snapshot of more rows than a ClickHouse block is numbered in device order inside ClickHouse, on one node and on the cluster', async () => {
  const { open, close } = storages();
  try {
    const [s1, s2] = await Promise.all([
      open(single.eventsUrl(freshDatabaseName())),
      open(cluster.eventsUrl(freshDatabaseName())),
    ]);
    // 70,000 devices (one event each): the sorted rows come in two blocks of at most 65,536.
    const DEVICES = 70_000;
    for (let i = 0; i < DEVICES; i += 10_000) {
      const batch = Array.from({ length: 10_000 }, (_, k) => realisticEvent(i + k, 6n));
      await Promise.all([s1.events.append(batch), s2.events.append(batch)]);
    }
    const asOf = realisticEvent(DEVICES, 6n).event_timestamp;
    const req = {
      propertyId: 6n,
      audience: BUILTIN_AUDIENCES[0]!.definition,
      config: {
        createTimeMicros: asOf,
        backfillDays: null,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: [],
      },
      asOfMicros: asOf,
    };
    const pages: MemberRow[][] = [];
    for (const s of [s1, s2]) {
      assert.ok(s.audiences.membersQuery?.(req), 'All Users is on the SQL plan');
      const n = await s.snapshots.materialize('bigsnap', {
        ...req,
        maxIngestSeq: await s.snapshots.highWaterMark(),
      });
      assert.equal(n, DEVICES);
      const rows = await s.snapshots.read('bigsnap', 0, n + 10);
      assert.equal(rows.length, DEVICES);
      for (let r = 1; r < rows.length; r++)
        assert.ok(
          compareDeviceIds(rows[r - 1]!.deviceId, rows[r]!.deviceId) < 0,
          `row ${r} out of device order: ${rows[r - 1]!.deviceId}, ${rows[r]!.deviceId}`,
        );
      // A page from the middle is the same rows as that slice of the whole.
      assert.deepEqual(await s.snapshots.read('bigsnap', 65_530, 10), rows.slice(65_530, 65_540));
      pages.push(rows);
    }
    assert.deepEqual(pages[1], pages[0]);
    assertRealisticAttributes(
      pages[0]!,
      [0, 1, 10, 30, 69_999].map((i) => realisticEvent(i, 6n)),
    );
    // The rows never passed through audex: the cluster's first node wrote the snapshot with one
    // INSERT … SELECT and received no JSONEachRow insert into it.
    await onNode(0, 'SYSTEM FLUSH LOGS');
    const inserts = await onNode(
      0,
      `SELECT query FROM system.query_log WHERE type = 2 AND position(query, 'export_snapshot_bigsnap') > 0 AND position(query, 'INSERT') = 1 FORMAT JSONEachRow`,
    );
    assert.match(inserts, /rowNumberInAllBlocks/);
    assert.doesNotMatch(inserts, /export_snapshot_bigsnap` FORMAT|export_snapshot_bigsnap FORMAT/);
  } finally {
    await close();
  }
});

test('an audience on the hybrid plan (an item leaf): the same snapshot on one node and on the cluster, numbered in device order', async () => {
  const { open, close } = storages();
  try {
    const [s1, s2] = await Promise.all([
      open(single.eventsUrl(freshDatabaseName())),
      open(cluster.eventsUrl(freshDatabaseName())),
    ]);
    const events = Array.from({ length: 3000 }, (_, i) => realisticEvent(i * 7, 7n));
    await Promise.all([s1.events.append(events), s2.events.append(events)]);
    const audience = parseAudience({
      displayName: 'shirts',
      description: 'x',
      membershipDurationDays: 30,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  {
                    orGroup: {
                      filterExpressions: [
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'itemName',
                            stringFilter: { matchType: 'EXACT', value: 'Shirt' },
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
    const asOf = events[events.length - 1]!.event_timestamp + 1n;
    const req = {
      propertyId: 7n,
      audience,
      config: {
        createTimeMicros: asOf,
        backfillDays: null,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: [],
      },
      asOfMicros: asOf,
    };
    const snapshots: MemberRow[][] = [];
    for (const s of [s1, s2]) {
      assert.equal(
        s.audiences.membersQuery?.(req) ?? null,
        null,
        'item leaves take the hybrid plan on 18.16',
      );
      const full = { ...req, maxIngestSeq: await s.snapshots.highWaterMark() };
      const members = await s.audiences.findMembers(full);
      assert.ok(members.length > 0);
      const n = await s.snapshots.materialize('hybridsnap', full);
      assert.equal(n, members.length);
      const rows = await s.snapshots.read('hybridsnap', 0, n + 10);
      assert.deepEqual(
        rows.map((r) => r.deviceId),
        members,
      );
      snapshots.push(rows);
    }
    assert.deepEqual(snapshots[1], snapshots[0]);
    const members = new Set(snapshots[0]!.map((r) => r.deviceId));
    assertRealisticAttributes(
      snapshots[0]!,
      events.filter((e) => members.has(e.user_pseudo_id)).slice(0, 20),
    );
  } finally {
    await close();
  }
});

test('a trigger pass on the cluster stores the same triggers as on one node', async () => {
  const MIN = 60_000_000n;
  const T0 = 1_780_000_000_000_000n;
  const events = Array.from({ length: 200 }, (_, i) => ({
    ...realisticEvent(i, 1n),
    user_pseudo_id: `t${i % 20}`,
    event_timestamp: T0 + BigInt(i) * 7n * MIN,
    received_at: T0 + BigInt(i) * 7n * MIN,
  }));
  const fired: string[][] = [];
  for (const url of [single.eventsUrl(freshDatabaseName()), cluster.eventsUrl(freshDatabaseName())]) {
    const dir = mkdtempSync(join(tmpdir(), 'audex-ch-shards-trig-'));
    const storage = await openStorage('clickhouse', { dataDir: dir, eventsUrl: url });
    const catalog = await openCatalog(dir);
    try {
      await catalog
        .insertInto('properties')
        .values({
          account_id: 1,
          display_name: 'p',
          time_zone: 'UTC',
          currency_code: 'USD',
          industry_category: 'OTHER',
          create_time: 0,
          update_time: 0,
        })
        .execute();
      for (const [name, def] of Object.entries({ E1, E10 }))
        await catalog
          .insertInto('audiences')
          .values({
            property_id: 1,
            display_name: name,
            definition: JSON.stringify({
              ...def,
              eventTrigger: { eventName: `trigger_${name}`, logCondition: 'AUDIENCE_JOINED' },
            }),
            builtin: null,
            create_time: Number(T0 - MIN),
          })
          .execute();
      const errors: string[] = [];
      let clock = T0 - MIN;
      const logger = new AudienceTriggerLogger({
        catalog,
        executor: storage.executor,
        progress: storage.triggerProgress,
        submit: (e) => storage.events.append(e),
        backfillDays: null,
        intervalMs: 1_000_000,
        log: { info: () => undefined, error: (msg, f) => errors.push(`${msg} ${JSON.stringify(f)}`) },
        now: () => clock,
      });
      await logger.init();
      await logger.runPass();
      await storage.events.append(events);
      clock = T0 + 200n * 7n * MIN;
      const pass = await logger.runPass();
      assert.deepEqual(errors, []);
      assert.equal(pass?.users, 20);
      fired.push(
        (await storage.events.readEvents(1n))
          .filter((e) => e.source === 'audience_trigger')
          .map((e) => `${e.event_name} ${e.user_pseudo_id} ${e.event_timestamp}`)
          .sort(),
      );
    } finally {
      await catalog.destroy();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(fired[0]!.length > 0, 'the pass stored triggers');
  assert.deepEqual(fired[1], fired[0]);
});

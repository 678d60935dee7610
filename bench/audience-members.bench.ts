// findMembers at scale. Generates GA4-like events in DuckDB SQL into the real `events` schema
// (N events, N/10 devices, sessions of ~3 events, 90 days, param JSON in the compact encoding),
// then for each audience times findMembers beside a hand-written DuckDB query that computes the
// same members (the two run alternately, best of AUDEX_BENCH_RUNS = 3), checks that the two member
// lists agree, and prints a table with the ratio and the peak RSS. "in engine": the same two
// queries with the numbered member list written to a table inside DuckDB, as create -> ACTIVE does
// for a SQL-plan audience (no id handed to JavaScript). Run by hand:
//   npx tsx bench/audience-members.bench.ts                      (10M events)
//   AUDEX_BENCH_EVENTS=100000000 npx tsx bench/audience-members.bench.ts
// The database file is kept under .tmp/ (AUDEX_BENCH_DB to choose) and reused when it already
// holds the requested number of events. Data is generated in INSERTs of AUDEX_BENCH_CHUNK (10M)
// events, so memory stays bounded (100M events: ~5 GB of disk). DuckDB runs with 2 threads and
// memory_limit AUDEX_BENCH_MEMORY_LIMIT (default 4GB, audex's own default), spilling to
// <database file>.tmp (one folder per file: runs of two sizes at once must not share spill files).

import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import { BUILTIN_AUDIENCES, parseAudience } from '../src/audience/validate.ts';
import { createEventsTableSql } from '../src/storage/duckdb/schema.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';

export const EVENTS = Number(process.env.AUDEX_BENCH_EVENTS ?? 10_000_000);
export const DEVICES = Math.max(1, Math.floor(EVENTS / 10));
export const DB = process.env.AUDEX_BENCH_DB ?? `.tmp/bench-audience-${EVENTS}.duckdb`;
export const RUNS = Number(process.env.AUDEX_BENCH_RUNS ?? 3);
export const MEMORY_LIMIT = process.env.AUDEX_BENCH_MEMORY_LIMIT ?? '4GB';
const CHUNK = Number(process.env.AUDEX_BENCH_CHUNK ?? 10_000_000);
export const NOW = 1_735_689_600_000_000n; // 2025-01-01T00:00:00Z
export const DAY = 86_400_000_000n;
export const CONFIG: EvaluationConfig = {
  createTimeMicros: NOW,
  backfillDays: 90,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
};
export const WINDOW_START = NOW - 90n * DAY;
export const CUTOFF = NOW - 30n * DAY; // membershipDurationDays = 30 everywhere

let peakRss = 0;
const sampleRss = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
setInterval(sampleRss, 20).unref();

export async function generate(con: DuckDBConnection): Promise<void> {
  await con.run('DROP TABLE IF EXISTS events');
  await con.run(createEventsTableSql());
  const t = performance.now();
  // Device u has 10 events in sessions of 3 (k // 3); a session starts at a hashed instant in the
  // last 90 days and its events are up to 20 minutes apart. Names: 3% purchase, 5% add_to_cart,
  // 0.3% refund, 4% view_item, 2% begin_checkout, the rest page_view/scroll/user_engagement/...
  // Chunks of CHUNK rows in ingest order (ORDER BY i within a chunk); every value depends only on i.
  for (let from = 0; from < EVENTS; from += CHUNK) {
    await con.run(
      `INSERT INTO events
WITH base AS (SELECT i, i % CAST($1 AS BIGINT) AS u, i // CAST($1 AS BIGINT) AS k, random() AS r FROM range(CAST($2 AS BIGINT), CAST($4 AS BIGINT)) t(i)),
named AS (SELECT *,
  (CAST($3 AS BIGINT) - (hash(u, k // 3) % (90 * 86400000000))::BIGINT + (k % 3) * (hash(i) % 1200000000)::BIGINT)::BIGINT AS ts,
  CASE WHEN r < 0.03 THEN 'purchase' WHEN r < 0.08 THEN 'add_to_cart' WHEN r < 0.083 THEN 'refund'
       WHEN r < 0.123 THEN 'view_item' WHEN r < 0.143 THEN 'begin_checkout'
       ELSE (['page_view','scroll','user_engagement','session_start','click','search','view_item_list','select_item'])[1 + (hash(i, 7) % 8)::INT] END AS name,
  CASE WHEN r < 0.03 THEN round(hash(i, 5) % 20000 / 100.0, 2) WHEN r >= 0.08 AND r < 0.083 THEN round(hash(i, 6) % 10000 / 100.0, 2) END AS value
FROM base)
SELECT 1::BIGINT, 's1', 'WEB', (i + 1)::BIGINT, name, ts, strftime(make_timestamp(ts), '%Y%m%d'), ts + 100000, 'mp',
  'dev-' || u, CASE WHEN u % 3 = 0 THEN 'user-' || u END, (u * 10 + k // 3)::BIGINT, (k // 3 + 1)::INTEGER,
  '{"page_location":{"s":"https://shop.example.com/p/' || (hash(i, 3) % 500) || '"},"engagement_time_msec":{"i":' || (hash(i, 4) % 30000) || '}'
    || CASE WHEN value IS NOT NULL THEN ',"value":{"d":' || value || '},"currency":{"s":"USD"}' ELSE '' END || '}',
  CASE WHEN u % 4 = 0 THEN '{"plan":{"s":"pro","t":' || ts || '}}' ELSE '{}' END,
  (['desktop','mobile','tablet'])[1 + (hash(u, 1) % 3)::INT], NULL, NULL, NULL, NULL, 'en-us', NULL, NULL, NULL,
  NULL, NULL, NULL, (['US','DE','FR','GB','JP','BR','IN','CA'])[1 + (hash(u, 2) % 8)::INT], NULL, NULL,
  NULL, NULL, NULL,
  CASE WHEN name = 'purchase' THEN 'T' || i END, CASE WHEN name = 'purchase' THEN value END, CASE WHEN name = 'refund' THEN value END,
  '[]', NULL, NULL, NULL
FROM named ORDER BY i`,
      [BigInt(DEVICES), BigInt(from), NOW, BigInt(Math.min(EVENTS, from + CHUNK))],
    );
    console.log(
      `  ${Math.min(EVENTS, from + CHUNK).toLocaleString('en-US')} events (${((performance.now() - t) / 1000).toFixed(0)} s)`,
    );
  }
  await con.run('CHECKPOINT');
  console.log(
    `generated ${EVENTS.toLocaleString('en-US')} events / ${DEVICES.toLocaleString('en-US')} devices in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
}

const orGroup = (leaf: object): object => ({ orGroup: { filterExpressions: [leaf] } });
const simple = (scope: string, groups: object[]): object => ({
  simpleFilter: { scope, filterExpression: { andGroup: { filterExpressions: groups } } },
});
const event = (eventName: string, params?: object[]): object => ({
  eventFilter: {
    eventName,
    ...(params ? { eventParameterFilterExpression: { andGroup: { filterExpressions: params } } } : {}),
  },
});
const audience = (clauses: object[], extra: object = {}): AudienceDefinition =>
  parseAudience({
    displayName: 'bench',
    description: 'bench',
    membershipDurationDays: 30,
    ...extra,
    filterClauses: clauses,
  });
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
export const WINDOW = `property_id = 1 AND event_timestamp >= ${WINDOW_START} AND event_timestamp <= ${NOW} AND source <> 'audience_trigger'`;

interface Case {
  name: string;
  def: AudienceDefinition;
  hand: string;
}

const POS = '(CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq';
const ALL_USERS_CUTOFF = NOW - 540n * DAY;
const dim = (fieldName: string, value: string): object => ({
  dimensionOrMetricFilter: {
    fieldName,
    stringFilter: { matchType: 'EXACT', value, caseSensitive: true },
    atAnyPointInTime: false,
  },
});

const CASES: Case[] = [
  {
    name: 'All Users (built-in)',
    def: BUILTIN_AUDIENCES[0]!.definition,
    hand: `SELECT DISTINCT user_pseudo_id FROM events WHERE ${WINDOW} AND event_timestamp > ${ALL_USERS_CUTOFF} ORDER BY 1`,
  },
  {
    // GA4's default exclusion mode; the purchase exclusion is scoped to the session.
    name: 'temporary exclusion (cart, not purchased in the session)',
    def: audience([
      { clauseType: 'INCLUDE', ...simple(ACROSS, [orGroup(event('add_to_cart'))]) },
      {
        clauseType: 'EXCLUDE',
        ...simple('AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION', [orGroup(event('purchase'))]),
      },
    ]),
    hand: `WITH lastev AS (
  SELECT user_pseudo_id AS u, arg_max_null(ga_session_id, ${POS}) AS ls, arg_max(event_name, ${POS}) AS ln,
    max(event_timestamp) FILTER (WHERE event_name = 'add_to_cart') AS last_atc
  FROM events WHERE ${WINDOW} AND event_timestamp > ${CUTOFF} GROUP BY u HAVING last_atc > ${CUTOFF}),
ps AS (SELECT DISTINCT user_pseudo_id AS u, ga_session_id AS s FROM events WHERE ${WINDOW} AND event_name = 'purchase' AND ga_session_id IS NOT NULL)
SELECT l.u FROM lastev l WHERE NOT (l.ls IS NULL AND l.ln = 'purchase') AND NOT EXISTS (SELECT 1 FROM ps WHERE ps.u = l.u AND ps.s = l.ls) ORDER BY 1`,
  },
  {
    name: 'dynamic dimension (device at the latest event = mobile)',
    def: audience([{ clauseType: 'INCLUDE', ...simple(ACROSS, [orGroup(dim('deviceCategory', 'mobile'))]) }]),
    hand: `SELECT u FROM (SELECT user_pseudo_id AS u, arg_max(device_category, ${POS}) AS d FROM events
WHERE ${WINDOW} AND event_timestamp > ${CUTOFF} GROUP BY u) WHERE d = 'mobile' ORDER BY 1`,
  },
  {
    name: 'inAnyNDayPeriod count (> 1 page_view in some 7 days)',
    def: audience([
      {
        clauseType: 'INCLUDE',
        ...simple(ACROSS, [
          orGroup(
            event('page_view', [
              {
                dimensionOrMetricFilter: {
                  fieldName: 'eventCount',
                  numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
                  atAnyPointInTime: true,
                  inAnyNDayPeriod: 7,
                },
              },
            ]),
          ),
        ]),
      },
    ]),
    hand: `SELECT DISTINCT u FROM (
  SELECT user_pseudo_id AS u, event_timestamp AS t,
    lag(event_timestamp // 86400000000, 1) OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq) AS d1
  FROM events WHERE ${WINDOW} AND event_name = 'page_view')
WHERE t > ${CUTOFF} AND d1 >= t // 86400000000 - 6 ORDER BY 1`,
  },
  {
    name: 'sequence view_item -> immediately add_to_cart <= 1 h',
    def: audience([
      {
        clauseType: 'INCLUDE',
        sequenceFilter: {
          scope: ACROSS,
          sequenceSteps: [
            {
              scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
              filterExpression: { andGroup: { filterExpressions: [orGroup(event('view_item'))] } },
            },
            {
              scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
              immediatelyFollows: true,
              constraintDuration: '3600s',
              filterExpression: { andGroup: { filterExpressions: [orGroup(event('add_to_cart'))] } },
            },
          ],
        },
      },
    ]),
    hand: `SELECT DISTINCT u FROM (
  SELECT user_pseudo_id AS u, event_name AS n, event_timestamp AS t, lag(event_name) OVER w AS pn, lag(event_timestamp) OVER w AS pt
  FROM events WHERE ${WINDOW}
  WINDOW w AS (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq))
WHERE n = 'add_to_cart' AND pn = 'view_item' AND t - pt <= 3600000000 AND t > ${CUTOFF} ORDER BY 1`,
  },
  {
    // The same over all 90 days (membership 90 days): no event is older than the chain bound, so
    // nothing is pruned from the scan, as for the console's size estimate on bench/exports.bench.ts data.
    name: 'same sequence, 90-day membership (whole window)',
    def: audience(
      [
        {
          clauseType: 'INCLUDE',
          sequenceFilter: {
            scope: ACROSS,
            sequenceSteps: [
              {
                scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
                filterExpression: { andGroup: { filterExpressions: [orGroup(event('view_item'))] } },
              },
              {
                scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
                immediatelyFollows: true,
                constraintDuration: '3600s',
                filterExpression: { andGroup: { filterExpressions: [orGroup(event('add_to_cart'))] } },
              },
            ],
          },
        },
      ],
      { membershipDurationDays: 90 },
    ),
    hand: `SELECT DISTINCT u FROM (
  SELECT user_pseudo_id AS u, event_name AS n, event_timestamp AS t, lag(event_name) OVER w AS pn, lag(event_timestamp) OVER w AS pt
  FROM events WHERE ${WINDOW}
  WINDOW w AS (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq))
WHERE n = 'add_to_cart' AND pn = 'view_item' AND t - pt <= 3600000000 AND t > ${NOW - 90n * DAY} ORDER BY 1`,
  },
  {
    // The dynamic N-day count form (nday-sql.ts): the count over asOf's 7 days, the last counted
    // event after the cutoff.
    name: 'dynamic N-day count (> 1 page_view in the last 7 days)',
    def: audience([
      {
        clauseType: 'INCLUDE',
        ...simple(ACROSS, [
          orGroup(
            event('page_view', [
              {
                dimensionOrMetricFilter: {
                  fieldName: 'eventCount',
                  numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
                  inAnyNDayPeriod: 7,
                },
              },
            ]),
          ),
        ]),
      },
    ]),
    hand: `SELECT user_pseudo_id FROM events WHERE ${WINDOW} AND event_name = 'page_view' AND event_timestamp > ${CUTOFF}
GROUP BY 1 HAVING count(*) FILTER (WHERE event_timestamp >= ${NOW - 6n * DAY}) > 1 ORDER BY 1`,
  },
  {
    // E9's shape: a dynamic N-day metric (sessions in the last 7 days), judged at every midnight.
    // Hand-written: the sessions with an event in the last 7 local days as of now (a member's
    // window holds at asOf; it can only have become true at an event, which qualified).
    name: 'dynamic N-day metric (> 2 sessions in the last 7 days)',
    def: audience([
      {
        clauseType: 'INCLUDE',
        ...simple(ACROSS, [
          orGroup({
            dimensionOrMetricFilter: {
              fieldName: 'sessions',
              numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '2' } },
              inAnyNDayPeriod: 7,
            },
          }),
        ]),
      },
    ]),
    hand: `SELECT u FROM (SELECT user_pseudo_id AS u, count(DISTINCT COALESCE(CAST(ga_session_id AS VARCHAR), 'e' || CAST(ingest_seq AS VARCHAR))) AS n
FROM events WHERE ${WINDOW} AND event_timestamp >= ${NOW - 6n * DAY} GROUP BY u) WHERE n > 2 ORDER BY 1`,
  },
  {
    // A later step over a range with an eventCount leaf (the fold: docs/audiences.md §8.1): more
    // than one page_view after a view_item, then a purchase. Hand-written: some purchase after the
    // user's first view_item with 2 page_views between them.
    name: 'sequence with a range step counting events',
    def: audience([
      {
        clauseType: 'INCLUDE',
        sequenceFilter: {
          scope: ACROSS,
          sequenceSteps: [
            {
              scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
              filterExpression: { andGroup: { filterExpressions: [orGroup(event('view_item'))] } },
            },
            {
              scope: ACROSS,
              filterExpression: {
                andGroup: {
                  filterExpressions: [
                    orGroup(
                      event('page_view', [
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'eventCount',
                            numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
                          },
                        },
                      ]),
                    ),
                  ],
                },
              },
            },
            {
              scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
              filterExpression: { andGroup: { filterExpressions: [orGroup(event('purchase'))] } },
            },
          ],
        },
      },
    ]),
    hand: `SELECT DISTINCT u FROM (
  SELECT *, max(CASE WHEN pos = fv THEN pv END) OVER (PARTITION BY u) AS pv_fv FROM (
    SELECT user_pseudo_id AS u, event_name AS n, event_timestamp AS t, ${POS} AS pos,
      sum(CASE WHEN event_name = 'page_view' THEN 1 ELSE 0 END) OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq ROWS UNBOUNDED PRECEDING) AS pv,
      min(CASE WHEN event_name = 'view_item' THEN ${POS} END) OVER (PARTITION BY user_pseudo_id) AS fv
    FROM events WHERE ${WINDOW} AND event_name IN ('view_item', 'page_view', 'purchase')))
WHERE n = 'purchase' AND pos > fv AND pv - pv_fv >= 2 AND t > ${CUTOFF} ORDER BY 1`,
  },
  {
    name: 'plain event (purchase)',
    def: audience([{ clauseType: 'INCLUDE', ...simple(ACROSS, [orGroup(event('purchase'))]) }]),
    hand: `SELECT DISTINCT user_pseudo_id FROM events WHERE ${WINDOW} AND event_name = 'purchase' AND event_timestamp > ${CUTOFF} ORDER BY 1`,
  },
  {
    name: 'param filter + count (value>100, >=2 purchases)',
    def: audience([
      {
        clauseType: 'INCLUDE',
        ...simple(ACROSS, [
          orGroup(
            event('purchase', [
              {
                dimensionOrMetricFilter: {
                  fieldName: 'value',
                  numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: 100 } },
                },
              },
            ]),
          ),
          orGroup(
            event('purchase', [
              {
                dimensionOrMetricFilter: {
                  fieldName: 'eventCount',
                  numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
                },
              },
            ]),
          ),
        ]),
      },
    ]),
    hand: `SELECT user_pseudo_id FROM events WHERE ${WINDOW} AND event_name = 'purchase' GROUP BY 1
HAVING count(*) >= 2 AND bool_or(CAST(event_params->>'$.value.d' AS DOUBLE) > 100) AND max(event_timestamp) > ${CUTOFF} ORDER BY 1`,
  },
  {
    name: 'same session (add_to_cart + begin_checkout)',
    def: audience([
      {
        clauseType: 'INCLUDE',
        ...simple('AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION', [
          orGroup(event('add_to_cart')),
          orGroup(event('begin_checkout')),
        ]),
      },
    ]),
    hand: `SELECT DISTINCT user_pseudo_id FROM events WHERE ${WINDOW} AND event_name IN ('add_to_cart', 'begin_checkout')
GROUP BY user_pseudo_id, ga_session_id HAVING count_if(event_name = 'add_to_cart') > 0 AND count_if(event_name = 'begin_checkout') > 0 AND max(event_timestamp) > ${CUTOFF} ORDER BY 1`,
  },
  {
    name: 'sequence view_item -> add_to_cart <= 1 h',
    def: audience([
      {
        clauseType: 'INCLUDE',
        sequenceFilter: {
          scope: ACROSS,
          sequenceSteps: [
            {
              scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
              filterExpression: { andGroup: { filterExpressions: [orGroup(event('view_item'))] } },
            },
            {
              scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
              constraintDuration: '3600s',
              filterExpression: { andGroup: { filterExpressions: [orGroup(event('add_to_cart'))] } },
            },
          ],
        },
      },
    ]),
    hand: `SELECT user_pseudo_id FROM (
  SELECT user_pseudo_id, event_name, event_timestamp,
    max(CASE WHEN event_name = 'view_item' THEN event_timestamp END) OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS lv
  FROM events WHERE ${WINDOW} AND event_name IN ('view_item', 'add_to_cart'))
WHERE event_name = 'add_to_cart' AND event_timestamp - lv <= 3600000000 GROUP BY 1 HAVING max(event_timestamp) > ${CUTOFF} ORDER BY 1`,
  },
  {
    name: 'include + permanent exclusion (cart, never purchased)',
    def: audience(
      [
        { clauseType: 'INCLUDE', ...simple(ACROSS, [orGroup(event('add_to_cart'))]) },
        { clauseType: 'EXCLUDE', ...simple(ACROSS, [orGroup(event('purchase'))]) },
      ],
      { exclusionDurationMode: 'EXCLUDE_PERMANENTLY' },
    ),
    hand: `SELECT user_pseudo_id FROM events WHERE ${WINDOW} AND event_name IN ('add_to_cart', 'purchase') GROUP BY 1
HAVING count_if(event_name = 'purchase') = 0 AND max(event_timestamp) > ${CUTOFF} ORDER BY 1`,
  },
];

interface Timing<T> {
  ms: number;
  value: T;
}

/**
 * Best of RUNS for two queries, run alternately (a, b, a, b, …) so that a change in the machine's
 * load during the measurement affects both sides alike.
 */
export async function timedPair<A, B>(
  a: () => Promise<A>,
  b: () => Promise<B>,
): Promise<[Timing<A>, Timing<B>]> {
  const once = async <T>(fn: () => Promise<T>, best: Timing<T> | null): Promise<Timing<T>> => {
    const t = performance.now();
    const value = await fn();
    const ms = performance.now() - t;
    sampleRss();
    return best === null || ms < best.ms ? { ms, value } : best;
  };
  let ta: Timing<A> | null = null;
  let tb: Timing<B> | null = null;
  for (let r = 0; r < RUNS; r++) {
    ta = await once(a, ta);
    tb = await once(b, tb);
  }
  return [ta!, tb!];
}

async function main(): Promise<void> {
  mkdirSync('.tmp', { recursive: true });
  const fresh = !existsSync(DB);
  const instance = await DuckDBInstance.create(DB, {
    threads: '2',
    memory_limit: MEMORY_LIMIT,
    // Per database file: two runs at once (another size) must not share spill files.
    temp_directory: `${DB}.tmp`,
  });
  const con = await instance.connect();
  let have = 0;
  if (!fresh) {
    try {
      have = Number((await con.runAndReadAll('SELECT count(*) FROM events')).getRows()[0]?.[0] ?? 0);
    } catch {
      have = 0;
    }
  }
  if (have !== EVENTS) await generate(con);
  const engine = new DuckDbAudienceEngine(con);
  const rows: string[][] = [];
  // Substrings of the case names to run, separated by "|", e.g. "inAnyNDay|All Users".
  const only = process.env.AUDEX_BENCH_CASES?.split('|');
  for (const c of CASES.filter((x) => only === undefined || only.some((o) => x.name.includes(o)))) {
    const req = { propertyId: 1n, audience: c.def, config: CONFIG, asOfMicros: NOW };
    const plan = engine.explain(req).plan;
    if (plan === 'hybrid' && process.env.AUDEX_BENCH_HYBRID !== '1') {
      rows.push([c.name, plan, '-', '-', 'skipped (fold)', '-', '-', '-', '-']);
      continue;
    }
    const [ours, hand] = await timedPair(
      () => engine.findMembers(req),
      async () => (await con.runAndReadAll(c.hand, [] as DuckDBValue[])).getColumns()[0]?.map(String) ?? [],
    );
    const same = ours.value.length === hand.value.length && ours.value.every((u, i) => u === hand.value[i]);
    // What create -> ACTIVE does with a SQL-plan audience (src/storage/duckdb/snapshots.ts): the
    // numbered member list written inside the engine, no id handed to JavaScript; both sides alike.
    const inEngine = (text: string, params: DuckDBValue[]) => async (): Promise<number> => {
      await con.run(
        `CREATE OR REPLACE TEMP TABLE bench_members AS SELECT (row_number() OVER () - 1)::BIGINT AS rn, m.u FROM (${text}) AS m(u)`,
        params,
      );
      return Number((await con.runAndReadAll('SELECT count(*) FROM bench_members')).getRows()[0]?.[0] ?? 0);
    };
    const q = engine.membersQuery(req);
    if (q !== null && process.env.AUDEX_BENCH_EXPLAIN === '1') {
      // DuckDB's profile of audex's statement (operators with their times and row counts).
      const plan = await con.runAndReadAll(`EXPLAIN ANALYZE ${q.sql}`, q.parameters as DuckDBValue[]);
      for (const row of plan.getRows()) console.log(String(row[1]));
    }
    const [oursIn, handIn] =
      q === null
        ? [null, null]
        : await timedPair(inEngine(q.sql, q.parameters as DuckDBValue[]), inEngine(c.hand, []));
    rows.push([
      c.name,
      plan,
      ours.value.length.toLocaleString('en-US'),
      same && (oursIn === null || oursIn.value === handIn.value) ? 'yes' : 'NO',
      `${ours.ms.toFixed(0)} ms`,
      `${hand.ms.toFixed(0)} ms`,
      `${(ours.ms / hand.ms).toFixed(2)}x`,
      oursIn === null ? '-' : `${oursIn.ms.toFixed(0)} ms`,
      handIn === null ? '-' : `${handIn.ms.toFixed(0)} ms`,
    ]);
  }
  const head = [
    'audience',
    'path',
    'members',
    'agree',
    'findMembers',
    'hand-written',
    'ratio',
    'in engine',
    'hand, in engine',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((v, i) => v.padEnd(widths[i]!)).join(' | ');
  console.log(
    `\n${EVENTS.toLocaleString('en-US')} events, ${DEVICES.toLocaleString('en-US')} devices, threads=2, memory_limit=${MEMORY_LIMIT}, best of ${RUNS}`,
  );
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  console.log(
    `peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  con.closeSync();
  instance.closeSync();
}

// Run only as a script: bench/audience-sequences.bench.ts imports the data generation.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

// Sequence audiences at scale: findMembers (compile + the one SQL statement) beside a hand-written
// DuckDB query of the same shape, on the data of bench/audience-members.bench.ts (imported: same
// generator, same database file, reused when it already holds the requested number of events).
// Each pair runs alternately, best of AUDEX_BENCH_RUNS (3); the member lists must agree. Prints
// the load average, since the machine may be shared. Run by hand:
//   npx tsx bench/audience-sequences.bench.ts                  (10M events / 1M devices)

import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import type { AudienceDefinition } from '../src/domain/audience.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import {
  CONFIG,
  CUTOFF,
  DAY,
  DB,
  DEVICES,
  EVENTS,
  MEMORY_LIMIT,
  NOW,
  RUNS,
  WINDOW,
  generate,
  timedPair,
} from './audience-members.bench.ts';

const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const HOUR = 3_600_000_000n;

const step = (eventName: string, extra: object = {}): object => ({
  scope: EVENT,
  filterExpression: {
    andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [{ eventFilter: { eventName } }] } }] },
  },
  ...extra,
});
const sequence = (steps: object[], extra: object = {}): AudienceDefinition =>
  parseAudience({
    displayName: 'bench',
    description: 'bench',
    membershipDurationDays: 30,
    filterClauses: [
      { clauseType: 'INCLUDE', sequenceFilter: { scope: ACROSS, sequenceSteps: steps, ...extra } },
    ],
  });

interface Case {
  name: string;
  def: AudienceDefinition;
  hand: string;
}

const CASES: Case[] = [
  {
    name: 'view_item directly followed by add_to_cart within 1 h',
    def: sequence([
      step('view_item'),
      step('add_to_cart', { immediatelyFollows: true, constraintDuration: '3600s' }),
    ]),
    // The direct predecessor among all events (lag over the stream); a chain ending after the
    // cutoff starts at most 1 h before it.
    hand: `SELECT DISTINCT u FROM (
  SELECT user_pseudo_id AS u, event_name AS n, event_timestamp AS t,
         lag(event_name) OVER w AS pn, lag(event_timestamp) OVER w AS pt
  FROM events WHERE ${WINDOW} AND event_timestamp > ${CUTOFF - HOUR}
  WINDOW w AS (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq))
WHERE n = 'add_to_cart' AND pn = 'view_item' AND t - pt <= ${HOUR} AND t > ${CUTOFF} ORDER BY u`,
  },
  {
    name: 'view_item, add_to_cart, purchase within 1 day',
    def: sequence([step('view_item'), step('add_to_cart'), step('purchase')], {
      sequenceMaximumDuration: '86400s',
    }),
    // Per step, the latest start of a chain among earlier events (running max), then the
    // maximum-duration check; events older than cutoff - 1 day cannot start a chain that counts.
    hand: `WITH e AS (SELECT user_pseudo_id AS u, event_name AS n, event_timestamp AS t, ingest_seq AS q FROM events
  WHERE ${WINDOW} AND event_timestamp > ${CUTOFF - DAY} AND event_name IN ('view_item', 'add_to_cart', 'purchase')),
s1 AS (SELECT *, max(CASE WHEN n = 'view_item' THEN t END) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS a0 FROM e),
s2 AS (SELECT *, max(CASE WHEN n = 'add_to_cart' AND t - a0 <= ${DAY} THEN a0 END) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS a1 FROM s1)
SELECT DISTINCT u FROM s2 WHERE n = 'purchase' AND t - a1 <= ${DAY} AND t > ${CUTOFF} ORDER BY u`,
  },
];

async function main(): Promise<void> {
  mkdirSync('.tmp', { recursive: true });
  const fresh = !existsSync(DB);
  const instance = await DuckDBInstance.create(DB, {
    threads: '2',
    memory_limit: MEMORY_LIMIT,
    temp_directory: '.tmp/duckdb-tmp',
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
  const load = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(
    `\n${EVENTS.toLocaleString('en-US')} events, ${DEVICES.toLocaleString('en-US')} devices, threads=2, memory_limit=${MEMORY_LIMIT}, best of ${RUNS}`,
  );
  for (const c of CASES) {
    const req = { propertyId: 1n, audience: c.def, config: CONFIG, asOfMicros: NOW };
    const plan = engine.explain(req).plan;
    const before = load();
    const [ours, hand] = await timedPair(
      () => engine.findMembers(req),
      async () => (await con.runAndReadAll(c.hand, [] as DuckDBValue[])).getColumns()[0]?.map(String) ?? [],
    );
    const same = ours.value.length === hand.value.length && ours.value.every((u, i) => u === hand.value[i]);
    console.log(
      `${c.name} | plan ${plan} | members ${ours.value.length.toLocaleString('en-US')} | agree ${same ? 'yes' : 'NO'} | findMembers ${ours.ms.toFixed(0)} ms | hand-written ${hand.ms.toFixed(0)} ms | ratio ${(ours.ms / hand.ms).toFixed(2)}x | load average before ${before}, after ${load()}`,
    );
  }
  con.closeSync();
  instance.closeSync();
}

await main();

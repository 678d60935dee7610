// Static N-day engaged sessions ("more than x engaged sessions in some N-day period") in SQL: the
// engaged-session rule applied per session to its events inside each window (events-sql.ts
// nDayFrame, dialect hooks listRowsBack / engagementItem / engagedSessionsInList). For random
// thresholds, operations, NOT, N and histories (engagement times, session_engaged flags, page
// views, events without a session), the planner must choose SQL and the members must equal the
// reference evaluator's at several instants.
// Seed: fixed in CI (20261203), random otherwise and printed on failure (AUDEX_FC_SEED replays).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { compileAudienceQuery, planAudience } from '../src/audience/compile/index.ts';
import {
  CREATE_TIME,
  buildEvents,
  historyArb,
  nowsArb,
  resolveNows,
  timeZoneArb,
} from './audience-arbitraries.ts';
import { byteOrder, insertEvents, openTestDb } from './audience-duckdb.helpers.ts';

let instance: DuckDBInstance;
let connection: DuckDBConnection;
before(async () => {
  ({ instance, connection } = await openTestDb());
});
after(() => {
  connection.closeSync();
  instance.closeSync();
});

const leafArb = fc.record({
  operation: fc.constantFrom('GREATER_THAN', 'LESS_THAN', 'EQUAL'),
  value: fc.integer({ min: 0, max: 3 }),
  nDays: fc.constantFrom(1, 2, 7),
  negated: fc.boolean(),
  withEvent: fc.boolean(),
  membershipDurationDays: fc.constantFrom(1, 7, 30),
});

function audienceOf(r: typeof leafArb extends fc.Arbitrary<infer T> ? T : never): AudienceDefinition {
  const leaf = {
    dimensionOrMetricFilter: {
      fieldName: 'engagedSessions',
      atAnyPointInTime: true,
      inAnyNDayPeriod: r.nDays,
      numericFilter: { operation: r.operation, value: { int64Value: String(r.value) } },
    },
  };
  const groups: unknown[] = [
    { orGroup: { filterExpressions: [r.negated ? { notExpression: leaf } : leaf] } },
  ];
  if (r.withEvent)
    groups.push({ orGroup: { filterExpressions: [{ eventFilter: { eventName: 'page_view' } }] } });
  return parseAudience({
    displayName: 'engaged',
    description: 'x',
    membershipDurationDays: r.membershipDurationDays,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
          filterExpression: { andGroup: { filterExpressions: groups } },
        },
      },
    ],
  });
}

test(
  'static N-day engaged sessions: SQL plan, members equal to the reference evaluator',
  { timeout: 600_000 },
  async () => {
    const stats = { audiences: 0, checks: 0, withMembers: 0 };
    const property = fc.asyncProperty(
      leafArb,
      fc.tuple(historyArb, historyArb).map(([a, b]) => [...a, ...b]),
      nowsArb,
      timeZoneArb,
      fc.constantFrom<number | null>(30, 5, null),
      async (r, history, nowSpecs, timeZone, backfillDays) => {
        const def = audienceOf(r);
        const config: EvaluationConfig = {
          createTimeMicros: CREATE_TIME,
          backfillDays,
          timeZone,
          ignoreEventNamesForAdjacency: [],
        };
        assert.equal(planAudience(def, config), 'sql', 'the planner chose the per-user fold');
        const events = buildEvents(history, 1n);
        await connection.run('DELETE FROM events');
        await insertEvents(connection, events);
        stats.audiences++;
        for (const now of resolveNows(nowSpecs, events, def.membershipDurationDays)) {
          const expected = membersAt(evaluateAudience(def, events, now, config), now);
          const { query } = compileAudienceQuery(def, { propertyId: 1n, asOfMicros: now, config });
          const rows = (await connection.runAndReadAll(query.sql, query.parameters as never)).getRows();
          const actual = rows.map((row) => String(row[0])).sort(byteOrder);
          stats.checks++;
          if (expected.length > 0) stats.withMembers++;
          assert.deepEqual(actual, [...expected].sort(byteOrder));
        }
      },
    );
    const seed = process.env.AUDEX_FC_SEED ?? (process.env.CI ? '20261203' : undefined);
    await fc.assert(property, {
      numRuns: Number(process.env.AUDEX_FC_RUNS ?? 150),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
    });
    console.log(`N-day engaged sessions: ${JSON.stringify(stats)}`);
    assert.ok(stats.withMembers > stats.checks / 10, JSON.stringify(stats));
  },
);

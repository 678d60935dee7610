// The closed forms of N-day leaves (src/audience/compile/nday-sql.ts): "more than x events (of a
// name) in the last N days", "… in some N days" (static, atAnyPointInTime; one statement on
// ClickHouse 18.16 too, usersCountingInDays) and "more than x sessions in the last N days" (E9's shape),
// each property-checked against the reference evaluator on random histories (sessions that span
// days, NULL sessions, ties, several zones), at instants around events and expiries. The compiled
// statement must be the form's (not the general per-event state), so a regression in the shape
// test cannot hide behind the general form.
//
// Replay: AUDEX_FC_SEED=<seed> [AUDEX_FC_PATH=<path>] npm test -- test/audience-nday-forms.duckdb.test.ts

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { compileAudienceQuery } from '../src/audience/compile/index.ts';
import { hasNDayCountForm, hasNDaySessionsForm } from '../src/audience/compile/nday-sql.ts';
import { clickhouseMembersQuery } from '../src/audience/compile/clickhouse-plan.ts';
import {
  CREATE_TIME,
  EVENT_NAMES,
  buildEvents,
  historyArb,
  nowsArb,
  resolveNows,
  timeZoneArb,
} from './audience-arbitraries.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';

const PROPERTY = 1n;

/** One INCLUDE clause across all sessions with one dynamic N-day leaf `> x`. */
const formArb: fc.Arbitrary<AudienceDefinition> = fc
  .record({
    kind: fc.constantFrom('events', 'named events', 'sessions'),
    eventName: fc.constantFrom(...EVENT_NAMES),
    n: fc.constantFrom(1, 2, 3, 7),
    x: fc.integer({ min: -1, max: 3 }),
    fractional: fc.boolean(),
    atAnyPointInTime: fc.boolean(),
    days: fc.constantFrom(1, 2, 3, 7, 30),
  })
  .map(({ kind, eventName, n, x, fractional, atAnyPointInTime, days }) => {
    const filter = {
      fieldName: kind === 'sessions' ? 'sessions' : 'eventCount',
      numericFilter: {
        operation: 'GREATER_THAN',
        value: fractional ? { doubleValue: x + 0.5 } : { int64Value: String(x) },
      },
      inAnyNDayPeriod: n,
      // The static form exists for counts only (static N-day sessions take the per-event state).
      ...(atAnyPointInTime && kind !== 'sessions' ? { atAnyPointInTime: true } : {}),
    };
    const leaf =
      kind === 'named events'
        ? {
            eventFilter: {
              eventName,
              eventParameterFilterExpression: {
                andGroup: { filterExpressions: [{ dimensionOrMetricFilter: filter }] },
              },
            },
          }
        : { dimensionOrMetricFilter: filter };
    return parseAudience({
      displayName: 'x',
      description: 'x',
      membershipDurationDays: days,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] },
            },
          },
        },
      ],
    });
  });

function fcParams(): fc.Parameters<unknown> {
  const seed = process.env.AUDEX_FC_SEED ?? (process.env.CI ? '20261203' : undefined);
  const path = process.env.AUDEX_FC_PATH;
  return {
    numRuns: Number(process.env.AUDEX_FC_RUNS ?? 60),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(path === undefined ? {} : { path }),
    endOnFailure: false,
  };
}

forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  test(
    'the N-day count (static and dynamic) and sessions forms equal the reference evaluator',
    { timeout: 900_000 },
    async () => {
      let nonEmpty = 0;
      let staticChecks = 0;
      await fc.assert(
        fc.asyncProperty(
          formArb,
          historyArb,
          nowsArb,
          timeZoneArb,
          async (def, history, nowSpecs, timeZone) => {
            assert.ok(hasNDayCountForm(def) || hasNDaySessionsForm(def), 'the audience has one of the forms');
            const config: EvaluationConfig = {
              createTimeMicros: CREATE_TIME,
              backfillDays: 30,
              timeZone,
              ignoreEventNamesForAdjacency: [],
            };
            const events = buildEvents(history, PROPERTY);
            await db.load(events);
            for (const now of resolveNows(nowSpecs, events, def.membershipDurationDays)) {
              const ctx = { propertyId: PROPERTY, config, asOfMicros: now };
              // The form's statement (no per-event state for the count; for sessions, only for the
              // users that need it: the statement starts with the form's own part).
              const text = compileAudienceQuery(def, ctx).query.sql;
              assert.ok(
                /^SELECT u FROM \(SELECT user_pseudo_id AS u|^SELECT u FROM \(SELECT u, max\(ft\)|^SELECT DISTINCT u FROM \(SELECT u, t, sum\(1\) OVER/.test(
                  text,
                ),
              );
              // On 18.16 the static count is one statement of its own form too.
              const isStatic = /^SELECT DISTINCT u FROM \(SELECT u, t, sum\(1\) OVER/.test(text);
              if (isStatic) staticChecks++;
              if (backend.name === 'clickhouse' && isStatic)
                assert.match(
                  clickhouseMembersQuery(def, ctx)?.sql ?? 'hybrid',
                  /^SELECT u FROM \(SELECT u, arrayMap\(__e -> __e\.1, __ev\)/,
                );
              const expected = membersAt(evaluateAudience(def, events, now, config), now);
              if (expected.length > 0) nonEmpty++;
              const actual = await db.engine.findMembers({
                propertyId: PROPERTY,
                audience: def,
                config,
                asOfMicros: now,
              });
              assert.deepEqual(actual, expected, `members at ${new Date(Number(now / 1000n)).toISOString()}`);
            }
          },
        ),
        fcParams(),
      );
      assert.ok(nonEmpty > 0, 'some checks must expect members');
      assert.ok(staticChecks > 0, 'some checks must be of the static count');
    },
  );
});

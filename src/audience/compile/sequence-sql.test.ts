// Golden SQL of the sequence constructs (sequence-sql.ts), kept as files beside the other golden
// files: exact text and parameters. Regenerate after an intended change:
//   AUDEX_UPDATE_GOLDEN=1 npm test -- src/audience/compile/sequence-sql.test.ts

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import { parseAudience } from '../validate.ts';
import { compileAudienceQuery, planAudience, type CompiledQuery } from './index.ts';
import { clickhouseMembersQuery } from './clickhouse-plan.ts';

const CONFIG: EvaluationConfig = {
  createTimeMicros: 1_717_200_000_000_000n,
  backfillDays: 30,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
};
const CTX = { propertyId: 1n, asOfMicros: 1_717_977_600_000_000n, config: CONFIG };

const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

const step = (eventName: string, extra: object = {}): object => ({
  scope: EVENT,
  filterExpression: {
    andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [{ eventFilter: { eventName } }] } }] },
  },
  ...extra,
});
const seq = (scope: string, steps: object[], extra: object = {}): object => ({
  sequenceFilter: { scope, sequenceSteps: steps, ...extra },
});
const audience = (clauses: object[]): AudienceDefinition =>
  parseAudience({
    displayName: 'g',
    description: 'g',
    membershipDurationDays: 7,
    exclusionDurationMode: 'EXCLUDE_PERMANENTLY',
    filterClauses: clauses,
  });
const include = (c: object): object => ({ clauseType: 'INCLUDE', ...c });
const exclude = (c: object): object => ({ clauseType: 'EXCLUDE', ...c });

const IMMEDIATE = { immediatelyFollows: true };

const countBelowOne = {
  andGroup: {
    filterExpressions: [
      {
        dimensionOrMetricFilter: {
          fieldName: 'eventCount',
          numericFilter: { operation: 'LESS_THAN', value: { int64Value: '1' } },
        },
      },
    ],
  },
};

const GOLDEN: [string, AudienceDefinition, string[]][] = [
  // The direct predecessor in the same session (lag over the user's stream, session compared).
  [
    'seq-immediately-follows-same-session',
    audience([include(seq(SESSION, [step('view_item'), step('add_to_cart', IMMEDIATE)]))]),
    [],
  ],
  // With ignoreEventNamesForAdjacency: adjacency groups and a (group, start) pair maximum.
  [
    'seq-immediately-follows-ignored-names',
    audience([
      include(
        seq(ACROSS, [step('view_item'), step('add_to_cart', { ...IMMEDIATE, constraintDuration: '600s' })]),
      ),
    ]),
    ['scroll', 'page_view'],
  ],
  // A time limit on a later step (RANGE frame plus the same-timestamp rows before this one).
  [
    'seq-step-time-limit',
    audience([
      include(
        seq(ACROSS, [
          step('view_item'),
          step('add_to_cart', { constraintDuration: '3600s' }),
          step('purchase', { constraintDuration: '600s' }),
        ]),
      ),
    ]),
    [],
  ],
  // A maximum duration: the scan starts one duration before the membership cutoff.
  [
    'seq-maximum-duration',
    audience([
      include(
        seq(ACROSS, [step('view_item'), step('add_to_cart'), step('purchase')], {
          sequenceMaximumDuration: '86400s',
        }),
      ),
    ]),
    [],
  ],
  // Steps over ranges: step 0 within its session (running per-group matches), a later step
  // across sessions with two OR-groups (the best start before each group's latest match).
  [
    'seq-steps-over-ranges',
    audience([
      include(
        seq(ACROSS, [
          { ...step('view_item'), scope: SESSION },
          {
            scope: ACROSS,
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'add_to_cart' } }] } },
                  { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
                ],
              },
            },
          },
        ]),
      ),
    ]),
    [],
  ],
  // A later step over a range with a time limit (no maximum duration): the latest earlier chain.
  [
    'seq-step-range-time-limit',
    audience([
      include(
        seq(SESSION, [
          step('view_item'),
          { ...step('purchase'), scope: SESSION, constraintDuration: '3600s' },
        ]),
      ),
    ]),
    [],
  ],
  // A later step over a range that follows immediately, with ignored names: the best start before
  // each group's latest match within the predecessor's adjacency group.
  [
    'seq-immediate-range-step',
    audience([
      include(
        seq(ACROSS, [
          step('view_item'),
          { ...step('add_to_cart'), scope: SESSION, immediatelyFollows: true },
        ]),
      ),
    ]),
    ['scroll'],
  ],
  // The same with a time limit, under a maximum duration: the best (adjacency group, start) pair
  // over the frame of rows within the limit and before each group's latest match.
  [
    'seq-immediate-range-step-time-limit',
    audience([
      include(
        seq(
          ACROSS,
          [
            step('view_item'),
            { ...step('add_to_cart'), scope: SESSION, immediatelyFollows: true, constraintDuration: '600s' },
          ],
          { sequenceMaximumDuration: '1800s' },
        ),
      ),
    ]),
    ['scroll'],
  ],
  // Two INCLUDE clauses (first and last completion per user) and a permanently excluding sequence.
  [
    'seq-positions-and-exclusion',
    audience([
      include(seq(ACROSS, [step('view_item'), step('add_to_cart', IMMEDIATE)])),
      include({
        simpleFilter: {
          scope: ACROSS,
          filterExpression: {
            andGroup: {
              filterExpressions: [
                { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
              ],
            },
          },
        },
      }),
      exclude(seq(ACROSS, [step('purchase'), step('refund', IMMEDIATE)])),
    ]),
    [],
  ],
  // A later step over a range with a time limit under a maximum duration: the best start among
  // the anchors within the limit and before each group's latest match (a frame of per-row bounds).
  [
    'seq-step-range-time-limit-maximum-duration',
    audience([
      include(
        seq(
          ACROSS,
          [step('view_item'), stepOf({ eventFilter: { eventName: 'add_to_cart' } }, SESSION)].map((st, k) =>
            k === 1 ? { ...st, constraintDuration: '3600s' } : st,
          ),
          { sequenceMaximumDuration: '1800s' },
        ),
      ),
    ]),
    [],
  ],
  // Steps over one event with a metric (eventValue of {e}) and an eventCount leaf (the event
  // counts when it has the name; `< 1` holds on any other name, so the step names nothing).
  [
    'seq-step-metric-and-event-count',
    audience([
      include(
        seq(ACROSS, [
          stepOf({
            dimensionOrMetricFilter: {
              fieldName: 'eventValue',
              numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: 20 } },
            },
          }),
          stepOf({ eventFilter: { eventName: 'purchase', eventParameterFilterExpression: countBelowOne } }),
        ]),
      ),
    ]),
    [],
  ],
];

function stepOf(leaf: object, scope = EVENT): object {
  return {
    scope,
    filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
  };
}

test('a metric or eventCount leaf in a step over a range: SQL on DuckDB (pairs) and on ClickHouse 18.16 (lambdas)', () => {
  const metric = {
    dimensionOrMetricFilter: {
      fieldName: 'eventCount',
      numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
    },
  };
  const count = { eventFilter: { eventName: 'purchase', eventParameterFilterExpression: countBelowOne } };
  for (const leaf of [metric, count]) {
    for (const [k, scope] of [
      [1, SESSION],
      [0, ACROSS],
    ] as const) {
      const steps = [step('view_item'), step('add_to_cart')];
      steps[k] = stepOf(leaf, scope);
      const def = audience([include(seq(ACROSS, steps))]);
      assert.equal(planAudience(def, CONFIG), 'sql');
      const { query } = compileAudienceQuery(def, CTX);
      // A later step: pairs of anchors and later events; step 0: the count of the events so far.
      const written =
        k === 1
          ? /c0_p1_pairs AS/
          : /(count\(\*\)|sum\(c0_p0_v0\)) OVER \(PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW\)/;
      assert.match(query.sql, written, 'the step aggregates its range');
      // ClickHouse 18.16: one statement; a later step judges every earlier row __p as a
      // candidate anchor, step 0 the rows up to __i.
      assert.match(
        clickhouseMembersQuery(def, CTX)?.sql ?? '',
        k === 1 ? /arrayMap\(\(__p, __rp0/ : /if\(ifNull\(toUInt8\(.*\), 0\) = 1, arr_\w+\[__i\], NULL\)/,
        'ClickHouse 18.16: the step over the per-user arrays',
      );
    }
  }
});

function serialise(q: CompiledQuery): string {
  const params = JSON.stringify(q.parameters, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return `-- plan parameters: ${params}\n${q.sql}\n`;
}

for (const [name, def, ignored] of GOLDEN) {
  test(`golden SQL: ${name}`, () => {
    const ctx = { ...CTX, config: { ...CONFIG, ignoreEventNamesForAdjacency: ignored } };
    const { plan, query } = compileAudienceQuery(def, ctx);
    assert.equal(plan, 'sql');
    const text = serialise(query).replace('-- plan', `-- ${plan}`);
    const file = new URL(`./golden/duckdb/${name}.sql`, import.meta.url);
    if (process.env.AUDEX_UPDATE_GOLDEN === '1') writeFileSync(file, text);
    assert.equal(text, readFileSync(file, 'utf8'));
  });
}

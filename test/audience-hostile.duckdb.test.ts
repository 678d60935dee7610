// Hostile filter values on the real engine: quotes, backslashes, %, _, regex metacharacters, NUL
// and long unicode match literally (the same users as the reference evaluator), on both paths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AudienceDefinition, EvaluationConfig, FilterScope, MatchType } from '../src/domain/audience.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { ev, resetSeq } from '../src/audience/reference/test-helpers.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import { insertEvents, useTestDb } from './audience-duckdb.helpers.ts';

const VALUES = [
  "it's",
  "'; DROP TABLE events; --",
  'back\\slash\\',
  '50%',
  '5_0',
  '%',
  '_',
  '.*',
  '(a|b)[x]{2}$^',
  'nul\u0000byte',
  '"quoted"',
  'A\nB',
  'ÜNÏCÖDÉ ✓ 𝄞 '.repeat(40),
];

const CONFIG: EvaluationConfig = {
  createTimeMicros: 1_717_200_000_000_000n,
  backfillDays: 30,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
};
const NOW = 1_717_977_600_000_000n; // 2024-06-10

resetSeq();
const EVENTS = VALUES.flatMap((v, i) => [
  ev(`h${i}`, 'page_view', '2024-06-03T10:00', {
    params: { page_title: v, page_location: `https://x.com/${v}` },
    userProps: { plan: v },
  }),
  // Near misses: the value with its metacharacters replaced by plain letters.
  ev(`m${i}`, 'page_view', '2024-06-03T10:00', {
    params: { page_title: v.replace(/[%_.*'\\()[\]$^"\n]/g, 'x') },
    userProps: { plan: 'x' },
  }),
]);

const db = useTestDb((connection) => insertEvents(connection, EVENTS));

function audience(fieldName: string, filter: object, scope: FilterScope): AudienceDefinition {
  return parseAudience({
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope,
          filterExpression: {
            andGroup: {
              filterExpressions: [
                {
                  orGroup: {
                    filterExpressions: [
                      {
                        dimensionOrMetricFilter: {
                          fieldName,
                          atAnyPointInTime: scope === 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
                          ...filter,
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
}

const MATCHES: MatchType[] = ['EXACT', 'BEGINS_WITH', 'ENDS_WITH', 'CONTAINS'];

test('hostile values match literally, on every SQL form (closed, latest event, per-session)', async () => {
  const engine = new DuckDbAudienceEngine(db.connection);
  let checks = 0;
  for (const [i, value] of VALUES.entries()) {
    const defs: AudienceDefinition[] = [
      ...MATCHES.flatMap((matchType) => [
        audience(
          'pageTitle',
          { stringFilter: { matchType, value, caseSensitive: true } },
          'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
        ),
        audience(
          'customUser:plan',
          { stringFilter: { matchType, value } },
          'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
        ),
        // dynamic leaf: the latest-event form
        audience(
          'pageTitle',
          { stringFilter: { matchType, value } },
          'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
        ),
      ]),
      audience(
        'customUser:plan',
        { inListFilter: { values: [value], caseSensitive: true } },
        'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
      ),
    ];
    for (const def of defs) {
      const expected = membersAt(evaluateAudience(def, EVENTS, NOW, CONFIG), NOW);
      const actual = await engine.findMembers({
        propertyId: 1n,
        audience: def,
        config: CONFIG,
        asOfMicros: NOW,
      });
      assert.deepEqual(actual, expected, `${JSON.stringify(value)} ${planAudience(def)}`);
      assert.ok(actual.includes(`h${i}`), `h${i} matches ${JSON.stringify(value)}`);
      checks++;
    }
  }
  assert.ok(checks > 100);
});

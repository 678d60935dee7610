// Golden tests of the compiled SQL (exact text and parameters, kept as files beside this test) and
// hostile-value tests: a filter value never changes the SQL text, only the parameters.
// Regenerate the golden files after an intended change: AUDEX_UPDATE_GOLDEN=1 npm test -- src/audience/compile/compile.test.ts

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import { parseAudience } from '../validate.ts';
import { EXAMPLES } from '../fixtures/examples.ts';
import { BUILTIN_AUDIENCES } from '../validate.ts';
import {
  compileAudienceQuery,
  duckdbDialect,
  planAudience,
  type CompiledQuery,
  type SqlDialect,
} from './index.ts';
import { ident, param, sql, render, UnsafeSqlError, type Slot } from './sql.ts';
import { EventStateCompiler } from './events-sql.ts';
import { clickhouseDialect } from './clickhouse-dialect.ts';
import { CLICKHOUSE_HYBRID, clickhouseMembersQuery } from './clickhouse-plan.ts';

const CONFIG: EvaluationConfig = {
  createTimeMicros: 1_717_200_000_000_000n,
  backfillDays: 30,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
};
const CTX = { propertyId: 1n, asOfMicros: 1_717_977_600_000_000n, config: CONFIG };

function serialise(q: CompiledQuery): string {
  const params = JSON.stringify(q.parameters, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return `-- plan parameters: ${params}\n${q.sql}\n`;
}

/** One audience per construct (built-ins, the spec examples, and the shapes of docs/audiences.md §8). */
/** Each construct's name, definition and, when not empty, the names ignored for adjacency. */
const CONSTRUCTS: [string, AudienceDefinition, string[]?][] = [
  ['all-users', BUILTIN_AUDIENCES[0]!.definition],
  ['e1-purchasers', parseAudience(EXAMPLES.E1)],
  ['e2-same-event-page-path', parseAudience(EXAMPLES.E2)],
  ['e3-same-session', parseAudience(EXAMPLES.E3)],
  ['e4-permanent-exclusion', parseAudience(EXAMPLES.E4)],
  ['e5-temporary-session-exclusion', parseAudience(EXAMPLES.E5)],
  ['e7-sequence-max-duration', parseAudience(EXAMPLES.E7)],
  ['e8-event-count', parseAudience(EXAMPLES.E8)],
  ['e10-dynamic-dimension', parseAudience(EXAMPLES.E10)],
  ['e11-user-property-and-not-dynamic', parseAudience(EXAMPLES.E11)],
  ['e12-lifetime-revenue-metric', parseAudience(EXAMPLES.E12)],
  ['session-metric', parseAudience(sessionMetricAudience())],
  ['nday-count', parseAudience(nDayCountAudience())],
  ['nday-dynamic-count', parseAudience(nDayCountAudience(true))],
  ['e6-immediately-follows', parseAudience(EXAMPLES.E6)],
  ['e9-nday-dynamic-sessions', parseAudience(EXAMPLES.E9)],
  ['item-fields', parseAudience(itemAudience())],
  ['temporary-session-sequence-exclusion', parseAudience(sessionSequenceExclusionAudience())],
  ['nday-dynamic-dimension', parseAudience(nDayDynamicDimensionAudience())],
  ['e9b-nday-sessions', parseAudience(EXAMPLES.E9B)],
  ['nday-sum-of-doubles', parseAudience(nDaySumAudience())],
  ['nday-engaged-sessions', parseAudience(nDayEngagedSessionsAudience())],
  ['seq-session-time-limit-and-clause', parseAudience(sequenceAudiences().sessionLimitAndClause)],
  ['seq-range-steps', parseAudience(sequenceAudiences().rangeSteps)],
  ['seq-range-limit-maximum-duration', parseAudience(sequenceAudiences().rangeLimitMaximumDuration)],
  ['seq-range-metrics', parseAudience(sequenceAudiences().rangeMetrics)],
  // E6 over 30 days (its history is older than 7 days at CTX), page_view ignored for adjacency.
  ['seq-e6-ignoring-page-view', parseAudience({ ...EXAMPLES.E6, membershipDurationDays: 30 }), ['page_view']],
  [
    'seq-immediate-range-ignoring-page-view',
    parseAudience(sequenceAudiences().immediateRange),
    ['page_view'],
  ],
  [
    'seq-immediate-range-limit-ignoring-scroll',
    parseAudience(sequenceAudiences().immediateRangeLimit),
    ['scroll'],
  ],
];

/**
 * Sequences whose chains use every frame hook (ClickHouse 18.16: clickhouse-sequences.ts): a
 * session-scoped sequence with a step time limit beside a simple clause; steps over ranges (a
 * running per-session match, then the least over two OR-groups); a range step with a time limit
 * under a maximum duration (a frame of per-row bounds).
 */
function sequenceAudiences(): Record<string, unknown> {
  const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
  const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
  const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
  const groups = (...names: string[]): unknown => ({
    andGroup: {
      filterExpressions: names.map((eventName) => ({
        orGroup: { filterExpressions: [{ eventFilter: { eventName } }] },
      })),
    },
  });
  const step = (scope: string, ...names: string[]): Record<string, unknown> => ({
    scope,
    filterExpression: groups(...names),
  });
  const leafStep = (scope: string, leaf: unknown): Record<string, unknown> => ({
    scope,
    filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
  });
  const audience = (...filterClauses: unknown[]): unknown => ({
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses,
  });
  return {
    sessionLimitAndClause: audience(
      {
        clauseType: 'INCLUDE',
        sequenceFilter: {
          scope: SESSION,
          sequenceSteps: [
            step(EVENT, 'add_to_cart'),
            { ...step(EVENT, 'begin_checkout'), constraintDuration: '3600s' },
          ],
        },
      },
      { clauseType: 'INCLUDE', simpleFilter: { scope: ACROSS, filterExpression: groups('page_view') } },
    ),
    rangeSteps: audience({
      clauseType: 'INCLUDE',
      sequenceFilter: {
        scope: ACROSS,
        sequenceSteps: [step(SESSION, 'add_to_cart'), step(ACROSS, 'begin_checkout', 'purchase')],
      },
    }),
    immediateRange: audience({
      clauseType: 'INCLUDE',
      sequenceFilter: {
        scope: ACROSS,
        sequenceSteps: [
          step(EVENT, 'view_item'),
          { ...step(SESSION, 'add_to_cart'), immediatelyFollows: true },
        ],
      },
    }),
    immediateRangeLimit: audience({
      clauseType: 'INCLUDE',
      sequenceFilter: {
        scope: ACROSS,
        sequenceMaximumDuration: '7200s',
        sequenceSteps: [
          step(EVENT, 'page_view'),
          { ...step(SESSION, 'scroll', 'page_view'), immediatelyFollows: true, constraintDuration: '3600s' },
        ],
      },
    }),
    // Steps over a range with metric leaves (pairs of anchors, sequence-pairs.ts): more than one
    // page_view in the purchase's session after a view_item, revenue over the whole sequence so
    // far above 100 as step 0, within a maximum duration.
    rangeMetrics: audience({
      clauseType: 'INCLUDE',
      sequenceFilter: {
        scope: ACROSS,
        sequenceMaximumDuration: '86400s',
        sequenceSteps: [
          leafStep(ACROSS, {
            dimensionOrMetricFilter: {
              fieldName: 'purchaseRevenue',
              numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: 100 } },
            },
          }),
          step(EVENT, 'view_item'),
          leafStep(SESSION, {
            eventFilter: {
              eventName: 'page_view',
              eventParameterFilterExpression: {
                andGroup: {
                  filterExpressions: [
                    {
                      dimensionOrMetricFilter: {
                        fieldName: 'eventCount',
                        numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
                      },
                    },
                  ],
                },
              },
            },
          }),
          step(EVENT, 'purchase'),
        ],
      },
    }),
    rangeLimitMaximumDuration: audience({
      clauseType: 'INCLUDE',
      sequenceFilter: {
        scope: ACROSS,
        sequenceMaximumDuration: '7200s',
        sequenceSteps: [
          step(EVENT, 'add_to_cart'),
          { ...step(SESSION, 'begin_checkout'), constraintDuration: '3600s' },
        ],
      },
    }),
  };
}

/** Revenue over 100 in some 7 days (a static N-day sum of doubles). */
function nDaySumAudience(): unknown {
  const leaf = {
    dimensionOrMetricFilter: {
      fieldName: 'purchaseRevenue',
      numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: 100 } },
      atAnyPointInTime: true,
      inAnyNDayPeriod: 7,
    },
  };
  return {
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
          filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
        },
      },
    ],
  };
}

/**
 * Seen in the US within the last 3 days (dynamic N-day dimension), temporarily excluded while a
 * mobile event is within the last day: both lapse at local midnights.
 */
function nDayDynamicDimensionAudience(): unknown {
  const clause = (clauseType: string, fieldName: string, value: string, n: number): unknown => ({
    clauseType,
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
                      fieldName,
                      inListFilter: { values: [value] },
                      inAnyNDayPeriod: n,
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    },
  });
  return {
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      clause('INCLUDE', 'countryId', 'US', 3),
      clause('EXCLUDE', 'deviceCategory', 'mobile', 1),
    ],
  };
}

/** Added to cart; temporarily excluded while view_item then purchase completed in the current session. */
function sessionSequenceExclusionAudience(): unknown {
  const step = (eventName: string): unknown => ({
    scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
    filterExpression: {
      andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [{ eventFilter: { eventName } }] } }] },
    },
  });
  return {
    displayName: 'x',
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
                { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'add_to_cart' } }] } },
              ],
            },
          },
        },
      },
      {
        clauseType: 'EXCLUDE',
        sequenceFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
          sequenceSteps: [step('view_item'), step('purchase')],
        },
      },
    ],
  };
}

/** Item leaves (D8): a purchase with an item of category "shoes", and an item whose color param is red. */
function itemAudience(): unknown {
  const orOf = (leaf: unknown): unknown => ({ orGroup: { filterExpressions: [leaf] } });
  const purchase = {
    eventFilter: {
      eventName: 'purchase',
      eventParameterFilterExpression: {
        andGroup: {
          filterExpressions: [
            {
              dimensionOrMetricFilter: {
                fieldName: 'itemCategory',
                stringFilter: { matchType: 'EXACT', value: 'shoes' },
              },
            },
          ],
        },
      },
    },
  };
  const color = {
    dimensionOrMetricFilter: {
      fieldName: 'customItem:color',
      inListFilter: { values: ['red'] },
      atAnyPointInTime: true,
    },
  };
  return {
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
          filterExpression: { andGroup: { filterExpressions: [orOf(purchase), orOf(color)] } },
        },
      },
    ],
  };
}

/** Engaged sessions > 1 (dynamic) and, within a session, event value > 10: metrics in two scopes. */
function sessionMetricAudience(): unknown {
  const metric = (fieldName: string, x: number, atAnyPointInTime: boolean): unknown => ({
    andGroup: {
      filterExpressions: [
        {
          orGroup: {
            filterExpressions: [
              {
                dimensionOrMetricFilter: {
                  fieldName,
                  numericFilter: { operation: 'GREATER_THAN', value: { int64Value: String(x) } },
                  atAnyPointInTime,
                },
              },
            ],
          },
        },
      ],
    },
  });
  return {
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
          filterExpression: metric('engagedSessions', 1, false),
        },
      },
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
          filterExpression: metric('eventValue', 10, false),
        },
      },
    ],
  };
}

/** More than 3 page_views in some 7 days (static). */
/** More than 3 page_views in some 7 days (static), or (`dynamic`) in the last 7 days. */
function nDayCountAudience(dynamic = false): unknown {
  const count = {
    dimensionOrMetricFilter: {
      fieldName: 'eventCount',
      numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '3' } },
      atAnyPointInTime: !dynamic,
      inAnyNDayPeriod: 7,
    },
  };
  const leaf = {
    eventFilter: {
      eventName: 'page_view',
      eventParameterFilterExpression: { andGroup: { filterExpressions: [count] } },
    },
  };
  return {
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
          filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
        },
      },
    ],
  };
}

/** E9B with engaged sessions: more than 1 engaged session in any 7 days (a static N-day frame). */
function nDayEngagedSessionsAudience(): unknown {
  const e = structuredClone(EXAMPLES.E9B) as any;
  const leaf =
    e.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup
      .filterExpressions[0].dimensionOrMetricFilter;
  leaf.fieldName = 'engagedSessions';
  leaf.numericFilter.value = { int64Value: '1' };
  return e;
}

/**
 * A table per dialect: each construct's SQL, kept as golden/<dialect>/<name>.sql. ClickHouse's is
 * what the 18.16 engine runs (clickhouse-plan.ts), or the hybrid plan's marker.
 */
const DIALECTS: [SqlDialect, (def: AudienceDefinition, ctx: typeof CTX) => string][] = [
  [
    duckdbDialect,
    (def, ctx) => {
      const { plan, query } = compileAudienceQuery(def, ctx, duckdbDialect);
      return serialise(query).replace('-- plan', `-- ${plan}`);
    },
  ],
  [
    clickhouseDialect,
    (def, ctx) => {
      const query = clickhouseMembersQuery(def, ctx);
      return query ? serialise(query).replace('-- plan', '-- sql') : CLICKHOUSE_HYBRID;
    },
  ],
];

for (const [dialect, compiled] of DIALECTS) {
  for (const [name, def, ignored] of CONSTRUCTS) {
    test(`golden SQL (${dialect.name}): ${name}`, () => {
      const ctx = { ...CTX, config: { ...CONFIG, ignoreEventNamesForAdjacency: ignored ?? [] } };
      const text = compiled(def, ctx);
      const file = new URL(`./golden/${dialect.name}/${name}.sql`, import.meta.url);
      if (process.env.AUDEX_UPDATE_GOLDEN === '1') writeFileSync(file, text);
      assert.equal(text, readFileSync(file, 'utf8'));
    });
  }
}

/**
 * The trigger form of the per-event state (trigger passes, docs/audiences.md §2.7), for the shapes
 * whose triggers are not read off the qualifying events alone: exclusions of both modes, a metric,
 * a sequence (every completion qualifies). Kept as golden/<dialect>/triggers-<name>.sql.
 */
const TRIGGER_CONSTRUCTS: [string, AudienceDefinition, 'AUDIENCE_JOINED' | 'AUDIENCE_MEMBERSHIP_RENEWED'][] =
  [
    ['e4-permanent-exclusion', parseAudience(EXAMPLES.E4), 'AUDIENCE_JOINED'],
    ['e5-temporary-session-exclusion', parseAudience(EXAMPLES.E5), 'AUDIENCE_JOINED'],
    ['e7-sequence-max-duration', parseAudience(EXAMPLES.E7), 'AUDIENCE_MEMBERSHIP_RENEWED'],
    ['e12-lifetime-revenue-metric', parseAudience(EXAMPLES.E12), 'AUDIENCE_JOINED'],
    ['nday-dynamic-dimension', parseAudience(nDayDynamicDimensionAudience()), 'AUDIENCE_JOINED'],
  ];

// The trigger form is DuckDB's only: trigger passes on ClickHouse fold in JavaScript.
for (const dialect of [duckdbDialect]) {
  for (const [name, def, logCondition] of TRIGGER_CONSTRUCTS) {
    test(`golden SQL (${dialect.name}): triggers-${name}`, () => {
      const withTrigger = { ...def, eventTrigger: { eventName: 'joined', logCondition } };
      assert.equal(planAudience(withTrigger, CONFIG), 'sql');
      const since = sql`SELECT 'u' AS nu, CAST(0 AS HUGEINT) AS npos`;
      const fragment = new EventStateCompiler(dialect, withTrigger, CTX).compileTriggers({
        since,
        fromSeq: 7n,
      });
      const text = serialise(render(fragment, (i, v) => dialect.placeholder(i, v))).replace(
        '-- plan',
        '-- triggers',
      );
      const file = new URL(`./golden/${dialect.name}/triggers-${name}.sql`, import.meta.url);
      if (process.env.AUDEX_UPDATE_GOLDEN === '1') writeFileSync(file, text);
      assert.equal(text, readFileSync(file, 'utf8'));
    });
  }
}

// --- hostile values --------------------------------------------------------------------------

const HOSTILE = [
  "it's",
  "'; DROP TABLE events; --",
  'back\\slash\\',
  '50%',
  '_',
  '%_%',
  '.*',
  '(a|b)[x]{2}$^',
  '\u0000nul',
  '$1',
  '"quoted"',
  '😀 ünïcödé '.repeat(90),
];

/** An audience using `value` in every kind of string position (EXACT…CONTAINS, inList, param and user property). */
function audienceWith(
  value: string,
  matchType: 'EXACT' | 'BEGINS_WITH' | 'ENDS_WITH' | 'CONTAINS',
): AudienceDefinition {
  return parseAudience({
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
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
                        eventFilter: {
                          eventName: 'page_view',
                          eventParameterFilterExpression: {
                            andGroup: {
                              filterExpressions: [
                                {
                                  dimensionOrMetricFilter: {
                                    fieldName: 'page_title',
                                    stringFilter: { matchType, value, caseSensitive: true },
                                  },
                                },
                              ],
                            },
                          },
                        },
                      },
                    ],
                  },
                },
                {
                  orGroup: {
                    filterExpressions: [
                      {
                        dimensionOrMetricFilter: {
                          fieldName: 'customUser:plan',
                          inListFilter: { values: [value, 'pro'] },
                        },
                      },
                    ],
                  },
                },
                {
                  orGroup: {
                    filterExpressions: [
                      {
                        dimensionOrMetricFilter: {
                          fieldName: 'pagePath',
                          stringFilter: { matchType, value },
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

for (const matchType of ['EXACT', 'BEGINS_WITH', 'ENDS_WITH', 'CONTAINS'] as const) {
  test(`hostile values do not change the SQL text (${matchType})`, () => {
    const plain = compileAudienceQuery(audienceWith('plain', matchType), CTX).query;
    for (const value of HOSTILE) {
      const q = compileAudienceQuery(audienceWith(value, matchType), CTX).query;
      assert.equal(q.sql, plain.sql);
      assert.ok(
        q.parameters.includes(value) && q.parameters.includes(value.toLowerCase()),
        'value travels as a parameter',
      );
    }
  });
}

test('FULL_REGEXP patterns are bound, never pasted', () => {
  const def = (value: string): AudienceDefinition =>
    parseAudience({
      displayName: 'x',
      description: 'x',
      membershipDurationDays: 30,
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
                            fieldName: 'pageTitle',
                            stringFilter: { matchType: 'FULL_REGEXP', value, caseSensitive: true },
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
  const plain = compileAudienceQuery(def('abc'), CTX).query;
  for (const value of ["a'b", '.*%_', '(?:x|y)\\d+', 'a\\\\b']) {
    const q = compileAudienceQuery(def(value), CTX).query;
    assert.equal(q.sql, plain.sql);
    assert.ok(q.parameters.includes(value));
  }
});

test('the fragment builder refuses anything but fragments and parameters', () => {
  assert.throws(() => sql`SELECT ${'1; DROP TABLE events' as unknown as Slot}`, UnsafeSqlError);
  assert.throws(() => ident('user_pseudo_id; --'), UnsafeSqlError);
  assert.throws(() => ident('geo_city', new Set(['event_name'])), UnsafeSqlError);
  assert.deepEqual(
    render(sql`a = ${param("x'y")} AND b = ${param(2n)}`, (i) => `$${i}`),
    { sql: 'a = $1 AND b = $2', parameters: ["x'y", 2n] },
  );
});

test('planner: which constructs take the SQL path', () => {
  const plans = Object.fromEntries(
    Object.entries(EXAMPLES).map(([n, e]) => [n, planAudience(parseAudience(e))]),
  );
  assert.deepEqual(plans, {
    E1: 'sql',
    E2: 'sql',
    E3: 'sql',
    E4: 'sql',
    E5: 'sql',
    E6: 'sql',
    E7: 'sql',
    E8: 'sql',
    E9: 'sql',
    E9B: 'sql', // sessions in some N-day window (static): distinct sessions over the window's rows
    E10: 'sql',
    E10S: 'sql',
    E11: 'sql',
    E12: 'sql',
  });
});

// Differential test of the SQL path's one-INCLUDE-clause query (MembersSqlCompiler
// .compileByQualifyingEvents): findMembers must equal the reference evaluator for random audiences
// of exactly the shapes it takes (eventCount leaves alone or inside OR groups, several groups,
// sessions, sequences, parameter and column leaves, permanent exclusions with NOT leaves), at the
// instants where expiry is decided. test/audience-differential.duckdb.test.ts covers the whole
// grammar; this one concentrates on these shapes.
//
// Replay a failure: AUDEX_FC_SEED=<seed> [AUDEX_FC_PATH=<path>] npm test -- src/audience/compile/members-sql.duckdb.test.ts
// Size: AUDEX_FC_RUNS (default 400, about 25 s).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Params, StoredEvent } from '../../domain/event.ts';
import type {
  AudienceDefinition,
  EvaluationConfig,
  FilterClause,
  FilterExpression,
  FilterScope,
} from '../../domain/audience.ts';
import { ApiError } from '../../domain/errors.ts';
import { audienceToJson, parseAudience } from '../validate.ts';
import { evaluateAudience, membersAt } from '../reference/evaluate.ts';
import { DuckDbAudienceEngine } from '../../storage/duckdb/members.ts';
import {
  CREATE_TIME,
  EVENT_NAMES,
  buildEvents,
  historyArb,
  nowsArb,
  resolveNows,
} from '../../../test/audience-arbitraries.ts';
import { insertEvents, useTestDb } from '../../../test/audience-duckdb.helpers.ts';
import { duckdbDialect } from './dialect.ts';
import { MembersSqlCompiler } from './members-sql.ts';
import { planAudience } from './plan.ts';

const PROPERTY = 1n;
const ACROSS: FilterScope = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const SESSION: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const EVENT: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';

// Three of the history's seven names, so that leaves of one audience often share a name.
const name = fc.constantFrom(...EVENT_NAMES.slice(0, 3));
const plainEvent = name.map((eventName): FilterExpression => ({ eventFilter: { eventName } }));
const paramEvent = fc.tuple(name, fc.constantFrom(0, 20, 50)).map(([eventName, x]): FilterExpression => ({
  eventFilter: {
    eventName,
    eventParameterFilterExpression: {
      andGroup: {
        filterExpressions: [
          {
            dimensionOrMetricFilter: {
              fieldName: 'value',
              numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: x } },
              atAnyPointInTime: false,
            },
          },
        ],
      },
    },
  },
}));
const countEvent = fc.tuple(name, fc.integer({ min: 0, max: 3 })).map(([eventName, x]): FilterExpression => ({
  eventFilter: {
    eventName,
    eventParameterFilterExpression: {
      andGroup: {
        filterExpressions: [
          {
            dimensionOrMetricFilter: {
              fieldName: 'eventCount',
              numericFilter: { operation: 'GREATER_THAN', value: { int64Value: BigInt(x) } },
              atAnyPointInTime: false,
            },
          },
        ],
      },
    },
  },
}));
/** A column leaf on any event (no event name to restrict the scan). */
const column = (scope: FilterScope, negated: boolean): fc.Arbitrary<FilterExpression> =>
  fc.constantFrom('mobile', 'desktop').map((value) => {
    const leaf = {
      fieldName: 'deviceCategory',
      stringFilter: { matchType: 'EXACT' as const, value, caseSensitive: true },
      atAnyPointInTime: scope === ACROSS,
    };
    return negated ? { notExpression: { dimensionOrMetricFilter: leaf } } : { dimensionOrMetricFilter: leaf };
  });

function leaf(scope: FilterScope, exclude: boolean): fc.Arbitrary<FilterExpression> {
  return fc.oneof(
    { weight: 4, arbitrary: plainEvent },
    { weight: 2, arbitrary: paramEvent },
    { weight: scope === ACROSS ? 3 : 0, arbitrary: countEvent },
    { weight: 1, arbitrary: column(scope, false) },
    // NOT leaves only in EXCLUDE clauses (and WITHIN_SAME_EVENT), where the last position is not needed.
    { weight: exclude || scope === EVENT ? 1 : 0, arbitrary: column(scope, true) },
  );
}

const cnf = (scope: FilterScope, exclude: boolean): fc.Arbitrary<FilterExpression> =>
  fc
    .array(fc.array(leaf(scope, exclude), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 })
    .map((groups) => ({
      andGroup: { filterExpressions: groups.map((g) => ({ orGroup: { filterExpressions: g } })) },
    }));

const duration = fc.option(
  fc.constantFrom(60n, 600n, 3600n, 86400n).map((s) => s * 1_000_000n),
  {
    nil: undefined,
  },
);

function clause(type: 'INCLUDE' | 'EXCLUDE'): fc.Arbitrary<FilterClause> {
  const exclude = type === 'EXCLUDE';
  const simple = fc
    .constantFrom(ACROSS, ACROSS, SESSION, EVENT)
    .chain((scope) => cnf(scope, exclude).map((filterExpression) => ({ scope, filterExpression })))
    .map((simpleFilter): FilterClause => ({ clauseType: type, simpleFilter }));
  const step = fc.record({
    scope: fc.constant(EVENT),
    immediatelyFollows: fc.constant(false),
    constraintDurationMicros: duration,
    filterExpression: cnf(EVENT, exclude),
  });
  const sequence = fc
    .record({
      scope: fc.constantFrom(ACROSS, SESSION),
      sequenceMaximumDurationMicros: duration,
      sequenceSteps: fc.array(step, { minLength: 1, maxLength: 3 }),
    })
    .map((sequenceFilter): FilterClause => ({ clauseType: type, sequenceFilter }));
  return fc.oneof({ weight: 3, arbitrary: simple }, { weight: 1, arbitrary: sequence });
}

const audienceArb: fc.Arbitrary<AudienceDefinition | null> = fc
  .record({
    days: fc.constantFrom(1, 7, 30, 30),
    include: clause('INCLUDE'),
    excludes: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as FilterClause[]) },
      { weight: 1, arbitrary: fc.array(clause('EXCLUDE'), { minLength: 1, maxLength: 2 }) },
    ),
  })
  .map(({ days, include, excludes }) => {
    const def: AudienceDefinition = {
      displayName: 'x',
      description: 'x',
      membershipDurationDays: days,
      exclusionDurationMode: 'EXCLUDE_PERMANENTLY',
      filterClauses: [include, ...excludes],
    };
    // Through the API form, as the service sees it; null when validation rejects it.
    try {
      const meta = { name: 'properties/1/audiences/1', createTime: '2024-06-01T00:00:00Z' };
      return parseAudience(audienceToJson(def, { ...meta, adsPersonalizationEnabled: true }, false));
    } catch (err) {
      if (err instanceof ApiError) return null;
      throw err;
    }
  });

const db = useTestDb();

// --- worked cases: which events count as the last qualifying one ---------------------------------

const DAY = 86_400_000_000n;
const T0 = CREATE_TIME - 12n * DAY; // the histories' day 0 (test/audience-arbitraries.ts)

interface Ev {
  user: number;
  name: string;
  day: number;
  session?: number;
  value?: number;
}

function history(evs: Ev[]): StoredEvent[] {
  const params = (e: Ev): Params => (e.value === undefined ? {} : { value: { double_value: e.value } });
  return buildEvents(
    evs.map((e) => [
      e.user,
      {
        name: e.name,
        offsetMinutes: e.day * 1440,
        session: e.session ?? 0,
        params: params(e),
        plan: null,
        score: null,
        device: null,
        country: null,
        items: [],
        revenue: null,
      },
    ]),
    PROPERTY,
  );
}

const plain = (eventName: string): FilterExpression => ({ eventFilter: { eventName } });
const withParam = (eventName: string, fieldName: string, x: number): FilterExpression => ({
  eventFilter: {
    eventName,
    eventParameterFilterExpression: {
      andGroup: {
        filterExpressions: [
          {
            dimensionOrMetricFilter: {
              fieldName,
              numericFilter: {
                operation: 'GREATER_THAN',
                value: fieldName === 'eventCount' ? { int64Value: BigInt(x) } : { doubleValue: x },
              },
              atAnyPointInTime: false,
            },
          },
        ],
      },
    },
  },
});
const oneDay = (scope: FilterScope, groups: FilterExpression[][]): AudienceDefinition => ({
  displayName: 'x',
  description: 'x',
  membershipDurationDays: 1,
  exclusionDurationMode: 'EXCLUDE_PERMANENTLY',
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      simpleFilter: {
        scope,
        filterExpression: {
          andGroup: { filterExpressions: groups.map((g) => ({ orGroup: { filterExpressions: g } })) },
        },
      },
    },
  ],
});

const CASES: [string, AudienceDefinition, Ev[], string[]][] = [
  [
    "a later event of a matched leaf's name that fails its parameter condition does not renew",
    oneDay(ACROSS, [[withParam('purchase', 'value', 20)], [plain('add_to_cart')]]),
    [
      { user: 0, name: 'purchase', day: 0, value: 50 },
      { user: 0, name: 'add_to_cart', day: 0 },
      { user: 0, name: 'purchase', day: 10, value: 5 },
      { user: 1, name: 'purchase', day: 0, value: 50 },
      { user: 1, name: 'add_to_cart', day: 0 },
      { user: 1, name: 'purchase', day: 10, value: 30 },
    ],
    ['u1'],
  ],
  [
    'an eventCount leaf beside another leaf renews only once its count passes',
    oneDay(ACROSS, [[withParam('purchase', 'eventCount', 2), plain('add_to_cart')]]),
    [
      { user: 0, name: 'add_to_cart', day: 0 },
      { user: 0, name: 'purchase', day: 10 },
      { user: 1, name: 'add_to_cart', day: 0 },
      { user: 1, name: 'purchase', day: 8 },
      { user: 1, name: 'purchase', day: 9 },
      { user: 1, name: 'purchase', day: 10 },
      { user: 2, name: 'add_to_cart', day: 10 },
    ],
    ['u1', 'u2'],
  ],
  [
    'an eventCount leaf alone: its last event renews once the count passes',
    oneDay(ACROSS, [[withParam('purchase', 'eventCount', 1)]]),
    [
      { user: 0, name: 'purchase', day: 0 },
      { user: 0, name: 'purchase', day: 10 },
      { user: 1, name: 'purchase', day: 10 },
    ],
    ['u0'],
  ],
  [
    'within a session: only events of a satisfied session renew',
    oneDay(SESSION, [[plain('add_to_cart')], [plain('purchase')]]),
    [
      { user: 0, name: 'add_to_cart', day: 0, session: 0 },
      { user: 0, name: 'purchase', day: 0, session: 0 },
      { user: 0, name: 'add_to_cart', day: 10, session: 1 },
      { user: 1, name: 'add_to_cart', day: 10, session: 2 },
      { user: 1, name: 'purchase', day: 10, session: 2 },
    ],
    ['u1'],
  ],
];

for (const [title, raw, evs, members] of CASES) {
  test(`qualifying events: ${title}`, async () => {
    const def = parseAudience(
      audienceToJson(
        raw,
        {
          name: 'properties/1/audiences/1',
          createTime: '2024-06-01T00:00:00Z',
          adsPersonalizationEnabled: true,
        },
        false,
      ),
    );
    const config: EvaluationConfig = {
      createTimeMicros: CREATE_TIME,
      backfillDays: null,
      timeZone: 'UTC',
      ignoreEventNamesForAdjacency: [],
    };
    const asOf = T0 + 10n * DAY + 3_600_000_000n;
    const events = history(evs);
    assert.deepEqual(membersAt(evaluateAudience(def, events, asOf, config), asOf), members);
    await db.connection.run('DELETE FROM events');
    await insertEvents(db.connection, events);
    const req = { propertyId: PROPERTY, audience: def, config, asOfMicros: asOf };
    assert.notEqual(new MembersSqlCompiler(duckdbDialect, def, req).compileByQualifyingEvents(), null);
    assert.deepEqual(await new DuckDbAudienceEngine(db.connection).findMembers(req), members);
  });
}

// --- random audiences of these shapes ---------------------------------------------------------

test(
  'one INCLUDE clause: members by qualifying events equal the reference evaluator',
  { timeout: 600_000 },
  async () => {
    const engine = new DuckDbAudienceEngine(db.connection);
    let checks = 0;
    let withMembers = 0;
    const property = fc.asyncProperty(
      audienceArb,
      historyArb,
      nowsArb,
      fc.constantFrom<number | null>(30, 5, null),
      async (def, history, nowSpecs, backfillDays) => {
        fc.pre(def !== null && planAudience(def) === 'sql');
        const config: EvaluationConfig = {
          createTimeMicros: CREATE_TIME,
          backfillDays,
          timeZone: 'UTC',
          ignoreEventNamesForAdjacency: [],
        };
        const events = buildEvents(history, PROPERTY);
        const nows = resolveNows(nowSpecs, events, def.membershipDurationDays);
        await db.connection.run('DELETE FROM events');
        await insertEvents(db.connection, events);
        for (const now of nows) {
          const ctx = { propertyId: PROPERTY, asOfMicros: now, config };
          // The shape under test: the query must come from compileByQualifyingEvents.
          assert.notEqual(new MembersSqlCompiler(duckdbDialect, def, ctx).compileByQualifyingEvents(), null);
          const expected = membersAt(evaluateAudience(def, events, now, config), now);
          checks++;
          if (expected.length > 0) withMembers++;
          assert.deepEqual(await engine.findMembers({ ...ctx, audience: def }), expected);
        }
      },
    );
    const seed = process.env.AUDEX_FC_SEED;
    const path = process.env.AUDEX_FC_PATH;
    await fc.assert(property, {
      numRuns: Number(process.env.AUDEX_FC_RUNS ?? 400),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
      endOnFailure: false,
    });
    console.log(`checks: ${checks}; with members: ${withMembers}`);
    // A property that never sees a member proves little.
    assert.ok(withMembers > checks / 8, `only ${withMembers} of ${checks} checks had members`);
  },
);

// fast-check arbitraries for the sequence differential test: sequence clauses drawn from the whole
// sequence grammar (1-4 steps, immediatelyFollows, step time limits, a maximum duration, NOT
// leaves, hostile values) and dense histories (few event names, many timestamp ties, events
// without a session id) so that chains, adjacency and the inclusive time limits all bite.

import fc from 'fast-check';
import type {
  AudienceDefinition,
  FilterClause,
  FilterExpression,
  FilterScope,
  SequenceStep,
} from '../src/domain/audience.ts';
import { HOSTILE, buildEvents } from './audience-arbitraries.ts';

const EVENT: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS: FilterScope = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

/** Few names, so that steps often match and adjacency is often broken or kept. */
export const SEQ_NAMES = ['view_item', 'add_to_cart', 'purchase', 'page_view', 'scroll', 'refund'] as const;

// --- leaves -------------------------------------------------------------------------------------

const deviceLeaf = fc
  .record({
    value: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('mobile', 'desktop', 'Mobile') },
      { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) },
    ),
    matchType: fc.constantFrom('EXACT', 'CONTAINS', 'BEGINS_WITH' as const),
    caseSensitive: fc.boolean(),
  })
  .map(({ value, matchType, caseSensitive }) => ({
    fieldName: 'deviceCategory',
    stringFilter: { matchType, value, caseSensitive },
    atAnyPointInTime: false,
  }));

const valueParam = fc.constantFrom(0, 20, 50).map((x) => ({
  fieldName: 'value',
  numericFilter: { operation: 'GREATER_THAN' as const, value: { doubleValue: x } },
  atAnyPointInTime: false,
}));

const currencyParam = fc
  .oneof(fc.constantFrom('EUR', 'eur', 'USD'), fc.constantFrom(...HOSTILE))
  .map((value) => ({
    fieldName: 'currency',
    stringFilter: { matchType: 'EXACT' as const, value, caseSensitive: false },
    atAnyPointInTime: false,
  }));

/** An item leaf (any item of the event; own field or item_params, D8), judged per event in SQL. */
const itemParam = fc.constantFrom('a', 'B', '50%').map((value) => ({
  fieldName: 'itemId',
  stringFilter: { matchType: 'EXACT' as const, value, caseSensitive: value !== 'B' },
  atAnyPointInTime: false,
}));

const eventLeaf: fc.Arbitrary<FilterExpression> = fc
  .record({
    eventName: fc.constantFrom(...SEQ_NAMES.slice(0, 3)),
    param: fc.oneof(
      { weight: 8, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: valueParam },
      { weight: 1, arbitrary: currencyParam },
      { weight: 1, arbitrary: itemParam },
    ),
    negated: fc.boolean(),
  })
  .map(({ eventName, param, negated }) => {
    if (param === null) return { eventFilter: { eventName } };
    const leaf = negated
      ? { notExpression: { dimensionOrMetricFilter: param } }
      : { dimensionOrMetricFilter: param };
    return {
      eventFilter: { eventName, eventParameterFilterExpression: { andGroup: { filterExpressions: [leaf] } } },
    };
  });

const leafExpr: fc.Arbitrary<FilterExpression> = fc.oneof(
  { weight: 10, arbitrary: eventLeaf },
  { weight: 1, arbitrary: deviceLeaf.map((dimensionOrMetricFilter) => ({ dimensionOrMetricFilter })) },
  {
    weight: 1,
    arbitrary: deviceLeaf.map((dimensionOrMetricFilter) => ({ notExpression: { dimensionOrMetricFilter } })),
  },
);

const countFilter = fc.oneof(
  fc.constant({ operation: 'GREATER_THAN' as const, value: { int64Value: 0n } }),
  fc.constant({ operation: 'LESS_THAN' as const, value: { int64Value: 1n } }), // holds on other names
  fc.constant({ operation: 'EQUAL' as const, value: { int64Value: 1n } }),
);

/**
 * Metric and eventCount leaves, for steps over one event (the metric of {e}; an eventCount counts
 * the event if it has the name, D10): a metric (eventValue, revenue, eventCount), its NOT, or an
 * eventFilter with an eventCount leaf (and sometimes another parameter leaf, which the count ignores).
 */
const metricLeafExpr: fc.Arbitrary<FilterExpression> = fc.oneof(
  fc
    .record({
      fieldName: fc.constantFrom('eventValue', 'purchaseRevenue', 'eventCount'),
      x: fc.constantFrom(0, 20, 1),
      negated: fc.boolean(),
    })
    .map(({ fieldName, x, negated }) => {
      const f = {
        fieldName,
        numericFilter: { operation: 'GREATER_THAN' as const, value: { doubleValue: x } },
        atAnyPointInTime: false,
      };
      return negated ? { notExpression: { dimensionOrMetricFilter: f } } : { dimensionOrMetricFilter: f };
    }),
  fc
    .record({
      eventName: fc.constantFrom(...SEQ_NAMES.slice(0, 3)),
      count: countFilter,
      negated: fc.boolean(),
      other: fc.option(valueParam, { nil: undefined }),
    })
    .map(({ eventName, count, negated, other }) => {
      const c = { fieldName: 'eventCount', numericFilter: count, atAnyPointInTime: false };
      const leaves: FilterExpression[] = [
        negated ? { notExpression: { dimensionOrMetricFilter: c } } : { dimensionOrMetricFilter: c },
        ...(other ? [{ dimensionOrMetricFilter: other }] : []),
      ];
      return {
        eventFilter: {
          eventName,
          eventParameterFilterExpression: { andGroup: { filterExpressions: leaves } },
        },
      };
    }),
);

/** An event filter with a metric parameter leaf (no eventCount): the metric of the event alone (D9). */
const metricParamLeaf: fc.Arbitrary<FilterExpression> = fc
  .record({ eventName: fc.constantFrom(...SEQ_NAMES.slice(0, 3)), x: fc.constantFrom(0, 15, 20) })
  .map(({ eventName, x }) => ({
    eventFilter: {
      eventName,
      eventParameterFilterExpression: {
        andGroup: {
          filterExpressions: [
            {
              dimensionOrMetricFilter: {
                fieldName: 'eventValue',
                numericFilter: { operation: 'GREATER_THAN' as const, value: { doubleValue: x } },
                atAnyPointInTime: false,
              },
            },
          ],
        },
      },
    },
  }));

/** Leaves of a step over one event: also metrics and eventCount (SQL judges them on {e}). */
const eventStepLeafExpr: fc.Arbitrary<FilterExpression> = fc.oneof(
  { weight: 4, arbitrary: leafExpr },
  { weight: 1, arbitrary: metricLeafExpr },
  { weight: 1, arbitrary: metricParamLeaf },
);

/**
 * Metrics over a range (a_(k-1), a_k] (sequence-pairs.ts): every metric, with thresholds that a
 * few events cross (counts of 1-3, sums of 0.1 + 0.2 against 0.3, revenue with refunds, engaged
 * sessions), = and between as well as > and <, and NOT.
 */
const rangeMetricLeaf: fc.Arbitrary<FilterExpression> = fc
  .record({
    fieldName: fc.constantFrom(
      'eventCount',
      'eventCount',
      'eventValue',
      'purchaseRevenue',
      'sessions',
      'engagedSessions',
      'userEngagementDuration',
      'transactions',
      'ecommercePurchases',
    ),
    op: fc.constantFrom('GREATER_THAN', 'LESS_THAN', 'EQUAL', 'BETWEEN' as const),
    x: fc.constantFrom(0, 1, 2, 3, 0.3, 20, 30),
    negated: fc.boolean(),
  })
  .map(({ fieldName, op, x, negated }) => {
    const f =
      op === 'BETWEEN'
        ? { fieldName, betweenFilter: { fromValue: { doubleValue: x }, toValue: { doubleValue: x + 10 } } }
        : { fieldName, numericFilter: { operation: op, value: { doubleValue: x } } };
    const leaf = { ...f, atAnyPointInTime: false };
    return negated ? { notExpression: { dimensionOrMetricFilter: leaf } } : { dimensionOrMetricFilter: leaf };
  });

/** Leaves of a step over a range: event-level leaves, and metrics and eventCount of the range. */
const rangeStepLeafExpr: fc.Arbitrary<FilterExpression> = fc.oneof(
  { weight: 6, arbitrary: leafExpr },
  { weight: 2, arbitrary: metricLeafExpr },
  { weight: 2, arbitrary: rangeMetricLeaf },
);

// Mostly one OR-group (an AND of two leaves on one event rarely holds).
function cnfOf(leaf: fc.Arbitrary<FilterExpression>): fc.Arbitrary<FilterExpression> {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.array(leaf, { minLength: 1, maxLength: 2 }).map((g) => [g]) },
      {
        weight: 1,
        arbitrary: fc.array(fc.array(leaf, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 2 }),
      },
    )
    .map((groups) => ({
      andGroup: { filterExpressions: groups.map((g) => ({ orGroup: { filterExpressions: g } })) },
    }));
}
const rangeStepCnf = cnfOf(rangeStepLeafExpr);
const eventStepCnf = cnfOf(eventStepLeafExpr);

// Limits that the history's offsets hit exactly (they are inclusive). Half the time none
// (fast-check's `freq` is 1 / the chance of nil: `freq: 1` drew no limit at all).
const limit = fc.option(
  fc.constantFrom(0n, 60n, 600n, 3600n, 3600n, 86400n, 86400n).map((s) => s * 1_000_000n),
  { nil: undefined, freq: 2 },
);

/** A sequence clause; `stepScopes` the step scopes drawn (at most the sequence's scope). */
export function sequenceClauseArb(
  type: 'INCLUDE' | 'EXCLUDE',
  stepScopes: readonly FilterScope[] = [EVENT],
): fc.Arbitrary<FilterClause> {
  return fc
    .constantFrom(SESSION, ACROSS)
    .chain((scope) => {
      const rank = [EVENT, SESSION, ACROSS];
      const allowed = stepScopes.filter((s) => rank.indexOf(s) <= rank.indexOf(scope));
      // Over one event a metric is the event's; over a range it aggregates the range.
      const step: fc.Arbitrary<SequenceStep> = fc.constantFrom(...allowed).chain((stepScope) =>
        fc.record({
          scope: fc.constant(stepScope),
          immediatelyFollows: fc.boolean(),
          constraintDurationMicros: limit,
          filterExpression: stepScope === EVENT ? eventStepCnf : rangeStepCnf,
        }),
      );
      return fc.record({
        scope: fc.constant(scope),
        sequenceMaximumDurationMicros: limit,
        sequenceSteps: fc.oneof(
          { weight: 1, arbitrary: fc.array(step, { minLength: 1, maxLength: 1 }) },
          { weight: 4, arbitrary: fc.array(step, { minLength: 2, maxLength: 2 }) },
          { weight: 2, arbitrary: fc.array(step, { minLength: 3, maxLength: 4 }) },
        ),
      });
    })
    .map((sequenceFilter) => ({ clauseType: type, sequenceFilter }));
}

/**
 * Mostly one INCLUDE sequence (the members-by-qualifying-events query); sometimes a second
 * INCLUDE clause or a permanent EXCLUDE sequence (the positions query).
 */
export function sequenceAudienceArb(stepScopes?: readonly FilterScope[]): fc.Arbitrary<AudienceDefinition> {
  const other: fc.Arbitrary<FilterClause> = fc.oneof(
    sequenceClauseArb('INCLUDE', stepScopes),
    eventLeaf.map((filterExpression) => ({
      clauseType: 'INCLUDE' as const,
      simpleFilter: { scope: ACROSS, filterExpression },
    })),
    sequenceClauseArb('EXCLUDE', stepScopes),
  );
  return fc.record({
    displayName: fc.constant('Sequence'),
    description: fc.constant('x'),
    membershipDurationDays: fc.constantFrom(1, 7, 30, 30),
    exclusionDurationMode: fc.constant('EXCLUDE_PERMANENTLY' as const),
    filterClauses: fc
      .tuple(
        sequenceClauseArb('INCLUDE', stepScopes),
        fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: other.map((c) => [c]) }),
      )
      .map(([first, rest]) => [first, ...rest]),
  });
}

// --- histories ----------------------------------------------------------------------------------

type RawHistory = Parameters<typeof buildEvents>[0];
type RawEvent = RawHistory[number][1];

const rawEvent: fc.Arbitrary<RawEvent> = fc
  .record({
    name: fc.constantFrom(...SEQ_NAMES),
    // Bursts at a few bases with minute offsets that hit the limits above (and ties: same minute).
    offsetMinutes: fc
      .tuple(
        fc.constantFrom(12 * 1440, 12 * 1440, 12 * 1440, 1440, 5 * 1440 + 600),
        fc.oneof(
          fc.constantFrom(0, 0, 1, 1, 10, 11, 60, 61),
          fc.integer({ min: 0, max: 120 }),
          fc.integer({ min: 0, max: 1500 }),
        ),
      )
      .map(([a, b]) => a + b),
    // 4 = no session id: each such event is a session of its own (D3).
    session: fc.integer({ min: 0, max: 4 }),
    value: fc.option(fc.constantFrom(10, 20, 60, 0.1, 0.2, -5), { nil: null }),
    engagementMsec: fc.option(fc.constantFrom(4000, 6000, 10000), { nil: null, freq: 3 }),
    engaged: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
    revenue: fc.option(fc.constantFrom(15, 25, 0.1), { nil: null, freq: 3 }),
    currency: fc.option(fc.constantFrom('EUR', 'eur', "it's"), { nil: null }),
    device: fc.option(fc.constantFrom('desktop', 'mobile', 'Mobile', '50%'), { nil: null }),
    items: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as Record<string, unknown>[]) },
      {
        weight: 1,
        arbitrary: fc.array(
          fc.oneof(
            fc.constantFrom('a', 'b', '50%').map((item_id) => ({ item_id })),
            fc.constant({ item_name: 'n', item_params: { item_id: { string_value: 'a' } } }),
          ),
          { minLength: 1, maxLength: 2 },
        ),
      },
    ),
  })
  .map((r) => ({
    name: r.name,
    offsetMinutes: r.offsetMinutes,
    session: r.session,
    params: {
      ...(r.value === null
        ? {}
        : { value: Number.isInteger(r.value) ? { int_value: BigInt(r.value) } : { double_value: r.value } }),
      ...(r.engagementMsec === null ? {} : { engagement_time_msec: { int_value: BigInt(r.engagementMsec) } }),
      ...(r.engaged ? { session_engaged: { string_value: '1' } } : {}),
      ...(r.currency === null ? {} : { currency: { string_value: r.currency } }),
    },
    plan: null,
    score: null,
    device: r.device,
    country: null,
    items: r.items,
    revenue: r.revenue,
  }));

/** Up to three users; ingest_seq follows array order, so equal minutes are ties broken by it. */
export const sequenceHistoryArb: fc.Arbitrary<RawHistory> = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 2 }), rawEvent),
  { minLength: 10, maxLength: 40, size: 'max' },
);

/** ignoreEventNamesForAdjacency: empty (the default) or a few names. */
export const adjacencyArb = fc.constantFrom<string[]>([], [], ['scroll'], ['scroll', 'page_view']);

/** A later step over a range that follows immediately, with a time limit. */
export function isImmediateRangeWithLimit(st: SequenceStep, k: number): boolean {
  return (
    k > 0 && st.scope !== EVENT && st.immediatelyFollows === true && st.constraintDurationMicros !== undefined
  );
}

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_AUDIENCES,
  LIMITS,
  audienceToJson,
  checkPropertyLimits,
  compareNumeric,
  formatDuration,
  parseAudience,
  parseAudienceUpdate,
} from './validate.ts';
import { EXAMPLES, E1, E4, E6, E7, E8, E9B, E10, E10S, E11, E12 } from './fixtures/examples.ts';
import { ApiError, type FieldViolation } from '../domain/errors.ts';
import type { AudienceDefinition } from '../domain/audience.ts';

type Json = Record<string, any>;

const META = {
  name: 'properties/1/audiences/7',
  createTime: '2024-06-01T00:00:00Z',
  adsPersonalizationEnabled: true,
};
const ALL = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const TOP = 'filter_clauses[0].simple_filter.filter_expression';
const LEAF0 = `${TOP}.and_group.filter_expressions[0].or_group.filter_expressions[0]`;

const clone = <T>(x: T): any => structuredClone(x);

function violationsOf(fn: () => unknown): FieldViolation[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.status, 'INVALID_ARGUMENT', err.message);
    const br = err.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.BadRequest');
    return (br?.fieldViolations as FieldViolation[] | undefined) ?? [];
  }
  assert.fail('expected INVALID_ARGUMENT, but the input was accepted');
}

/** Asserts INVALID_ARGUMENT with a violation on exactly `field` (and a description matching `re`). */
function rejects(input: unknown, field: string, re?: RegExp): FieldViolation[] {
  const v = violationsOf(() => parseAudience(input));
  const hit = v.find((x) => x.field === field && (!re || re.test(x.description)));
  assert.ok(hit, `no violation on ${field}${re ? ` matching ${re}` : ''}; got ${JSON.stringify(v)}`);
  return v;
}

/** A one-clause audience whose single leaf is `leaf` (an or_group child) under `scope`. */
function withLeaf(leaf: Json, scope = ALL, extra: Json = {}): Json {
  return {
    displayName: 'T',
    description: 'd',
    membershipDurationDays: 30,
    ...extra,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope,
          filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
        },
      },
    ],
  };
}

const dim = (fieldName: string, filter: Json, extra: Json = {}): Json => ({
  dimensionOrMetricFilter: { fieldName, ...filter, ...extra },
});
const exact = (value: string): Json => ({ stringFilter: { matchType: 'EXACT', value } });
const gt = (n: number): Json => ({
  numericFilter: { operation: 'GREATER_THAN', value: { int64Value: String(n) } },
});
const ev = (eventName: string, params?: Json): Json => ({
  eventFilter: params ? { eventName, eventParameterFilterExpression: params } : { eventName },
});
const paramAnd = (...leaves: Json[]): Json => ({ andGroup: { filterExpressions: leaves } });

function sequence(steps: Json[], scope = ALL, extra: Json = {}): Json {
  return {
    displayName: 'S',
    description: 'd',
    membershipDurationDays: 7,
    filterClauses: [{ clauseType: 'INCLUDE', sequenceFilter: { scope, ...extra, sequenceSteps: steps } }],
  };
}
const step = (eventName: string, scope = EVENT, extra: Json = {}): Json => ({
  scope,
  ...extra,
  filterExpression: {
    andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [ev(eventName)] } }] },
  },
});

describe('worked examples E1–E12', () => {
  for (const [name, json] of Object.entries(EXAMPLES)) {
    test(`${name} parses`, () => {
      const def = parseAudience(json);
      assert.equal(def.displayName, (json as Json).displayName);
      assert.ok(def.filterClauses.length >= 1);
    });
    test(`${name} round-trips (enum names and numbers)`, () => {
      const def = parseAudience(json);
      for (const numeric of [false, true]) {
        const out = audienceToJson(def, META, numeric);
        assert.deepEqual(parseAudience(out), def);
        assert.deepEqual(parseAudience(JSON.parse(JSON.stringify(out))), def);
      }
    });
  }

  test('E1 normalises defaults', () => {
    const def = parseAudience(E1);
    assert.deepEqual(def, {
      displayName: 'Purchasers',
      description: 'Users who purchased',
      membershipDurationDays: 30,
      exclusionDurationMode: 'EXCLUDE_TEMPORARILY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: ALL,
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
                ],
              },
            },
          },
        },
      ],
    } satisfies AudienceDefinition);
  });

  test('E6 durations and immediatelyFollows', () => {
    const seq = parseAudience(E6).filterClauses[0]!.sequenceFilter!;
    assert.equal(seq.sequenceMaximumDurationMicros, undefined);
    assert.equal(seq.sequenceSteps[0]!.immediatelyFollows, false);
    assert.equal(seq.sequenceSteps[0]!.constraintDurationMicros, undefined);
    assert.equal(seq.sequenceSteps[1]!.immediatelyFollows, true);
    assert.equal(seq.sequenceSteps[1]!.constraintDurationMicros, 1_800_000_000n);
  });

  test('E7 sequence maximum duration and param filter on a bare key', () => {
    const seq = parseAudience(E7).filterClauses[0]!.sequenceFilter!;
    assert.equal(seq.sequenceMaximumDurationMicros, 604_800_000_000n);
    const ef =
      seq.sequenceSteps[1]!.filterExpression.andGroup!.filterExpressions[0]!.orGroup!.filterExpressions[0]!
        .eventFilter!;
    const leaf = ef.eventParameterFilterExpression!.andGroup!.filterExpressions[0]!.dimensionOrMetricFilter!;
    assert.deepEqual(leaf.numericFilter, { operation: 'GREATER_THAN', value: { doubleValue: 20 } });
  });

  test('E8 int64 values become bigint', () => {
    const ef =
      parseAudience(E8).filterClauses[0]!.simpleFilter!.filterExpression.andGroup!.filterExpressions[0]!
        .orGroup!.filterExpressions[0]!.eventFilter!;
    const count = ef.eventParameterFilterExpression!.andGroup!.filterExpressions[0]!.dimensionOrMetricFilter!;
    assert.deepEqual(count.numericFilter!.value, { int64Value: 2n });
  });

  test('E9B / E10S are static; E10 keeps caseSensitive; E11 defaults caseSensitive false', () => {
    const leafOf = (d: AudienceDefinition) =>
      d.filterClauses[0]!.simpleFilter!.filterExpression.andGroup!.filterExpressions[0]!.orGroup!
        .filterExpressions[0]!.dimensionOrMetricFilter!;
    assert.equal(leafOf(parseAudience(E9B)).atAnyPointInTime, true);
    assert.equal(leafOf(parseAudience(E9B)).inAnyNDayPeriod, 7);
    assert.equal(leafOf(parseAudience(E10S)).atAnyPointInTime, true);
    assert.equal(leafOf(parseAudience(E10)).atAnyPointInTime, false);
    assert.equal(leafOf(parseAudience(E10)).inListFilter!.caseSensitive, true);
    assert.equal(leafOf(parseAudience(E11)).inListFilter!.caseSensitive, false);
  });

  test('E4 keeps EXCLUDE_PERMANENTLY; E12 keeps its trigger', () => {
    assert.equal(parseAudience(E4).exclusionDurationMode, 'EXCLUDE_PERMANENTLY');
    assert.deepEqual(parseAudience(E12).eventTrigger, {
      eventName: 'became_high_value',
      logCondition: 'AUDIENCE_JOINED',
    });
  });

  test('fixtures are frozen so that tests cannot change them for each other', () => {
    assert.ok(Object.isFrozen(E1));
    assert.ok(Object.isFrozen((E1 as Json).filterClauses[0].simpleFilter));
  });
});

describe('validation fixtures', () => {
  test('top-level or_group is rejected', () => {
    const x = clone(E1);
    x.filterClauses[0].simpleFilter.filterExpression =
      x.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0];
    rejects(x, TOP, /must be an and_group at the top level \(got or_group\)/);
  });

  test('top-level bare event_filter is rejected', () => {
    const x = clone(E1);
    x.filterClauses[0].simpleFilter.filterExpression = ev('purchase');
    rejects(x, TOP, /got event_filter/);
  });

  test('and_group directly containing an event_filter is rejected', () => {
    const x = clone(E1);
    x.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions.push(ev('refund'));
    rejects(x, `${TOP}.and_group.filter_expressions[1]`, /must be an or_group \(got event_filter\)/);
  });

  test('not_expression wrapping an event_filter is rejected', () => {
    rejects(
      withLeaf({ notExpression: ev('purchase') }),
      `${LEAF0}.not_expression`,
      /only a dimension_or_metric_filter/,
    );
  });

  test('at_any_point_in_time under WITHIN_SAME_SESSION is rejected', () => {
    rejects(
      withLeaf(dim('country', exact('France'), { atAnyPointInTime: true }), SESSION),
      `${LEAF0}.dimension_or_metric_filter.at_any_point_in_time`,
      /ACROSS_ALL_SESSIONS/,
    );
  });

  test('in_any_n_day_period 61 is rejected', () => {
    rejects(
      withLeaf(dim('sessions', gt(2), { inAnyNDayPeriod: 61 })),
      `${LEAF0}.dimension_or_metric_filter.in_any_n_day_period`,
    );
  });

  test('membership_duration_days 541 is rejected', () => {
    rejects({ ...clone(E1), membershipDurationDays: 541 }, 'membership_duration_days', /between 1 and 540/);
  });

  test('description "" is rejected', () => {
    rejects({ ...clone(E1), description: '' }, 'description', /required/);
  });

  test('event_parameter_filter_expression shaped as and_group[or_group[…]] is rejected', () => {
    const x = withLeaf(
      ev('purchase', {
        andGroup: {
          filterExpressions: [{ orGroup: { filterExpressions: [dim('currency', exact('EUR'))] } }],
        },
      }),
    );
    rejects(
      x,
      `${LEAF0}.event_filter.event_parameter_filter_expression.and_group.filter_expressions[0]`,
      /dimension_or_metric_filter or not_expression \(got or_group\)/,
    );
  });

  test('PATCH membership_duration_days is rejected; PATCH display_name is accepted', () => {
    const existing = parseAudience(E1);
    const v = violationsOf(() =>
      parseAudienceUpdate(existing, { membershipDurationDays: 10 }, 'membership_duration_days'),
    );
    assert.equal(v[0]!.field, 'update_mask');
    assert.match(v[0]!.description, /membership_duration_days" is immutable/);
    const next = parseAudienceUpdate(existing, { displayName: 'Buyers' }, 'display_name');
    assert.equal(next.displayName, 'Buyers');
    assert.deepEqual({ ...next, displayName: 'Purchasers' }, existing);
  });
});

describe('§2.9 rules', () => {
  test('rule 1: required Audience fields', () => {
    const v = violationsOf(() => parseAudience({}));
    assert.deepEqual(
      v.map((x) => x.field),
      ['display_name', 'description', 'membership_duration_days', 'filter_clauses'],
    );
    rejects({ ...clone(E1), filterClauses: [] }, 'filter_clauses', /at least one/);
    rejects({ ...clone(E1), displayName: '   ' }, 'display_name', /blank/);
  });

  test('rule 1: clause needs clause_type and exactly one of simple/sequence', () => {
    const x = clone(E1);
    delete x.filterClauses[0].clauseType;
    rejects(x, 'filter_clauses[0].clause_type', /required/);
    const both = clone(E1);
    both.filterClauses[0].sequenceFilter = clone(E6).filterClauses[0].sequenceFilter;
    rejects(both, 'filter_clauses[0]', /exactly one of simple_filter or sequence_filter \(got both\)/);
    const none = clone(E1);
    delete none.filterClauses[0].simpleFilter;
    rejects(none, 'filter_clauses[0]', /exactly one/);
  });

  test('rule 1: simple filter needs scope and filter_expression', () => {
    const x = clone(E1);
    delete x.filterClauses[0].simpleFilter.scope;
    rejects(x, 'filter_clauses[0].simple_filter.scope', /required/);
    const y = clone(E1);
    delete y.filterClauses[0].simpleFilter.filterExpression;
    rejects(y, 'filter_clauses[0].simple_filter.filter_expression', /required/);
  });

  test('rule 1: sequence needs scope and at least one step; step needs scope and filter_expression', () => {
    rejects(sequence([]), 'filter_clauses[0].sequence_filter.sequence_steps', /at least one/);
    const s = sequence([step('a'), step('b')]);
    delete s.filterClauses[0].sequenceFilter.scope;
    rejects(s, 'filter_clauses[0].sequence_filter.scope', /required/);
    const t = sequence([step('a'), { scope: EVENT }]);
    rejects(t, 'filter_clauses[0].sequence_filter.sequence_steps[1].filter_expression', /required/);
    const u = sequence([step('a'), step('b')]);
    delete u.filterClauses[0].sequenceFilter.sequenceSteps[0].scope;
    rejects(u, 'filter_clauses[0].sequence_filter.sequence_steps[0].scope', /required/);
  });

  test('rule 1: event filter needs event_name; dim filter needs field_name and exactly one filter', () => {
    rejects(withLeaf({ eventFilter: {} }), `${LEAF0}.event_filter.event_name`, /required/);
    rejects(withLeaf(dim('', exact('x'))), `${LEAF0}.dimension_or_metric_filter.field_name`, /required/);
    rejects(
      withLeaf({ dimensionOrMetricFilter: { fieldName: 'country' } }),
      `${LEAF0}.dimension_or_metric_filter`,
      /exactly one/,
    );
    rejects(
      withLeaf(dim('country', { ...exact('x'), inListFilter: { values: ['a'] } })),
      `${LEAF0}.dimension_or_metric_filter`,
      /got string_filter, in_list_filter/,
    );
    rejects(withLeaf({}), LEAF0, /exactly one of and_group/);
    rejects(
      withLeaf({ ...ev('a'), ...dim('country', exact('x')) }),
      LEAF0,
      /got dimension_or_metric_filter, event_filter/,
    );
  });

  test('rule 1: string, in-list, numeric, between filters need their fields', () => {
    const p = `${LEAF0}.dimension_or_metric_filter`;
    rejects(
      withLeaf(dim('country', { stringFilter: { value: 'x' } })),
      `${p}.string_filter.match_type`,
      /required/,
    );
    rejects(
      withLeaf(dim('country', { stringFilter: { matchType: 'EXACT' } })),
      `${p}.string_filter.value`,
      /required/,
    );
    rejects(
      withLeaf(dim('country', { stringFilter: { matchType: 'EXACT', value: '' } })),
      `${p}.string_filter.value`,
      /required/,
    );
    rejects(
      withLeaf(dim('country', { inListFilter: { values: [] } })),
      `${p}.in_list_filter.values`,
      /at least one/,
    );
    rejects(withLeaf(dim('country', { inListFilter: {} })), `${p}.in_list_filter.values`, /at least one/);
    rejects(
      withLeaf(dim('country', { inListFilter: { values: ['a', ''] } })),
      `${p}.in_list_filter.values[1]`,
      /empty/,
    );
    rejects(
      withLeaf(dim('sessions', { numericFilter: { value: { int64Value: '1' } } })),
      `${p}.numeric_filter.operation`,
    );
    rejects(
      withLeaf(dim('sessions', { numericFilter: { operation: 'EQUAL' } })),
      `${p}.numeric_filter.value`,
      /required/,
    );
    rejects(
      withLeaf(dim('sessions', { betweenFilter: { fromValue: { int64Value: '1' } } })),
      `${p}.between_filter.to_value`,
    );
    rejects(
      withLeaf(dim('sessions', { betweenFilter: { toValue: { int64Value: '1' } } })),
      `${p}.between_filter.from_value`,
    );
  });

  test('rule 1: event trigger needs both fields', () => {
    rejects(
      { ...clone(E1), eventTrigger: { eventName: 'joined_x' } },
      'event_trigger.log_condition',
      /required/,
    );
    rejects(
      { ...clone(E1), eventTrigger: { logCondition: 'AUDIENCE_JOINED' } },
      'event_trigger.event_name',
      /required/,
    );
  });

  test('rule 2 and the PROPOSAL lower bound: membership_duration_days 1..540', () => {
    rejects({ ...clone(E1), membershipDurationDays: -1 }, 'membership_duration_days', /between 1 and 540/);
    rejects({ ...clone(E1), membershipDurationDays: 0 }, 'membership_duration_days', /required/);
    rejects({ ...clone(E1), membershipDurationDays: 1.5 }, 'membership_duration_days', /32-bit integer/);
    rejects({ ...clone(E1), membershipDurationDays: '30d' }, 'membership_duration_days', /integer/);
    assert.equal(parseAudience({ ...clone(E1), membershipDurationDays: 540 }).membershipDurationDays, 540);
    assert.equal(parseAudience({ ...clone(E1), membershipDurationDays: '1' }).membershipDurationDays, 1);
  });

  test('rule 3: or_group may not contain groups; not may contain only a dimension filter', () => {
    rejects(withLeaf({ orGroup: { filterExpressions: [ev('a')] } }), LEAF0, /got or_group/);
    rejects(withLeaf({ andGroup: { filterExpressions: [ev('a')] } }), LEAF0, /got and_group/);
    rejects(
      withLeaf({ notExpression: { notExpression: dim('country', exact('x')) } }),
      `${LEAF0}.not_expression`,
      /got not_expression/,
    );
    rejects(withLeaf({ orGroup: { filterExpressions: [] } }), LEAF0);
    const empty = clone(E1);
    empty.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions = [];
    rejects(empty, `${TOP}.and_group.filter_expressions`, /must not be empty/);
    const emptyOr = withLeaf(ev('a'));
    emptyOr.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup.filterExpressions =
      [];
    rejects(
      emptyOr,
      `${TOP}.and_group.filter_expressions[0].or_group.filter_expressions`,
      /must not be empty/,
    );
  });

  test('rule 3 (§2.7): event parameter expression is one and_group of leaves or not(leaf), no event_filter', () => {
    const pe = `${LEAF0}.event_filter.event_parameter_filter_expression`;
    rejects(withLeaf(ev('purchase', dim('currency', exact('EUR')))), pe, /single and_group/);
    rejects(
      withLeaf(ev('purchase', paramAnd(ev('refund')))),
      `${pe}.and_group.filter_expressions[0]`,
      /got event_filter/,
    );
    rejects(
      withLeaf(ev('purchase', paramAnd({ notExpression: ev('refund') }))),
      `${pe}.and_group.filter_expressions[0].not_expression`,
      /only a dimension_or_metric_filter/,
    );
    const ok = parseAudience(
      withLeaf(
        ev('purchase', paramAnd({ notExpression: dim('currency', exact('EUR')) }, dim('value', gt(3)))),
      ),
    );
    assert.ok(ok);
  });

  test('rule 4: at_any_point_in_time / in_any_n_day_period only under ACROSS_ALL_SESSIONS (steps too)', () => {
    rejects(
      withLeaf(dim('sessions', gt(1), { inAnyNDayPeriod: 7 }), EVENT),
      `${LEAF0}.dimension_or_metric_filter.in_any_n_day_period`,
      /ACROSS_ALL_SESSIONS/,
    );
    const s = sequence([step('a'), step('b')]);
    s.filterClauses[0].sequenceFilter.sequenceSteps[1].filterExpression.andGroup.filterExpressions[0].orGroup.filterExpressions =
      [dim('country', exact('x'), { atAnyPointInTime: true })];
    rejects(
      s,
      'filter_clauses[0].sequence_filter.sequence_steps[1].filter_expression.and_group.filter_expressions[0].or_group.filter_expressions[0].dimension_or_metric_filter.at_any_point_in_time',
    );
    // Explicit false is the default and allowed anywhere.
    assert.ok(parseAudience(withLeaf(dim('country', exact('x'), { atAnyPointInTime: false }), EVENT)));
    // Allowed under an ACROSS_ALL_SESSIONS step scope.
    const t = sequence([step('a', ALL), step('b')]);
    t.filterClauses[0].sequenceFilter.sequenceSteps[0].filterExpression.andGroup.filterExpressions[0].orGroup.filterExpressions =
      [dim('sessions', gt(1), { inAnyNDayPeriod: 3, atAnyPointInTime: true })];
    assert.ok(parseAudience(t));
  });

  test('audex decision: in an event parameter expression, only eventCount may be static / windowed; one eventCount', () => {
    const pe = `${LEAF0}.event_filter.event_parameter_filter_expression.and_group.filter_expressions`;
    rejects(
      withLeaf(ev('purchase', paramAnd(dim('currency', exact('EUR'), { inAnyNDayPeriod: 3 })))),
      `${pe}[0].dimension_or_metric_filter.in_any_n_day_period`,
      /only on the eventCount/,
    );
    assert.ok(
      parseAudience(
        withLeaf(
          ev('purchase', paramAnd(dim('eventCount', gt(2), { inAnyNDayPeriod: 3, atAnyPointInTime: true }))),
        ),
      ),
    );
    rejects(
      withLeaf(
        ev('purchase', paramAnd(dim('eventCount', gt(2)), { notExpression: dim('eventCount', gt(5)) })),
      ),
      `${pe}[1]`,
      /at most one eventCount/,
    );
  });

  test('rule 5: output-only fields are ignored', () => {
    const def = parseAudience({
      ...clone(E1),
      name: 'properties/9/audiences/9',
      adsPersonalizationEnabled: false,
      createTime: 'whenever',
    });
    assert.deepEqual(def, parseAudience(E1));
  });

  test('rule 7: UNSPECIFIED enum values are rejected (by name and by number)', () => {
    const cases: [string, (x: Json) => void][] = [
      [
        'filter_clauses[0].clause_type',
        (x) => (x.filterClauses[0].clauseType = 'AUDIENCE_CLAUSE_TYPE_UNSPECIFIED'),
      ],
      ['filter_clauses[0].clause_type', (x) => (x.filterClauses[0].clauseType = 0)],
      [
        'filter_clauses[0].simple_filter.scope',
        (x) => (x.filterClauses[0].simpleFilter.scope = 'AUDIENCE_FILTER_SCOPE_UNSPECIFIED'),
      ],
      ['filter_clauses[0].simple_filter.scope', (x) => (x.filterClauses[0].simpleFilter.scope = 0)],
      [
        'event_trigger.log_condition',
        (x) => (x.eventTrigger = { eventName: 'joined_x', logCondition: 'LOG_CONDITION_UNSPECIFIED' }),
      ],
    ];
    for (const [field, mutate] of cases) {
      const x = clone(E1);
      mutate(x);
      rejects(x, field, /UNSPECIFIED/);
    }
    const p = `${LEAF0}.dimension_or_metric_filter`;
    rejects(
      withLeaf(dim('country', { stringFilter: { matchType: 'MATCH_TYPE_UNSPECIFIED', value: 'x' } })),
      `${p}.string_filter.match_type`,
    );
    rejects(
      withLeaf(dim('sessions', { numericFilter: { operation: 0, value: { int64Value: '1' } } })),
      `${p}.numeric_filter.operation`,
    );
    // Unknown names and numbers
    rejects(
      withLeaf(dim('sessions', { numericFilter: { operation: 3, value: { int64Value: '1' } } })),
      `${p}.numeric_filter.operation`,
      /one of EQUAL/,
    );
    rejects(
      withLeaf(
        dim('sessions', {
          numericFilter: { operation: 'GREATER_THAN_OR_EQUAL', value: { int64Value: '1' } },
        }),
      ),
      `${p}.numeric_filter.operation`,
    );
    rejects({ ...clone(E1), exclusionDurationMode: 'FOREVER' }, 'exclusion_duration_mode');
  });

  test('rule 8: at least one INCLUDE clause', () => {
    const x = clone(E1);
    x.filterClauses[0].clauseType = 'EXCLUDE';
    rejects(x, 'filter_clauses', /INCLUDE/);
  });

  test('rule 9: NumericValue sets exactly one arm; between from <= to', () => {
    const p = `${LEAF0}.dimension_or_metric_filter`;
    rejects(
      withLeaf(dim('sessions', { numericFilter: { operation: 'EQUAL', value: {} } })),
      `${p}.numeric_filter.value`,
      /exactly one/,
    );
    rejects(
      withLeaf(
        dim('sessions', {
          numericFilter: { operation: 'EQUAL', value: { int64Value: '1', doubleValue: 1 } },
        }),
      ),
      `${p}.numeric_filter.value`,
      /got both/,
    );
    rejects(
      withLeaf(
        dim('sessions', { betweenFilter: { fromValue: { int64Value: '5' }, toValue: { doubleValue: 4.5 } } }),
      ),
      `${p}.between_filter`,
      /less than or equal/,
    );
    assert.ok(
      parseAudience(
        withLeaf(
          dim('sessions', { betweenFilter: { fromValue: { int64Value: '5' }, toValue: { doubleValue: 5 } } }),
        ),
      ),
    );
    assert.ok(
      parseAudience(
        withLeaf(
          dim('sessions', {
            betweenFilter: { fromValue: { doubleValue: 4.5 }, toValue: { int64Value: '5' } },
          }),
        ),
      ),
    );
  });

  test('rule 9: int64 and double encodings', () => {
    const p = `${LEAF0}.dimension_or_metric_filter.numeric_filter.value`;
    const num = (value: Json) =>
      withLeaf(dim('eventValue', { numericFilter: { operation: 'EQUAL', value } }));
    const leaf = (d: AudienceDefinition) =>
      d.filterClauses[0]!.simpleFilter!.filterExpression.andGroup!.filterExpressions[0]!.orGroup!
        .filterExpressions[0]!.dimensionOrMetricFilter!.numericFilter!.value;
    assert.deepEqual(leaf(parseAudience(num({ int64Value: '9223372036854775807' }))), {
      int64Value: 9223372036854775807n,
    });
    assert.deepEqual(leaf(parseAudience(num({ int64Value: 42 }))), { int64Value: 42n });
    assert.deepEqual(leaf(parseAudience(num({ int64Value: '-7' }))), { int64Value: -7n });
    assert.deepEqual(leaf(parseAudience(num({ doubleValue: '2.5' }))), { doubleValue: 2.5 });
    rejects(num({ int64Value: '9223372036854775808' }), `${p}.int64_value`, /int64 range/);
    rejects(num({ int64Value: 2 ** 60 }), `${p}.int64_value`, /string/);
    rejects(num({ int64Value: '1.5' }), `${p}.int64_value`);
    rejects(num({ doubleValue: 'NaN' }), `${p}.double_value`, /finite/);
    rejects(num({ doubleValue: true }), `${p}.double_value`);
  });

  test('rule 10: in_any_n_day_period 1..60; FULL_REGEXP must compile under RE2', () => {
    const p = `${LEAF0}.dimension_or_metric_filter`;
    rejects(
      withLeaf(dim('sessions', gt(2), { inAnyNDayPeriod: -3 })),
      `${p}.in_any_n_day_period`,
      /between 1 and 60/,
    );
    assert.equal(
      parseAudience(withLeaf(dim('sessions', gt(2), { inAnyNDayPeriod: 0 }))).filterClauses[0]!.simpleFilter!
        .filterExpression.andGroup!.filterExpressions[0]!.orGroup!.filterExpressions[0]!
        .dimensionOrMetricFilter!.inAnyNDayPeriod,
      undefined,
      '0 is the proto3 default: not set',
    );
    assert.ok(parseAudience(withLeaf(dim('sessions', gt(2), { inAnyNDayPeriod: 60 }))));
    const re = (value: string) =>
      withLeaf(dim('pagePath', { stringFilter: { matchType: 'FULL_REGEXP', value } }));
    rejects(re('(unclosed'), `${p}.string_filter.value`, /RE2.*missing \)/);
    rejects(re('a(?=b)'), `${p}.string_filter.value`, /RE2/); // lookahead: valid JS, not RE2
    rejects(re('(a)\\1'), `${p}.string_filter.value`, /RE2/); // backreference
    assert.ok(parseAudience(re('/(pricing|plans)/.*')));
    assert.ok(parseAudience(re('\\pL+[[:digit:]]?')));
  });

  test('rule 11: sequence scope nesting; WITHIN_SAME_EVENT sequences are rejected', () => {
    rejects(
      sequence([step('a'), step('b')], EVENT),
      'filter_clauses[0].sequence_filter.scope',
      /WITHIN_SAME_EVENT/,
    );
    rejects(
      sequence([step('a'), step('b', ALL)], SESSION),
      'filter_clauses[0].sequence_filter.sequence_steps[1].scope',
      /wider than the sequence/,
    );
    assert.ok(parseAudience(sequence([step('a', SESSION), step('b')], SESSION)));
    assert.ok(parseAudience(sequence([step('a', ALL), step('b', SESSION)], ALL)));
  });

  test('rule 12: step filter_expression follows the CNF shape', () => {
    const s = sequence([step('a'), step('b')]);
    s.filterClauses[0].sequenceFilter.sequenceSteps[1].filterExpression = ev('b');
    rejects(
      s,
      'filter_clauses[0].sequence_filter.sequence_steps[1].filter_expression',
      /and_group at the top level/,
    );
  });

  test('sequence durations: proto3 strings, {seconds,nanos}, positive, µs precision', () => {
    const p = 'filter_clauses[0].sequence_filter';
    const seqWith = (d: unknown) =>
      sequence([step('a'), step('b', EVENT, { constraintDuration: d })], ALL, {
        sequenceMaximumDuration: '1.5s',
      });
    const micros = (d: AudienceDefinition) =>
      d.filterClauses[0]!.sequenceFilter!.sequenceSteps[1]!.constraintDurationMicros;
    assert.equal(micros(parseAudience(seqWith('0.25s'))), 250_000n);
    assert.equal(micros(parseAudience(seqWith('60s'))), 60_000_000n);
    assert.equal(micros(parseAudience(seqWith({ seconds: '2', nanos: 500_000_000 }))), 2_500_000n);
    assert.equal(micros(parseAudience(seqWith({ seconds: 3 }))), 3_000_000n);
    assert.equal(
      parseAudience(seqWith('1s')).filterClauses[0]!.sequenceFilter!.sequenceMaximumDurationMicros,
      1_500_000n,
    );
    const sp = `${p}.sequence_steps[1].constraint_duration`;
    rejects(seqWith('0s'), sp, /positive/);
    rejects(seqWith('-5s'), sp, /positive/);
    rejects(seqWith('30m'), sp, /duration/);
    rejects(seqWith(1800), sp, /duration/);
    rejects(seqWith('0.0000001s'), sp, /microseconds/);
    rejects(seqWith({ seconds: 1, nanos: 2e9 }), `${sp}.nanos`);
    rejects(seqWith({ seconds: 1, minutes: 2 }), `${sp}.minutes`, /unknown field/);
  });

  test('rule 13: trigger event name rules and not referenced by this audience', () => {
    const trig = (eventName: string) => ({
      ...clone(E1),
      eventTrigger: { eventName, logCondition: 'AUDIENCE_JOINED' },
    });
    rejects(trig('1st_buyer'), 'event_trigger.event_name', /start with a letter/);
    rejects(trig('buyer-joined'), 'event_trigger.event_name', /letters, digits and underscores/);
    rejects(trig('a'.repeat(41)), 'event_trigger.event_name', /at most 40/);
    rejects(trig('session_start'), 'event_trigger.event_name', /reserved/);
    rejects(trig('firebase_x'), 'event_trigger.event_name', /reserved prefix/);
    rejects(trig('purchase'), `${LEAF0}.event_filter.event_name`, /audience-trigger event "purchase"/);
    const byDim = withLeaf(
      dim('eventName', { stringFilter: { matchType: 'BEGINS_WITH', value: 'BECAME_' } }),
      ALL,
      {
        eventTrigger: { eventName: 'became_vip', logCondition: 2 },
      },
    );
    rejects(byDim, `${LEAF0}.dimension_or_metric_filter`, /became_vip/);
    const byRegexp = withLeaf(
      dim('eventName', { stringFilter: { matchType: 'FULL_REGEXP', value: 'became_.*' } }),
      ALL,
      {
        eventTrigger: { eventName: 'became_vip', logCondition: 'AUDIENCE_JOINED' },
      },
    );
    rejects(byRegexp, `${LEAF0}.dimension_or_metric_filter`);
    assert.ok(parseAudience(trig('became_purchaser')));
  });

  test('rules 13 and 16 (property context): checkPropertyLimits', () => {
    const withTrigger = (name: string, base: Json = E1) =>
      parseAudience({ ...clone(base), eventTrigger: { eventName: name, logCondition: 'AUDIENCE_JOINED' } });
    const buyers = parseAudience(E1); // references `purchase`
    // The new audience's trigger is used by an existing audience's condition.
    let v = violationsOf(() => checkPropertyLimits(withTrigger('purchase', E10), [buyers]));
    assert.equal(v[0]!.field, 'event_trigger.event_name');
    assert.match(v[0]!.description, /Purchasers/);
    // The new audience's condition uses an existing audience's trigger.
    const vip = withTrigger('became_vip', E10);
    const usesVip = parseAudience(withLeaf(ev('became_vip')));
    v = violationsOf(() => checkPropertyLimits(usesVip, [vip]));
    assert.equal(v[0]!.field, `${LEAF0}.event_filter.event_name`);
    // Fine otherwise.
    checkPropertyLimits(withTrigger('became_buyer'), [buyers, vip]);

    // 20 distinct trigger names; reusing one is fine.
    const twenty = Array.from({ length: 20 }, (_, i) => withTrigger(`trigger_${i}`, E10));
    assert.throws(
      () => checkPropertyLimits(withTrigger('trigger_new', E10), twenty),
      (e: unknown) =>
        e instanceof ApiError &&
        e.status === 'INVALID_ARGUMENT' &&
        /^audience\.event_trigger\.event_name: .*20/.test(e.message),
    );
    checkPropertyLimits(withTrigger('trigger_3', E10), twenty);

    // 100 audiences per property (create only).
    const hundred = Array.from({ length: LIMITS.maxAudiencesPerProperty }, () => parseAudience(E10));
    assert.throws(
      () => checkPropertyLimits(parseAudience(E10), hundred),
      (e: unknown) =>
        e instanceof ApiError && e.status === 'INVALID_ARGUMENT' && /^audience: .*100/.test(e.message),
    );
    checkPropertyLimits(parseAudience(E10), hundred.slice(1));
    checkPropertyLimits(parseAudience(E10), hundred, 'update');
  });

  test('rule 14: field names resolve in the registry; metrics only numeric/between; param context', () => {
    const p = `${LEAF0}.dimension_or_metric_filter`;
    rejects(withLeaf(dim('userAgeBracket', exact('18-24'))), `${p}.field_name`, /unknown field/);
    rejects(withLeaf(dim('customUser:bad-name', exact('x'))), `${p}.field_name`, /unknown field/);
    rejects(withLeaf(dim('customFoo:x', exact('x'))), `${p}.field_name`, /unknown field/);
    rejects(withLeaf(dim('plan', exact('x'))), `${p}.field_name`, /unknown field/); // bare key only inside eventFilter
    rejects(
      withLeaf(dim('purchaseRevenue', exact('100'))),
      `${p}.string_filter`,
      /only numeric_filter or between_filter/,
    );
    rejects(
      withLeaf(dim('sessions', { inListFilter: { values: ['1'] } })),
      `${p}.in_list_filter`,
      /only numeric_filter/,
    );
    const pe = `${LEAF0}.event_filter.event_parameter_filter_expression.and_group.filter_expressions[0].dimension_or_metric_filter`;
    rejects(
      withLeaf(ev('purchase', paramAnd(dim('purchaseRevenue', gt(3))))),
      `${pe}.field_name`,
      /only eventCount/,
    );
    rejects(
      withLeaf(ev('purchase', paramAnd(dim('bad key', exact('x'))))),
      `${pe}.field_name`,
      /unknown field/,
    );
    for (const name of [
      'eventName',
      'pagePath',
      'customUser:plan',
      'customEvent:value',
      'itemCategory',
      'customItem:color',
      'countryId',
    ]) {
      assert.ok(parseAudience(withLeaf(dim(name, exact('x')))), name);
    }
    assert.ok(
      parseAudience(
        withLeaf(
          ev(
            'purchase',
            paramAnd(
              dim('value', gt(1)),
              dim('customEvent:coupon', exact('X')),
              dim('itemBrand', exact('Y')),
            ),
          ),
        ),
      ),
    );
  });

  test('rule 15: exclusion_duration_mode defaults to EXCLUDE_TEMPORARILY', () => {
    const x = clone(E4);
    delete x.exclusionDurationMode;
    assert.equal(parseAudience(x).exclusionDurationMode, 'EXCLUDE_TEMPORARILY');
    x.exclusionDurationMode = 'AUDIENCE_EXCLUSION_DURATION_MODE_UNSPECIFIED';
    assert.equal(parseAudience(x).exclusionDurationMode, 'EXCLUDE_TEMPORARILY');
    x.exclusionDurationMode = 2;
    assert.equal(parseAudience(x).exclusionDurationMode, 'EXCLUDE_PERMANENTLY');
  });

  test('event names in event filters follow the MP rules (reserved names are allowed there)', () => {
    const p = `${LEAF0}.event_filter.event_name`;
    rejects(withLeaf(ev('_internal')), p, /start with a letter/);
    rejects(withLeaf(ev('add to cart')), p, /letters, digits and underscores/);
    rejects(withLeaf(ev('x'.repeat(41))), p, /at most 40/);
    assert.ok(parseAudience(withLeaf(ev('session_start'))));
  });

  test('every violation is reported at once, message names the first', () => {
    const x = clone(E1);
    x.displayName = 5;
    x.membershipDurationDays = 999;
    x.filterClauses[0].simpleFilter.scope = 'NOPE';
    try {
      parseAudience(x);
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ApiError);
      assert.match(err.message, /^display_name: must be a string \(got number\) \(and 2 more violations\)$/);
      assert.equal(err.httpStatus, 400);
      const json = err.toJSON();
      assert.equal(json.error.status, 'INVALID_ARGUMENT');
      assert.deepEqual(
        (json.error.details![0]!.fieldViolations as FieldViolation[]).map((v) => v.field),
        ['display_name', 'membership_duration_days', 'filter_clauses[0].simple_filter.scope'],
      );
    }
  });
});

describe('input encodings', () => {
  test('numeric enums, as the REST client sends them', () => {
    const numeric = {
      displayName: 'n',
      description: 'd',
      membershipDurationDays: 30,
      eventTrigger: { eventName: 'joined_n', logCondition: 2 },
      exclusionDurationMode: 2,
      filterClauses: [
        {
          clauseType: 1,
          simpleFilter: {
            scope: 3,
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  {
                    orGroup: {
                      filterExpressions: [
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'pagePath',
                            stringFilter: { matchType: 5, value: '/a.*' },
                          },
                        },
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'sessions',
                            numericFilter: { operation: 4, value: { int64Value: '3' } },
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
        {
          clauseType: 2,
          simpleFilter: {
            scope: 2,
            filterExpression: {
              andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [ev('purchase')] } }] },
            },
          },
        },
      ],
    };
    const def = parseAudience(numeric);
    assert.equal(def.exclusionDurationMode, 'EXCLUDE_PERMANENTLY');
    assert.equal(def.eventTrigger!.logCondition, 'AUDIENCE_MEMBERSHIP_RENEWED');
    assert.equal(def.filterClauses[1]!.clauseType, 'EXCLUDE');
    assert.equal(def.filterClauses[1]!.simpleFilter!.scope, SESSION);
    const ors =
      def.filterClauses[0]!.simpleFilter!.filterExpression.andGroup!.filterExpressions[0]!.orGroup!
        .filterExpressions;
    assert.equal(ors[0]!.dimensionOrMetricFilter!.stringFilter!.matchType, 'FULL_REGEXP');
    assert.equal(ors[1]!.dimensionOrMetricFilter!.numericFilter!.operation, 'GREATER_THAN');
    assert.deepEqual(audienceToJson(def, META, true).filterClauses, numeric.filterClauses);
  });

  test('snake_case field names are accepted (proto3 JSON parsers accept both)', () => {
    const snake = {
      display_name: 'Purchasers',
      description: 'Users who purchased',
      membership_duration_days: 30,
      filter_clauses: [
        {
          clause_type: 'INCLUDE',
          simple_filter: {
            scope: ALL,
            filter_expression: {
              and_group: {
                filter_expressions: [
                  { or_group: { filter_expressions: [{ event_filter: { event_name: 'purchase' } }] } },
                ],
              },
            },
          },
        },
      ],
    };
    assert.deepEqual(parseAudience(snake), parseAudience(E1));
    rejects({ ...clone(E1), display_name: 'again' }, 'display_name', /set twice/);
  });

  test('null means not set; unknown fields are rejected with their path', () => {
    assert.deepEqual(
      parseAudience({ ...clone(E1), eventTrigger: null, exclusionDurationMode: null }),
      parseAudience(E1),
    );
    rejects({ ...clone(E1), audienceType: 'x' }, 'audience_type', /unknown field/);
    const x = clone(E1);
    x.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup.filterExpressions[0].eventFilter.eventCount = 3;
    rejects(x, `${LEAF0}.event_filter.event_count`, /unknown field/);
  });

  test('NUL and unicode are accepted in filter values and kept literally; lone surrogates are not', () => {
    const def = parseAudience(withLeaf(dim('pageTitle', exact('caf\u00e9 \u0000 \u{1F600} 東京'))));
    const leaf =
      def.filterClauses[0]!.simpleFilter!.filterExpression.andGroup!.filterExpressions[0]!.orGroup!
        .filterExpressions[0]!;
    assert.equal(leaf.dimensionOrMetricFilter!.stringFilter!.value, 'caf\u00e9 \u0000 \u{1F600} 東京');
    rejects(
      withLeaf(dim('pageTitle', exact('bad \ud800'))),
      `${LEAF0}.dimension_or_metric_filter.string_filter.value`,
      /surrogate/,
    );
  });
});

describe('hostile input', () => {
  const fast = (fn: () => void) => {
    const start = performance.now();
    fn();
    assert.ok(performance.now() - start < 2000, 'took too long');
  };

  for (const [label, input] of [
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', '{"displayName":"x"}'],
    ['an array', [clone(E1)]],
    ['a Map', new Map()],
    ['a Date', new Date()],
  ] as const) {
    test(`${label} as the audience`, () => {
      rejects(input, '', /must be an object/);
    });
  }

  test('arrays and scalars where objects are expected', () => {
    const x = clone(E1);
    x.filterClauses[0].simpleFilter = [];
    rejects(x, 'filter_clauses[0].simple_filter', /must be an object \(got array\)/);
    const y = clone(E1);
    y.filterClauses = { 0: y.filterClauses[0] };
    rejects(y, 'filter_clauses', /must be an array/);
    rejects({ ...clone(E1), eventTrigger: 'buy' }, 'event_trigger', /must be an object/);
    rejects(withLeaf(7 as unknown as Json), LEAF0, /must be an object/);
  });

  test('depth-1000 nesting is rejected quickly', () => {
    let deep: Json = dim('country', exact('x'));
    for (let i = 0; i < 1000; i++) deep = { notExpression: deep };
    fast(() => void violationsOf(() => parseAudience(withLeaf(deep))));
    let deepAnd: Json = ev('a');
    for (let i = 0; i < 1000; i++)
      deepAnd = { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [deepAnd] } }] } };
    fast(() => void violationsOf(() => parseAudience(withLeaf(deepAnd))));
    const x = clone(E1);
    x.filterClauses[0].simpleFilter.filterExpression = deepAnd;
    fast(() => void violationsOf(() => parseAudience(x)));
    // Deep junk in an unknown field is never walked.
    let junk: unknown = 1;
    for (let i = 0; i < 100_000; i++) junk = [junk];
    fast(() => void rejects({ ...clone(E1), junk }, 'junk', /unknown field/));
  });

  test('100k-element arrays are rejected quickly', () => {
    const big = new Array(100_000).fill(clone(E1).filterClauses[0]);
    fast(() => void rejects({ ...clone(E1), filterClauses: big }, 'filter_clauses', /at most 50/));
    fast(
      () =>
        void rejects(
          withLeaf(
            dim('country', { inListFilter: { values: Array.from({ length: 100_000 }, (_, i) => `v${i}`) } }),
          ),
          `${LEAF0}.dimension_or_metric_filter.in_list_filter.values`,
          /at most 1000/,
        ),
    );
    const wide = withLeaf(ev('a'));
    wide.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup.filterExpressions =
      Array.from({ length: 100_000 }, () => ev('a'));
    fast(
      () =>
        void rejects(
          wide,
          `${TOP}.and_group.filter_expressions[0].or_group.filter_expressions`,
          /at most 100/,
        ),
    );
    fast(
      () =>
        void rejects(
          sequence(Array.from({ length: 100_000 }, () => step('a'))),
          'filter_clauses[0].sequence_filter.sequence_steps',
          /at most 10/,
        ),
    );
  });

  test('too many expressions in total, and too many violations, stay bounded', () => {
    const clause = () => {
      const c = withLeaf(ev('a')).filterClauses[0];
      c.simpleFilter.filterExpression.andGroup.filterExpressions = Array.from({ length: 100 }, () => ({
        orGroup: { filterExpressions: [ev('a')] },
      }));
      return c;
    };
    const many = { ...withLeaf(ev('a')), filterClauses: Array.from({ length: 50 }, clause) };
    fast(
      () =>
        void rejects(
          many,
          (violationsOf(() => parseAudience(many))[0] ?? { field: '' }).field,
          /at most 2000 filter expressions/,
        ),
    );
    const bad = {
      ...withLeaf(ev('a')),
      filterClauses: Array.from({ length: 50 }, () => ({ clauseType: 'NOPE', simpleFilter: 'x' })),
    };
    const v = violationsOf(() => parseAudience(bad));
    assert.equal(v.length, LIMITS.maxViolations);
  });

  test('very long strings are rejected', () => {
    rejects({ ...clone(E1), displayName: 'x'.repeat(101) }, 'display_name', /at most 100/);
    assert.ok(
      parseAudience({ ...clone(E1), displayName: '\u{1F600}'.repeat(50) }),
      '100 UTF-16 units is fine',
    );
    rejects({ ...clone(E1), displayName: '\u{1F600}'.repeat(51) }, 'display_name', /at most 100/);
    rejects({ ...clone(E1), description: 'x'.repeat(1001) }, 'description', /at most 1000/);
    rejects(
      withLeaf(dim('pageTitle', exact('x'.repeat(1001)))),
      `${LEAF0}.dimension_or_metric_filter.string_filter.value`,
      /at most 1000/,
    );
    rejects(
      withLeaf(dim(`customUser:${'x'.repeat(200)}`, exact('x'))),
      `${LEAF0}.dimension_or_metric_filter.field_name`,
      /at most 100/,
    );
    const longKey = { ...clone(E1), ['k'.repeat(100_000)]: 1 };
    const v = violationsOf(() => parseAudience(longKey));
    assert.ok(v[0]!.field.length < 100);
  });

  test('a pathological regexp compiles or fails fast (RE2 is linear time)', () => {
    fast(
      () =>
        void parseAudience(
          withLeaf(dim('pagePath', { stringFilter: { matchType: 'FULL_REGEXP', value: '(a+)+$' } })),
        ),
    );
    rejects(
      withLeaf(dim('pagePath', { stringFilter: { matchType: 'FULL_REGEXP', value: 'a{1001}' } })),
      `${LEAF0}.dimension_or_metric_filter.string_filter.value`,
      /RE2/,
    );
  });

  test('__proto__ and prototype keys are unknown fields, not pollution', () => {
    const x = JSON.parse(
      `{"displayName":"x","description":"d","membershipDurationDays":3,"__proto__":{"polluted":1},"filterClauses":${JSON.stringify(E1.filterClauses)}}`,
    );
    rejects(x, '__proto__', /unknown field/);
    assert.equal(({} as Json).polluted, undefined);
    rejects({ ...clone(E1), constructor: 1, toString: 2 }, 'constructor', /unknown field/);
  });
});

describe('audienceToJson', () => {
  test('exclusionDurationMode: echoed when the request set it, default shown with EXCLUDE clauses, else omitted', () => {
    const modeOf = (a: unknown) =>
      (audienceToJson(parseAudience(a), META, false) as Json).exclusionDurationMode;
    // No EXCLUDE clause: only what the request set (it has no effect there, but a client reads it back).
    assert.equal(modeOf(E6), undefined);
    assert.equal(
      modeOf({ ...clone(E6), exclusionDurationMode: 'EXCLUDE_TEMPORARILY' }),
      'EXCLUDE_TEMPORARILY',
    );
    assert.equal(
      modeOf({ ...clone(E6), exclusionDurationMode: 'EXCLUDE_PERMANENTLY' }),
      'EXCLUDE_PERMANENTLY',
    );
    assert.equal(
      modeOf({ ...clone(E6), exclusionDurationMode: 'AUDIENCE_EXCLUSION_DURATION_MODE_UNSPECIFIED' }),
      undefined,
    );
    // With an EXCLUDE clause and no mode: the default of rule 15 is shown.
    const e4 = clone(E4) as Json;
    delete e4.exclusionDurationMode;
    assert.equal(modeOf(e4), 'EXCLUDE_TEMPORARILY');
    // The stored form (this JSON) parses back to the same echo.
    const set = { ...clone(E6), exclusionDurationMode: 'EXCLUDE_TEMPORARILY' };
    assert.equal(modeOf(audienceToJson(parseAudience(set), META, false)), 'EXCLUDE_TEMPORARILY');
  });

  test('renders proto3 JSON with defaults omitted', () => {
    const out = audienceToJson(parseAudience(E6), { ...META, adsPersonalizationEnabled: false }, false);
    assert.deepEqual(Object.keys(out), [
      'name',
      'displayName',
      'description',
      'membershipDurationDays',
      'filterClauses',
      'createTime',
    ]);
    const steps = (out as Json).filterClauses[0].sequenceFilter.sequenceSteps;
    assert.deepEqual(steps[0], {
      scope: EVENT,
      filterExpression: {
        andGroup: {
          filterExpressions: [
            { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'view_item' } }] } },
          ],
        },
      },
    });
    assert.equal(steps[1].constraintDuration, '1800s');
    assert.equal(steps[1].immediatelyFollows, true);
  });

  test('matches the spec JSON exactly for examples without defaults spelled out', () => {
    for (const ex of [E1, E6, E7, E8, E11, E12]) {
      const out = audienceToJson(
        parseAudience(ex),
        { name: '', createTime: '', adsPersonalizationEnabled: false },
        false,
      );
      assert.deepEqual(out, JSON.parse(JSON.stringify(ex)));
    }
  });

  test('numeric enums and int64 strings', () => {
    const out = audienceToJson(parseAudience(E12), META, true) as Json;
    assert.equal(out.adsPersonalizationEnabled, true);
    assert.deepEqual(out.eventTrigger, { eventName: 'became_high_value', logCondition: 1 });
    assert.equal(out.filterClauses[0].clauseType, 1);
    assert.equal(out.filterClauses[0].simpleFilter.scope, 3);
    const e8 = audienceToJson(parseAudience(E8), META, true) as Json;
    const leaf =
      e8.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup
        .filterExpressions[0].eventFilter.eventParameterFilterExpression.andGroup.filterExpressions[0]
        .dimensionOrMetricFilter;
    assert.deepEqual(leaf.numericFilter, { operation: 4, value: { int64Value: '2' } });
  });

  test('exclusionDurationMode is rendered when there are EXCLUDE clauses', () => {
    const x = clone(E4);
    delete x.exclusionDurationMode;
    assert.equal(audienceToJson(parseAudience(x), META, false).exclusionDurationMode, 'EXCLUDE_TEMPORARILY');
    assert.equal(audienceToJson(parseAudience(E4), META, true).exclusionDurationMode, 2);
    assert.equal(audienceToJson(parseAudience(E1), META, false).exclusionDurationMode, undefined);
  });

  test('durations', () => {
    assert.equal(formatDuration(1_800_000_000n), '1800s');
    assert.equal(formatDuration(1_500_000n), '1.5s');
    assert.equal(formatDuration(1n), '0.000001s');
    assert.equal(formatDuration(2_000_010n), '2.00001s');
  });

  test('compareNumeric is exact across int64 and double', () => {
    assert.equal(compareNumeric({ int64Value: 9007199254740993n }, { doubleValue: 9007199254740992 }), 1);
    assert.equal(compareNumeric({ doubleValue: 2.5 }, { int64Value: 2n }), 1);
    assert.equal(compareNumeric({ int64Value: 2n }, { doubleValue: 2.5 }), -1);
    assert.equal(compareNumeric({ int64Value: -3n }, { doubleValue: -2.5 }), -1);
    assert.equal(compareNumeric({ int64Value: 3n }, { doubleValue: 3 }), 0);
  });

  test('round-trips tricky values', () => {
    const def = parseAudience(
      sequence(
        [
          step('a', ALL),
          step('b', SESSION, { immediatelyFollows: true, constraintDuration: { seconds: 1, nanos: 1000 } }),
        ],
        ALL,
        {
          sequenceMaximumDuration: '86400.5s',
        },
      ),
    );
    assert.deepEqual(parseAudience(audienceToJson(def, META, false)), def);
    const big = parseAudience(
      withLeaf(
        dim('eventValue', {
          betweenFilter: {
            fromValue: { int64Value: '-9223372036854775808' },
            toValue: { doubleValue: 1e300 },
          },
        }),
      ),
    );
    assert.deepEqual(parseAudience(JSON.parse(JSON.stringify(audienceToJson(big, META, true)))), big);
  });
});

describe('parseAudienceUpdate', () => {
  const existing = parseAudience(E12);

  test('update_mask is required', () => {
    for (const mask of [undefined, '', ' , ']) {
      const v = violationsOf(() => parseAudienceUpdate(existing, { displayName: 'x' }, mask));
      assert.equal(v[0]!.field, 'update_mask');
    }
  });

  test('display_name, description, event_trigger (camelCase paths too)', () => {
    const next = parseAudienceUpdate(
      existing,
      {
        displayName: 'VIP',
        description: 'new',
        eventTrigger: { eventName: 'became_vip', logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED' },
        membershipDurationDays: 3,
      },
      'displayName,description , event_trigger',
    );
    assert.equal(next.displayName, 'VIP');
    assert.equal(next.description, 'new');
    assert.deepEqual(next.eventTrigger, {
      eventName: 'became_vip',
      logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED',
    });
    assert.equal(next.membershipDurationDays, 540, 'fields outside the mask are not changed');
    assert.deepEqual(next.filterClauses, existing.filterClauses);
  });

  test('a masked field absent from the patch is cleared', () => {
    const next = parseAudienceUpdate(existing, {}, 'event_trigger');
    assert.equal(next.eventTrigger, undefined);
    const v = violationsOf(() => parseAudienceUpdate(existing, {}, 'description'));
    assert.equal(v[0]!.field, 'description');
  });

  test('event_trigger sub-paths', () => {
    const next = parseAudienceUpdate(
      existing,
      { eventTrigger: { logCondition: 2 } },
      'event_trigger.log_condition',
    );
    assert.deepEqual(next.eventTrigger, {
      eventName: 'became_high_value',
      logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED',
    });
    const v = violationsOf(() =>
      parseAudienceUpdate(
        parseAudience(E1),
        { eventTrigger: { eventName: 'x_y' } },
        'event_trigger.event_name',
      ),
    );
    assert.equal(v[0]!.field, 'event_trigger.log_condition');
  });

  test('immutable, unknown and output-only paths', () => {
    for (const path of [
      'membership_duration_days',
      'filterClauses',
      'exclusion_duration_mode',
      'filter_clauses[0].simple_filter.scope',
      'filter_clauses.clause_type',
    ]) {
      const v = violationsOf(() => parseAudienceUpdate(existing, {}, `display_name,${path}`));
      assert.equal(v[0]!.field, 'update_mask');
      assert.match(v[0]!.description, /immutable/, path);
    }
    const u = violationsOf(() => parseAudienceUpdate(existing, {}, 'colour'));
    assert.match(u[0]!.description, /unknown field path "colour"/);
    const next = parseAudienceUpdate(
      existing,
      { name: 'properties/1/audiences/2', displayName: 'A' },
      'name,display_name,create_time',
    );
    assert.equal(next.displayName, 'A');
  });

  test('the patch itself is validated (unknown fields, types, trigger rules)', () => {
    let v = violationsOf(() => parseAudienceUpdate(existing, { displayName: 'x', bogus: 1 }, 'display_name'));
    assert.equal(v[0]!.field, 'bogus');
    v = violationsOf(() => parseAudienceUpdate(existing, { displayName: 7 }, 'display_name'));
    assert.equal(v[0]!.field, 'display_name');
    v = violationsOf(() => parseAudienceUpdate(existing, [], 'display_name'));
    assert.equal(v[0]!.field, '');
    v = violationsOf(() =>
      parseAudienceUpdate(
        parseAudience(E1),
        { eventTrigger: { eventName: 'purchase', logCondition: 1 } },
        'event_trigger',
      ),
    );
    assert.match(v[0]!.description, /audience-trigger event "purchase"/);
  });

  test('"*" replaces mutable fields; immutable fields may be omitted or unchanged, never changed', () => {
    const full = audienceToJson(existing, META, false);
    const a = parseAudienceUpdate(existing, { ...full, displayName: 'Renamed' }, '*');
    assert.deepEqual(a, { ...existing, displayName: 'Renamed' });
    const b = parseAudienceUpdate(existing, { displayName: 'Only', description: 'these' }, '*');
    const { eventTrigger: _dropped, ...withoutTrigger } = existing;
    assert.deepEqual(b, { ...withoutTrigger, displayName: 'Only', description: 'these' });
    assert.equal(b.eventTrigger, undefined, '"*" with no eventTrigger clears it');
    const v = violationsOf(() =>
      parseAudienceUpdate(
        existing,
        { ...full, membershipDurationDays: 30, exclusionDurationMode: 'EXCLUDE_PERMANENTLY' },
        '*',
      ),
    );
    assert.deepEqual(
      v.map((x) => x.field),
      ['membership_duration_days', 'exclusion_duration_mode'],
    );
    const changed = clone(full);
    changed.filterClauses[0].simpleFilter.scope = SESSION;
    changed.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup.filterExpressions[0].dimensionOrMetricFilter.atAnyPointInTime = false;
    assert.equal(violationsOf(() => parseAudienceUpdate(existing, changed, '*'))[0]!.field, 'filter_clauses');
    assert.equal(
      violationsOf(() => parseAudienceUpdate(existing, full, '*,display_name'))[0]!.field,
      'update_mask',
    );
  });
});

describe('built-in audiences', () => {
  test('All Users and Purchasers are valid, render without filterClauses, and round-trip', () => {
    assert.deepEqual(
      BUILTIN_AUDIENCES.map((b) => b.key),
      ['all_users', 'purchasers'],
    );
    for (const b of BUILTIN_AUDIENCES) {
      const full = audienceToJson(b.definition, META, false);
      assert.deepEqual(parseAudience(full), b.definition);
      const shown = audienceToJson(b.definition, { ...META, hideFilterClauses: b.hideFilterClauses }, false);
      assert.equal(shown.filterClauses, undefined);
      assert.equal(shown.displayName, b.definition.displayName);
    }
    assert.deepEqual(BUILTIN_AUDIENCES[1]!.definition, parseAudience(E1));
    assert.equal(BUILTIN_AUDIENCES[0]!.definition.membershipDurationDays, 540);
  });
});

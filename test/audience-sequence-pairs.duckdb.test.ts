// Sequence steps over a range whose leaves aggregate the range (a metric, an eventCount): on DuckDB
// one statement of anchor pairs (src/audience/compile/sequence-pairs.ts), on ClickHouse 18.16 one
// statement of nested lambdas over the per-user arrays (clickhouse-ranges.ts). Each case's members are derived by hand from the rules (docs/audiences.md §2.3, D6,
// D19) and must equal the reference evaluator's and the engine's. The randomized sequence
// differential draws such steps at large; these pin the cases a running maximum cannot decide:
// `eventCount > x` (an early anchor wins), `eventCount < x` (a late one), a sum of doubles that
// only exact left-to-right addition decides (0.1 + 0.2 > 0.3), interleaved sessions in a
// session-scoped range, and step 0 over a range.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '../src/domain/event.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { ev, micros, specConfig } from './helpers/audience-events.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';

const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

const at = (minute: number): string => `2024-06-05T10:${String(minute).padStart(2, '0')}:00`;

function history(): StoredEvent[] {
  return [
    // a: view_item, two page_views, purchase: "more than one page_view between" holds.
    ev('a', 'view_item', at(0), { session: 1 }),
    ev('a', 'page_view', at(1), { session: 1 }),
    ev('a', 'page_view', at(2), { session: 1 }),
    ev('a', 'purchase', at(3), { session: 1 }),
    // b: two view_items, then one page_view each side of the second: more than one page_view only
    // from the first anchor; fewer than two only from the second.
    ev('b', 'view_item', at(0), { session: 2 }),
    ev('b', 'page_view', at(1), { session: 2 }),
    ev('b', 'view_item', at(2), { session: 2 }),
    ev('b', 'page_view', at(3), { session: 2 }),
    ev('b', 'purchase', at(4), { session: 2 }),
    // c: values 0.1 and 0.2 between view_item and purchase: 0.1 + 0.2 > 0.3 in doubles.
    ev('c', 'view_item', at(0), { session: 3 }),
    ev('c', 'add_to_cart', at(1), { session: 3, params: { value: 0.1 } }),
    ev('c', 'add_to_cart', at(2), { session: 3, params: { value: 0.2 } }),
    ev('c', 'purchase', at(3), { session: 3 }),
    // d: sessions interleaved: the purchase's session (5) has one page_view after the view_item,
    // the other session (4) two; a session-scoped range counts only session 5's.
    ev('d', 'view_item', at(0), { session: 4 }),
    ev('d', 'page_view', at(1), { session: 4 }),
    ev('d', 'page_view', at(2), { session: 5 }),
    ev('d', 'page_view', at(3), { session: 4 }),
    ev('d', 'purchase', at(4), { session: 5 }),
    // e: three page_views and then a purchase, no view_item: step 0 over a range (more than two
    // page_views so far) then the purchase.
    ev('e', 'page_view', at(0), { session: 6 }),
    ev('e', 'page_view', at(1), { session: 6 }),
    ev('e', 'page_view', at(2), { session: 6 }),
    ev('e', 'purchase', at(3), { session: 6 }),
  ];
}

const eventStep = (eventName: string): object => ({
  scope: EVENT,
  filterExpression: {
    andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [{ eventFilter: { eventName } }] } }] },
  },
});

/** A step over a range whose one leaf is `leaf`. */
const rangeStep = (scope: string, leaf: object): object => ({
  scope,
  filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
});

const pageViews = (operation: string, n: number): object => ({
  eventFilter: {
    eventName: 'page_view',
    eventParameterFilterExpression: {
      andGroup: {
        filterExpressions: [
          {
            dimensionOrMetricFilter: {
              fieldName: 'eventCount',
              numericFilter: { operation, value: { int64Value: String(n) } },
            },
          },
        ],
      },
    },
  },
});

function audience(scope: string, steps: object[]) {
  return parseAudience({
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [{ clauseType: 'INCLUDE', sequenceFilter: { scope, sequenceSteps: steps } }],
  });
}

const CASES: [string, ReturnType<typeof audience>, string[]][] = [
  [
    'view_item, more than one page_view, purchase (an early anchor)',
    audience(ACROSS, [
      eventStep('view_item'),
      rangeStep(ACROSS, pageViews('GREATER_THAN', 1)),
      eventStep('purchase'),
    ]),
    // d: three page_views after its view_item across sessions.
    ['a', 'b', 'd'],
  ],
  [
    'view_item, exactly one page_view, purchase',
    audience(ACROSS, [
      eventStep('view_item'),
      rangeStep(ACROSS, pageViews('EQUAL', 1)),
      eventStep('purchase'),
    ]),
    // The first page_view after a view_item ends a range with exactly one (a, b, d), and a
    // purchase follows it; c has none.
    ['a', 'b', 'd'],
  ],
  [
    'view_item, fewer than one page_view, purchase (a range without page_views)',
    audience(ACROSS, [
      eventStep('view_item'),
      rangeStep(ACROSS, pageViews('LESS_THAN', 1)),
      eventStep('purchase'),
    ]),
    // The range (a_0, a_1] must hold no page_view, and a purchase must come after a_1: only c's
    // add_to_cart ends such a range; every other view_item is followed by a page_view first.
    ['c'],
  ],
  [
    'view_item, event value over 0.3 (0.1 + 0.2), purchase',
    audience(ACROSS, [
      eventStep('view_item'),
      rangeStep(ACROSS, {
        dimensionOrMetricFilter: {
          fieldName: 'eventValue',
          numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: 0.3 } },
        },
      }),
      eventStep('purchase'),
    ]),
    ['c'],
  ],
  [
    'view_item, more than one page_view of the purchase session, purchase (interleaved sessions)',
    audience(ACROSS, [
      eventStep('view_item'),
      rangeStep(SESSION, pageViews('GREATER_THAN', 1)),
      eventStep('purchase'),
    ]),
    // a, b: one session. d: session 4 reaches two page_views at minute 3, and a purchase (session
    // 5) follows: the step holds at its own anchor (minute 3, in session 4's range).
    ['a', 'b', 'd'],
  ],
  [
    'more than two page_views so far (step 0 over a range), then a purchase',
    audience(ACROSS, [rangeStep(ACROSS, pageViews('GREATER_THAN', 2)), eventStep('purchase')]),
    ['d', 'e'],
  ],
];

forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  test('sequence steps over a range with metric leaves: the rules, the reference, the engine', async () => {
    const events = history();
    await db.load(events);
    const asOf = micros('2024-06-06T00:00:00');
    const config = specConfig({});
    for (const [label, def, expected] of CASES) {
      assert.equal(planAudience(def, config), 'sql', `${label}: planned as SQL`);
      const reference = membersAt(evaluateAudience(def, events, asOf, config), asOf);
      assert.deepEqual(reference, expected, `${label}: the reference evaluator`);
      const req = { propertyId: 1n, audience: def, config, asOfMicros: asOf };
      // One statement on ClickHouse too (nested lambdas over the per-user arrays), not the fold.
      if (backend.name === 'clickhouse')
        assert.ok(db.engine.membersQuery?.(req), `${label}: one statement on ClickHouse`);
      assert.deepEqual(await db.engine.findMembers(req), expected, label);
    }
  });
});

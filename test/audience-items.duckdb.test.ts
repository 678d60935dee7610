// Item leaves (D8: any item of the event matches; an item's value is its own field, else
// item_params[key]) on the engine: every stored shape an item value can take, judged in SQL (the
// planner must choose 'sql') and equal to both the expected members and the reference evaluator.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '../src/domain/event.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import { ev, micros, resetSeq, specConfig } from './helpers/audience-events.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';

const purchase = (user: string, items: Record<string, unknown>[]): StoredEvent =>
  ev(user, 'purchase', '2024-06-02T10:00', { items });

const history = (): StoredEvent[] => [
  purchase('u1', [{ item_id: 'SKU1', price: 20 }]),
  purchase('u2', [{ item_id: 'x', price: '20' }]), // own string: its number is 20
  purchase('u3', [{ item_id: 'x', price: null, item_params: { price: { int_value: 20 } } }]), // own null: no value
  purchase('u4', [{ item_id: 'x', item_params: { price: { int_value: 20 } } }]),
  purchase('u5', [{ item_id: 'x', item_params: { price: { double_value: 20 } } }]),
  purchase('u6', [{ item_id: 'x', item_params: { price: { string_value: '2e1' } } }]),
  purchase('u7', [{ item_id: 'x', item_params: { price: { int_value: 1.5, double_value: 20 } } }]), // not an int
  purchase('u8', [{ item_id: 'x', item_params: { price: { string_value: 'abc', int_value: 20 } } }]), // string wins
  purchase('u9', []),
  purchase('u10', [{ item_id: 'a' }, { item_id: 'b', item_params: { color: { string_value: "it's" } } }]),
];

const audience = (leaf: object): unknown => ({
  displayName: 'x',
  description: 'x',
  membershipDurationDays: 30,
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      simpleFilter: {
        scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
        filterExpression: { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] } },
      },
    },
  ],
});
const dim = (fieldName: string, filter: object): object => ({
  dimensionOrMetricFilter: { fieldName, ...filter },
});
const exact = (value: string): object => ({
  stringFilter: { matchType: 'EXACT', value, caseSensitive: true },
});

const CASES: [string, object, string[]][] = [
  [
    'customItem:price = 20 (numbers of every shape)',
    dim('customItem:price', { numericFilter: { operation: 'EQUAL', value: { int64Value: '20' } } }),
    ['u1', 'u2', 'u4', 'u5', 'u6', 'u7'],
  ],
  ['customItem:price is the text "20"', dim('customItem:price', exact('20')), ['u1', 'u2', 'u4', 'u5', 'u7']],
  [
    'NOT itemId = "x": no item is x (no items included)',
    { notExpression: dim('itemId', exact('x')) },
    ['u1', 'u10', 'u9'],
  ],
  ['any item: customItem:color = "it\'s"', dim('customItem:color', exact("it's")), ['u10']],
  [
    'inside an event filter: purchase with itemId "b"',
    {
      eventFilter: {
        eventName: 'purchase',
        eventParameterFilterExpression: { andGroup: { filterExpressions: [dim('itemId', exact('b'))] } },
      },
    },
    ['u10'],
  ],
];

forEachBackend((backend) => {
  const db = useScratchEngine(backend);
  for (const [name, leaf, expected] of CASES) {
    test(name, async () => {
      resetSeq();
      const def = parseAudience(audience(leaf));
      assert.equal(planAudience(def), 'sql');
      const events = history();
      await db.load(events);
      const config = specConfig();
      const now = micros('2024-06-03');
      const req = { propertyId: 1n, audience: def, config, asOfMicros: now };
      assert.deepEqual(await db.engine.findMembers(req), expected);
      assert.deepEqual(membersAt(evaluateAudience(def, events, now, config), now), expected, 'reference');
    });
  }
});

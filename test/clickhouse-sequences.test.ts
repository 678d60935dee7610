// Sequences over ties and NULL sessions, on every backend: the members equal the reference
// evaluator's and the ones the rules give (docs/audiences.md §2.3, D3), and on ClickHouse each
// audience runs as one 18.16 statement (src/audience/compile/clickhouse-sequences.ts), not on the
// hybrid plan. The random sequence differential covers the same ground at large; this pins the two
// cases the per-user arrays must order exactly: events of one timestamp (ingest_seq decides) and
// events without a session id (each is a session of its own, never the same as another's).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '../src/domain/event.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { ev, micros, specConfig } from './helpers/audience-events.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';

const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const T = '2024-06-05T10:00:00';

function history(): StoredEvent[] {
  return [
    // u1: view_item and add_to_cart at one timestamp, ingested in that order, one session.
    ev('u1', 'view_item', T, { session: 1, seq: 1 }),
    ev('u1', 'add_to_cart', T, { session: 1, seq: 2 }),
    // u2: the same timestamp, ingested the other way round: add_to_cart comes first.
    ev('u2', 'add_to_cart', T, { session: 2, seq: 3 }),
    ev('u2', 'view_item', T, { session: 2, seq: 4 }),
    // u3: both without a session id, 30 s apart: across sessions yes, within one session never.
    ev('u3', 'view_item', T, { session: null, seq: 5 }),
    ev('u3', 'add_to_cart', '2024-06-05T10:00:30', { session: null, seq: 6 }),
    // u4: one session, 30 s apart, a scroll between (ignored for adjacency in one case).
    ev('u4', 'view_item', T, { session: 4, seq: 7 }),
    ev('u4', 'scroll', '2024-06-05T10:00:10', { session: 4, seq: 8 }),
    ev('u4', 'add_to_cart', '2024-06-05T10:00:30', { session: 4, seq: 9 }),
  ];
}

function step(eventName: string, extra: object = {}): object {
  return {
    scope: EVENT,
    filterExpression: {
      andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [{ eventFilter: { eventName } }] } }] },
    },
    ...extra,
  };
}

function audience(scope: string, steps: object[], extra: object = {}) {
  return parseAudience({
    displayName: 'x',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [{ clauseType: 'INCLUDE', sequenceFilter: { scope, sequenceSteps: steps, ...extra } }],
  });
}

const CASES: [string, ReturnType<typeof audience>, string[], string[]][] = [
  [
    'view_item directly followed by add_to_cart (ties: ingest order)',
    audience(ACROSS, [step('view_item'), step('add_to_cart', { immediatelyFollows: true })]),
    [],
    ['u1', 'u3'],
  ],
  [
    'the same with scroll ignored for adjacency',
    audience(ACROSS, [step('view_item'), step('add_to_cart', { immediatelyFollows: true })]),
    ['scroll'],
    ['u1', 'u3', 'u4'],
  ],
  [
    'within one session (NULL sessions never shared)',
    audience(SESSION, [step('view_item'), step('add_to_cart')]),
    [],
    ['u1', 'u4'],
  ],
  [
    'within one session, directly, within 10 s',
    audience(SESSION, [
      step('view_item'),
      step('add_to_cart', { immediatelyFollows: true, constraintDuration: '10s' }),
    ]),
    [],
    ['u1'],
  ],
  [
    'across sessions within a maximum duration of 1 s (the tie only)',
    audience(ACROSS, [step('view_item'), step('add_to_cart')], { sequenceMaximumDuration: '1s' }),
    [],
    ['u1'],
  ],
  [
    'a step over the range within the session (NULL sessions: the event alone)',
    audience(
      ACROSS,
      [step('view_item'), { ...step('add_to_cart'), scope: SESSION, constraintDuration: '60s' }],
      {
        sequenceMaximumDuration: '60s',
      },
    ),
    [],
    ['u1', 'u3', 'u4'],
  ],
];

forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  test('sequences over ties and NULL sessions: the rules, the reference, one statement on ClickHouse', async () => {
    const events = history();
    await db.load(events);
    const asOf = micros('2024-06-06T00:00:00');
    for (const [label, def, ignored, expected] of CASES) {
      const config = specConfig({ ignoreEventNamesForAdjacency: ignored });
      const reference = membersAt(evaluateAudience(def, events, asOf, config), asOf);
      assert.deepEqual(reference, expected, `${label}: the reference evaluator`);
      const req = { propertyId: 1n, audience: def, config, asOfMicros: asOf };
      if (backend.name === 'clickhouse')
        assert.ok(
          db.engine.membersQuery?.(req),
          `${label}: one statement on ClickHouse, not the hybrid plan`,
        );
      assert.deepEqual(await db.engine.findMembers(req), expected, label);
    }
  });
});

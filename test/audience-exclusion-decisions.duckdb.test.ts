// The two exclusion decisions of docs/audiences.md §2.6 (issue 12, items 5(b) and 5(c)), asserted
// on the reference evaluator and on the engine's SQL path alike.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import type { StoredEvent } from '../src/domain/event.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';

const T0 = 1_717_200_000_000_000n; // 2024-06-01
const MIN = 60_000_000n;
const CONFIG: EvaluationConfig = {
  createTimeMicros: T0,
  backfillDays: 30,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
};

let seq = 0n;
function ev(name: string, minutes: bigint, session: bigint, extra: Partial<StoredEvent> = {}): StoredEvent {
  seq += 1n;
  return {
    ...baseEvent(),
    ingest_seq: seq,
    event_name: name,
    event_timestamp: T0 + minutes * MIN,
    user_pseudo_id: 'dev-1',
    ga_session_id: session,
    ...extra,
  };
}

const group = (leaf: object): object => ({
  andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] },
});
const dim = (fieldName: string, value: string): object => ({
  dimensionOrMetricFilter: {
    fieldName,
    stringFilter: { matchType: 'EXACT', value },
    atAnyPointInTime: false,
  },
});

forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  async function both(def: AudienceDefinition, events: StoredEvent[], at: bigint): Promise<string[]> {
    assert.equal(planAudience(def), 'sql');
    await db.load(events);
    const expected = membersAt(evaluateAudience(def, events, at, CONFIG), at);
    const actual = await db.engine.findMembers({
      propertyId: 1n,
      audience: def,
      config: CONFIG,
      asOfMicros: at,
    });
    assert.deepEqual(actual, expected, 'engine and reference evaluator agree');
    return actual;
  }

  test('5(b): a temporary exclusion active at the only qualifying event lets the user in once it lapses', async () => {
    const def = parseAudience({
      displayName: 'cart, not purchased in the session',
      description: 'x',
      membershipDurationDays: 30,
      exclusionDurationMode: 'EXCLUDE_TEMPORARILY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: group({ eventFilter: { eventName: 'add_to_cart' } }),
          },
        },
        {
          clauseType: 'EXCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
            filterExpression: group({ eventFilter: { eventName: 'purchase' } }),
          },
        },
      ],
    });
    const events = [ev('add_to_cart', 0n, 1n), ev('purchase', 5n, 1n), ev('page_view', 120n, 2n)];
    assert.deepEqual(
      await both(def, events, T0 + 10n * MIN),
      [],
      'excluded while session 1 is the current one',
    );
    assert.deepEqual(await both(def, events, T0 + 121n * MIN), ['dev-1'], 'in once session 2 starts');
  });

  test('5(c): a permanent exclusion whose dynamic AND never held on one event does not exclude', async () => {
    const def = parseAudience({
      displayName: 'not (mobile and US)',
      description: 'x',
      membershipDurationDays: 30,
      exclusionDurationMode: 'EXCLUDE_PERMANENTLY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: group({ eventFilter: { eventName: 'page_view' } }),
          },
        },
        {
          clauseType: 'EXCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  { orGroup: { filterExpressions: [dim('deviceCategory', 'mobile')] } },
                  { orGroup: { filterExpressions: [dim('countryId', 'US')] } },
                ],
              },
            },
          },
        },
      ],
    });
    const apart = [
      ev('page_view', 0n, 1n, { device_category: 'mobile', geo_country_id: 'CA' }),
      ev('page_view', 10n, 1n, { device_category: 'desktop', geo_country_id: 'US' }),
    ];
    assert.deepEqual(
      await both(def, apart, T0 + 20n * MIN),
      ['dev-1'],
      'true at different events: not excluded',
    );
    const together = [
      ...apart,
      ev('scroll', 15n, 1n, { device_category: 'mobile', geo_country_id: 'US' }),
      ev('page_view', 20n, 1n),
    ];
    assert.deepEqual(await both(def, together, T0 + 30n * MIN), [], 'true together once: out for good');
  });
});

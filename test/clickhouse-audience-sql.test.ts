// Which audiences run as one SQL statement on ClickHouse 18.16 (the compiled forms without
// window functions, FILTER or JSON, CTEs inlined) and which take the fold, and the TRUE/FALSE rewrite that
// makes the compiler's text valid there without touching a value. Members are checked by the
// backend-parameterised audience tests; this pins the choice so that a regression to the slow
// path is visible.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAudience } from '../src/audience/validate.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';
import { E1, E2, E3, E4, E5, E6, E7, E10, E12 } from '../src/audience/fixtures/examples.ts';
import {
  booleansAsIntegers,
  ClickHouseAudienceEngine,
  inlineCtes,
} from '../src/storage/clickhouse/audience-engine.ts';
import { ClickHouseExecutor } from '../src/storage/clickhouse/executor.ts';
import { ClickHouseNodes } from '../src/storage/clickhouse/connection.ts';
import { parseClickHouseUrl } from '../src/storage/clickhouse/url.ts';
import type { AudienceDefinition } from '../src/domain/audience.ts';

// No server needed: explain() only compiles.
const engine = new ClickHouseAudienceEngine(
  new ClickHouseExecutor(new ClickHouseNodes(parseClickHouseUrl('clickhouse://127.0.0.1:1/unused'))),
);

function plan(def: AudienceDefinition) {
  return engine.explain({
    propertyId: 1n,
    audience: def,
    config: {
      createTimeMicros: 1_717_200_000_000_000n,
      backfillDays: 30,
      timeZone: 'UTC',
      ignoreEventNamesForAdjacency: [],
    },
    asOfMicros: 1_717_977_600_000_000n,
  });
}

test('closed forms without CTEs run as SQL; the rest on the fold', () => {
  const allUsers = plan(BUILTIN_AUDIENCES[0]!.definition);
  assert.equal(allUsers.plan, 'sql');
  assert.doesNotMatch(allUsers.query.sql, /\bTRUE\b|\bFALSE\b|\$\d/);
  assert.equal(plan(parseAudience(E1)).plan, 'sql');
  assert.match(plan(parseAudience(E1)).query.sql, /event_name = 'purchase'/);
  assert.equal(plan(parseAudience(E3)).plan, 'sql');
  const e4 = plan(parseAudience(E4));
  assert.equal(e4.plan, 'sql', 'one permanent exclusion: GLOBAL NOT IN');
  assert.match(e4.query.sql, /WHERE \(u\) GLOBAL NOT IN \(SELECT u FROM/);
  const e10 = plan(parseAudience(E10));
  assert.equal(e10.plan, 'sql', 'the latest-event form, its CTE inlined');
  assert.doesNotMatch(e10.query.sql, /\bWITH\b/);
  assert.match(e10.query.sql, /\) AS latest\b/);
  assert.equal(plan(parseAudience(E5)).plan, 'sql', 'temporary session exclusion: JOIN and GLOBAL NOT IN');
  const e2 = plan(parseAudience(E2));
  assert.equal(e2.plan, 'sql', 'an event parameter: its value object by an anchored RE2 pattern');
  assert.match(e2.query.sql, /visitParamExtractString/);
});

test('sequences run as one statement over per-user arrays, with or without an ignore list', () => {
  for (const example of [E6, E7]) {
    const seq = plan(parseAudience(example));
    assert.equal(seq.plan, 'sql', 'a sequence: its chain over the sorted arrays');
    assert.match(seq.query.sql, /arraySort\(\(__x, __k\) -> __k, groupArray\(tuple\(/);
    assert.match(seq.query.sql, /\bc0_b1\b/, "the chain's b columns, named per clause");
    assert.doesNotMatch(seq.query.sql, /\bOVER\b|\bFILTER\b|\bWITH\b|\bJOIN\b|HUGEINT/);
  }
  const ignoring = (def: AudienceDefinition) =>
    engine.explain({
      propertyId: 1n,
      audience: def,
      config: {
        createTimeMicros: 1_717_200_000_000_000n,
        backfillDays: 30,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: ['scroll'],
      },
      asOfMicros: 1_717_977_600_000_000n,
    });
  const e6 = ignoring(parseAudience(E6));
  assert.equal(e6.plan, 'sql', 'immediatelyFollows with an ignore list: (group, start) pairs as padded text');
  assert.match(e6.query.sql, /concat\(substring\(concat\('00000000000000000000'/);
  // A range step that follows immediately without a time limit: the best pair per adjacency group.
  const range = structuredClone(E6) as unknown as {
    filterClauses: { sequenceFilter: { sequenceSteps: Record<string, unknown>[] } }[];
  };
  const second = range.filterClauses[0]!.sequenceFilter.sequenceSteps[1]!;
  second.scope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
  delete second.constraintDuration;
  assert.equal(ignoring(parseAudience(range)).plan, 'sql');
});

test('the per-event state runs as one statement over per-user sorted arrays', () => {
  const e12 = plan(parseAudience(E12));
  assert.equal(e12.plan, 'sql', 'a lifetime revenue metric: running sums as arrayCumSum');
  assert.match(e12.query.sql, /arraySort\(\(__x, __k\) -> __k, groupArray\(tuple\(/);
  assert.match(e12.query.sql, /arrayCumSum/);
  assert.doesNotMatch(e12.query.sql, /\bOVER\b|\bFILTER\b|\bWITH\b|audex_win_/);
});

test('CTEs are inlined as subqueries, references outside string literals only', () => {
  assert.equal(
    inlineCtes(
      "WITH a AS (SELECT 1 AS u), b AS (SELECT u FROM a WHERE x = 'FROM a')\nSELECT u FROM b JOIN a USING (u)",
    ),
    "SELECT u FROM (SELECT u FROM (SELECT 1 AS u) AS a WHERE x = 'FROM a') AS b JOIN (SELECT 1 AS u) AS a USING (u)",
  );
  assert.equal(inlineCtes('SELECT 1'), 'SELECT 1');
  assert.equal(inlineCtes('WITH broken'), null);
});

test('TRUE/FALSE become 1/0 outside string literals only', () => {
  assert.equal(
    booleansAsIntegers("SELECT TRUE, FALSE, 'TRUE', 'it\\'s FALSE', x_TRUE, COALESCE(a, FALSE)"),
    "SELECT 1, 0, 'TRUE', 'it\\'s FALSE', x_TRUE, COALESCE(a, 0)",
  );
  assert.equal(booleansAsIntegers("'\\\\' TRUE '\\\\'"), "'\\\\' 1 '\\\\'");
});

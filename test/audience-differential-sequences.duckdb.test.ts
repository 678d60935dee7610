// Differential test of sequences: for random sequence audiences (1-4 steps, immediatelyFollows,
// step time limits, a maximum duration, NOT leaves, hostile values, timestamp ties, events without
// a session id, with and without ignoreEventNamesForAdjacency), the planner must choose the SQL
// plan and DuckDbAudienceEngine.findMembers must equal the reference evaluator's members.
//
// CI runs a fixed seed and then a random one (printed on failure). Replay a failure:
//   AUDEX_FC_SEED=<seed> [AUDEX_FC_PATH=<path>] npm test -- test/audience-differential-sequences.duckdb.test.ts
// Size: AUDEX_FC_RUNS per seed (default 150, about a minute on the shared 2-core machine; on
// ClickHouse 15, as each one-statement audience costs 18.16 one to four seconds of query analysis
// there, and the rare constructs' coverage is asserted on DuckDB, whose compiler is the same).
// On ClickHouse every audience must also run as one statement, but those with an item leaf (the
// hybrid plan there: items have no 18.16 spelling).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import { ApiError } from '../src/domain/errors.ts';
import { audienceToJson, parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import { resolveField } from '../src/audience/fields.ts';
import { isPairedRangeStep } from '../src/audience/compile/sequence-pairs.ts';
import { CREATE_TIME, buildEvents, nowsArb, resolveNows } from './audience-arbitraries.ts';
import {
  adjacencyArb,
  isImmediateRangeWithLimit,
  sequenceAudienceArb,
  sequenceHistoryArb,
} from './audience-sequence-arbitraries.ts';
import { forEachBackend, useScratchEngine, type ScratchEngine } from './helpers/backends.ts';

const PROPERTY = 1n;
const FIXED_SEED = 20261203;
const ALL_SCOPES = [
  'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
  'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
  'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
  'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
] as const;

/** Round-trips through the API form so the test sees exactly what validation produces. */
function validated(def: AudienceDefinition): AudienceDefinition | null {
  try {
    const meta = { name: 'properties/1/audiences/1', createTime: '2024-06-01T00:00:00Z' };
    return parseAudience(audienceToJson(def, { ...meta, adsPersonalizationEnabled: true }, false));
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}

const stats = {
  audiences: 0,
  checks: 0,
  withMembers: 0,
  immediate: 0,
  ignoreList: 0,
  rangeSteps: 0,
  rangeMembers: 0,
  immediateRangeIgnoring: 0,
  immediateRangeLimit: 0,
  immediateRangeLimitMembers: 0,
  immediateRangeLimitIgnoring: 0,
  /** Checks with members of an audience with a step over a range with metric leaves (pairs). */
  pairedMembers: 0,
  /** ClickHouse: audiences run as one statement (none on the hybrid plan but those it lists). */
  oneStatement: 0,
};

function property(db: ScratchEngine, backend: string): fc.IAsyncProperty<unknown[]> {
  return fc.asyncProperty(
    sequenceAudienceArb(ALL_SCOPES),
    sequenceHistoryArb,
    nowsArb,
    adjacencyArb,
    fc.constantFrom<number | null>(30, 30, 5, null),
    async (raw, history, nowSpecs, ignore, backfillDays) => {
      const drawn = validated(raw);
      fc.pre(drawn !== null);
      const def = drawn;
      const config: EvaluationConfig = {
        createTimeMicros: CREATE_TIME,
        backfillDays,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: ignore,
      };
      assert.equal(
        planAudience(def, config),
        'sql',
        `planner chose a fallback for ${JSON.stringify(raw, bigints)}`,
      );
      const events = buildEvents(history, PROPERTY);
      // Also just after the whole history, where any chain has had its chance to complete.
      const latest = events.reduce((m, e) => (e.event_timestamp > m ? e.event_timestamp : m), 0n);
      const nows = [...new Set([...resolveNows(nowSpecs, events, def.membershipDurationDays), latest])];
      await db.load(events);
      stats.audiences++;
      const paired = def.filterClauses.some((c) =>
        (c.sequenceFilter?.sequenceSteps ?? []).some(isPairedRangeStep),
      );
      if (backend === 'clickhouse') {
        // ClickHouse 18.16 runs these sequences as one statement over per-user arrays
        // (clickhouse-sequences.ts, range steps with metrics: clickhouse-ranges.ts); only item
        // leaves take the hybrid plan.
        const request = { propertyId: PROPERTY, audience: def, config, asOfMicros: nows[0] ?? CREATE_TIME };
        const asSql = db.engine.membersQuery?.(request) ?? null;
        const hybrid = usesItems(def);
        assert.equal(asSql !== null, !hybrid, `one statement on ClickHouse: ${JSON.stringify(raw, bigints)}`);
        if (asSql) stats.oneStatement++;
      }
      const steps = def.filterClauses.flatMap((c) => c.sequenceFilter?.sequenceSteps ?? []);
      const range = steps.some((s) => s.scope !== 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT');
      if (range) stats.rangeSteps++;
      const immediateRange = steps.some(
        (s, k) => k > 0 && s.immediatelyFollows && s.scope !== 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
      );
      const immediateRangeLimit = def.filterClauses.some((c) =>
        (c.sequenceFilter?.sequenceSteps ?? []).some(isImmediateRangeWithLimit),
      );
      if (immediateRangeLimit) stats.immediateRangeLimit++;
      if (steps.some((s, k) => k > 0 && s.immediatelyFollows)) {
        stats.immediate++;
        if (ignore.length > 0) stats.ignoreList++;
      }
      for (const now of nows) {
        const expected = membersAt(evaluateAudience(def, events, now, config), now);
        stats.checks++;
        if (expected.length > 0) stats.withMembers++;
        if (expected.length > 0 && range) stats.rangeMembers++;
        if (expected.length > 0 && paired) stats.pairedMembers++;
        if (expected.length > 0 && immediateRange && ignore.length > 0) stats.immediateRangeIgnoring++;
        if (expected.length > 0 && immediateRangeLimit) stats.immediateRangeLimitMembers++;
        if (expected.length > 0 && immediateRangeLimit && ignore.length > 0)
          stats.immediateRangeLimitIgnoring++;
        const actual = await db.engine.findMembers({
          propertyId: PROPERTY,
          audience: def,
          config,
          asOfMicros: now,
        });
        assert.deepEqual(actual, expected, `members at ${new Date(Number(now / 1000n)).toISOString()}`);
      }
    },
  );
}

/** An item leaf somewhere (items have no 18.16 spelling: the hybrid plan, docs/audiences.md §8). */
function usesItems(x: unknown): boolean {
  if (Array.isArray(x)) return x.some(usesItems);
  if (x === null || typeof x !== 'object') return false;
  return Object.entries(x).some(([k, v]) => {
    if (k !== 'fieldName' || typeof v !== 'string') return usesItems(v);
    const ref = resolveField(v, 'condition') ?? resolveField(v, 'eventParameter');
    return ref !== null && ref !== undefined && 'item' in ref;
  });
}

function bigints(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

async function check(db: ScratchEngine, backend: string, seed: number | undefined): Promise<void> {
  const path = process.env.AUDEX_FC_PATH;
  try {
    await fc.assert(property(db, backend), {
      numRuns: Number(process.env.AUDEX_FC_RUNS ?? (backend === 'clickhouse' ? 15 : 150)),
      ...(seed === undefined ? {} : { seed }),
      ...(path === undefined ? {} : { path }),
      endOnFailure: false,
    });
  } catch (err) {
    const m = /seed: (-?\d+), path: "([^"]*)"/.exec(String(err));
    const replay = m
      ? `\nReplay with: AUDEX_FC_SEED=${m[1]} AUDEX_FC_PATH=${m[2]} npm test -- test/audience-differential-sequences.duckdb.test.ts`
      : '';
    const cause =
      err instanceof Error && err.cause instanceof Error ? `\nCaused by: ${err.cause.message}` : '';
    throw new Error(`${String(err instanceof Error ? err.message : err)}${cause}${replay}`, { cause: err });
  }
}

forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  test(
    'sequences: SQL plan, members equal to the reference evaluator (fixed seed, then a random one)',
    {
      timeout: 900_000,
    },
    async () => {
      for (const k of Object.keys(stats) as (keyof typeof stats)[]) stats[k] = 0;
      const env = process.env.AUDEX_FC_SEED;
      await check(db, backend.name, env === undefined ? FIXED_SEED : Number(env));
      // The coverage below is judged on that run alone: it is deterministic, where a random seed's
      // few ClickHouse runs (15) can fall under a threshold by chance. The random seed then only
      // looks for a difference from the reference.
      const covered = { ...stats };
      if (env === undefined) await check(db, backend.name, undefined);
      console.log(
        `sequence differential: ${JSON.stringify(covered)}; with the random seed: ${JSON.stringify(stats)}`,
      );
      // A property that never sees a member, or never an adjacency rule, proves little.
      assert.ok(
        covered.withMembers > covered.checks / 8,
        `only ${covered.withMembers} of ${covered.checks} checks had members`,
      );
      assert.ok(
        covered.ignoreList > covered.audiences / 20,
        `only ${covered.ignoreList} audiences with an ignore list`,
      );
      assert.ok(
        covered.rangeMembers > covered.checks / 20,
        `only ${covered.rangeMembers} checks with members over range steps`,
      );
      if (backend.name === 'clickhouse') {
        assert.ok(
          covered.oneStatement > covered.audiences / 3,
          `only ${covered.oneStatement} of ${covered.audiences} audiences ran as one statement`,
        );
        return;
      }
      assert.ok(
        covered.pairedMembers > covered.checks / 40,
        `only ${covered.pairedMembers} checks with members over range steps with metric leaves`,
      );
      assert.ok(
        covered.immediateRangeLimitMembers > 0,
        'no check with members over an immediate range step with a time limit',
      );
      assert.ok(
        covered.immediateRangeLimitIgnoring > 0,
        'no check with members over an immediate range step with a time limit and an ignore list',
      );
    },
  );
});

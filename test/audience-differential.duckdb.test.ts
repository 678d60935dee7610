// Differential test: each backend's AudienceEngine.findMembers (SQL or hybrid path) must equal the
// reference evaluator's members at several instants, for random valid audiences and random histories.
//
// Replay a failure: AUDEX_FC_SEED=<seed> [AUDEX_FC_PATH=<path>] npm test -- test/audience-differential.duckdb.test.ts
// Size: AUDEX_FC_RUNS (default 600, about 25-30 s on an idle 2-core machine; CI shares the cores
// with other suites, hence the generous timeout).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AudienceDefinition, EvaluationConfig } from '../src/domain/audience.ts';
import { ApiError } from '../src/domain/errors.ts';
import { audienceToJson, parseAudience } from '../src/audience/validate.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import {
  CREATE_TIME,
  audienceArb,
  buildEvents,
  historyArb,
  nowsArb,
  resolveNows,
  timeZoneArb,
} from './audience-arbitraries.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';

const PROPERTY = 1n;
forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  /** Round-trips through the API form so the test sees exactly what validation produces. */
  function validated(def: AudienceDefinition): AudienceDefinition | null {
    try {
      const json = audienceToJson(
        def,
        {
          name: 'properties/1/audiences/1',
          createTime: '2024-06-01T00:00:00Z',
          adsPersonalizationEnabled: true,
        },
        false,
      );
      return parseAudience(json);
    } catch (err) {
      if (err instanceof ApiError) return null;
      throw err;
    }
  }

  function fcParams(): fc.Parameters<unknown> {
    const seed = process.env.AUDEX_FC_SEED;
    const path = process.env.AUDEX_FC_PATH;
    return {
      numRuns: Number(process.env.AUDEX_FC_RUNS ?? 600),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
      endOnFailure: false,
    };
  }

  const plans = { sql: 0, hybrid: 0 };
  /** Checks whose expected member set is non-empty, per path: the test is only as strong as these. */
  const nonEmpty = { sql: 0, hybrid: 0 };

  test(
    'findMembers equals the reference evaluator on random audiences and histories',
    { timeout: 1_200_000 },
    async () => {
      const engine = db.engine;
      const property = fc.asyncProperty(
        audienceArb,
        historyArb,
        nowsArb,
        timeZoneArb,
        fc.constantFrom<number | null>(30, 30, 5, null),
        async (raw, history, nowSpecs, timeZone, backfillDays) => {
          const def = validated(raw);
          fc.pre(def !== null);
          const config: EvaluationConfig = {
            createTimeMicros: CREATE_TIME,
            backfillDays,
            timeZone,
            ignoreEventNamesForAdjacency: timeZone === 'UTC' ? [] : ['scroll'],
          };
          const events = buildEvents(history, PROPERTY);
          const nows = resolveNows(nowSpecs, events, def.membershipDurationDays);
          await db.load(events);
          plans[planAudience(def)]++;
          for (const now of nows) {
            const expected = membersAt(evaluateAudience(def, events, now, config), now);
            if (expected.length > 0) nonEmpty[planAudience(def)]++;
            const actual = await engine.findMembers({
              propertyId: PROPERTY,
              audience: def,
              config,
              asOfMicros: now,
            });
            assert.deepEqual(
              actual,
              expected,
              `members at ${new Date(Number(now / 1000n)).toISOString()} (plan ${planAudience(def)})`,
            );
          }
        },
      );
      try {
        await fc.assert(property, fcParams());
      } catch (err) {
        const m = /seed: (-?\d+), path: "([^"]*)"/.exec(String(err));
        const replay = m
          ? `\nReplay with: AUDEX_FC_SEED=${m[1]} AUDEX_FC_PATH=${m[2]} npm test -- test/audience-differential.duckdb.test.ts`
          : '';
        const cause =
          err instanceof Error && err.cause instanceof Error ? `\nCaused by: ${err.cause.message}` : '';
        throw new Error(`${String(err instanceof Error ? err.message : err)}${cause}${replay}`, {
          cause: err,
        });
      }
      console.log(
        `plans exercised: ${JSON.stringify(plans)}; checks with members: ${JSON.stringify(nonEmpty)}`,
      );
    },
  );
});

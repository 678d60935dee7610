// The worked examples E1–E12 (docs/audiences.md §9, src/audience/fixtures/examples.ts) on the
// DuckDB engine, over the histories the reference evaluator's tests use
// (test/helpers/example-histories.ts): the same member sets at the same `now` values as the spec,
// and the same answer as the reference evaluator. Each row also states
// the path (sql / hybrid) the planner chose, so a planner change is visible here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAudience } from '../src/audience/validate.ts';
import { EXAMPLES, type ExampleName } from '../src/audience/fixtures/examples.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { planAudience, type AudiencePlan } from '../src/audience/compile/index.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';
import { micros, specConfig } from './helpers/audience-events.ts';
import { EXAMPLE_HISTORIES } from './helpers/example-histories.ts';

const PROPERTY = 1n;
const CONFIG = specConfig();

/** E9B and E10S are variants of E9 and E10 over the same events. */
const HISTORY: Record<ExampleName, keyof typeof EXAMPLE_HISTORIES> = {
  E1: 'E1',
  E2: 'E2',
  E3: 'E3',
  E4: 'E4',
  E5: 'E5',
  E6: 'E6',
  E7: 'E7',
  E8: 'E8',
  E9: 'E9',
  E9B: 'E9',
  E10: 'E10',
  E10S: 'E10',
  E11: 'E11',
  E12: 'E12',
};

// [example, now, expected members, expected path]
const CASES: [ExampleName, string, string[], AudiencePlan][] = [
  ['E1', '2024-06-10T00:00:00', ['u1', 'u4'], 'sql'],
  ['E1', '2024-06-20T12:00:00', ['u4'], 'sql'],
  ['E2', '2024-06-05T00:00:00', ['u1', 'u3'], 'sql'],
  ['E2', '2024-06-18T00:00:00', [], 'sql'],
  ['E3', '2024-06-05T00:00:00', ['u1', 'u3'], 'sql'],
  ['E4', '2024-06-03T12:00:00', ['u1', 'u2'], 'sql'],
  ['E4', '2024-06-05T00:00:00', ['u1'], 'sql'],
  ['E5', '2024-06-04T00:00:00', ['u3'], 'sql'],
  ['E5', '2024-06-07T00:00:00', ['u2', 'u3'], 'sql'],
  ['E6', '2024-06-03T00:00:00', ['u1', 'u4'], 'sql'],
  ['E6', '2024-06-10T00:00:00', [], 'sql'],
  ['E7', '2024-06-05T00:00:00', ['u1', 'u4'], 'sql'],
  ['E8', '2024-06-05T00:00:00', ['u1'], 'sql'],
  ['E9', '2024-05-23T00:00:00', ['u1'], 'sql'],
  ['E9', '2024-06-10T00:00:00', ['u2'], 'sql'],
  ['E9', '2024-06-25T00:00:00', [], 'sql'],
  ['E9B', '2024-05-23T00:00:00', ['u1'], 'sql'],
  ['E9B', '2024-06-10T00:00:00', ['u1', 'u2'], 'sql'],
  ['E9B', '2024-06-25T00:00:00', ['u2'], 'sql'],
  ['E10', '2024-06-05T00:00:00', ['u2'], 'sql'],
  ['E10S', '2024-06-05T00:00:00', ['u1', 'u2'], 'sql'],
  ['E11', '2024-06-04T00:00:00', ['u1', 'u4'], 'sql'],
  ['E12', '2024-06-10T00:00:00', ['u1', 'u2'], 'sql'],
];

forEachBackend((backend) => {
  const db = useScratchEngine(backend);

  for (const [name, iso, expected, path] of CASES) {
    test(`${name} at ${iso}: ${JSON.stringify(expected)} via ${path}`, async () => {
      const def = parseAudience(EXAMPLES[name]);
      const events = EXAMPLE_HISTORIES[HISTORY[name]]();
      await db.load(events);
      const now = micros(iso);
      const engine = db.engine;
      const req = { propertyId: PROPERTY, audience: def, config: CONFIG, asOfMicros: now };
      assert.equal(planAudience(def), path);
      assert.deepEqual(await engine.findMembers(req), expected);
      assert.deepEqual(
        membersAt(evaluateAudience(def, events, now, CONFIG), now),
        expected,
        'reference evaluator',
      );
    });
  }
});

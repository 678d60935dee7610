// The worked examples E1–E12 (docs/audiences.md §9, src/audience/fixtures/examples.ts) on the DuckDB engine: the same member sets at the same
// `now` values as the spec, and the same answer as the reference evaluator. Each row also states
// the path (sql / hybrid) the planner chose, so a planner change is visible here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EvaluationConfig } from '../src/domain/audience.ts';
import type { ParamValue, StoredEvent } from '../src/domain/event.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { EXAMPLES, type ExampleName } from '../src/audience/fixtures/examples.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { planAudience, type AudiencePlan } from '../src/audience/compile/index.ts';
import { forEachBackend, useScratchEngine } from './helpers/backends.ts';
import { baseEvent } from './helpers/event-fixtures.ts';

const PROPERTY = 1n;
const CONFIG: EvaluationConfig = {
  createTimeMicros: BigInt(Date.parse('2024-06-01T00:00:00Z')) * 1000n,
  backfillDays: 30,
  timeZone: 'UTC',
  ignoreEventNamesForAdjacency: [],
};

let seq = 0n;
interface Opts {
  session?: number;
  params?: Record<string, string | number>;
  plan?: string;
  device?: string;
  country?: string;
  revenue?: number;
  refund?: number;
}

function at(iso: string): bigint {
  return BigInt(Date.parse(iso.length === 10 ? `${iso}T12:00:00Z` : `${iso}Z`)) * 1000n;
}

function ev(user: string, name: string, iso: string, o: Opts = {}): StoredEvent {
  seq += 1n;
  const ts = at(iso);
  const params: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(o.params ?? {})) {
    params[k] =
      typeof v === 'string'
        ? { string_value: v }
        : Number.isInteger(v)
          ? { int_value: BigInt(v) }
          : { double_value: v };
  }
  return {
    ...baseEvent(),
    property_id: PROPERTY,
    stream_id: 's',
    platform: 'WEB',
    ingest_seq: seq,
    event_name: name,
    event_timestamp: ts,
    event_date: iso.slice(0, 10).replaceAll('-', ''),
    received_at: ts,
    source: 'mp',
    user_pseudo_id: user,
    ga_session_id: BigInt(o.session ?? 100_000 + Number(seq)),
    ga_session_number: 1,
    event_params: params,
    user_properties: o.plan ? { plan: { value: { string_value: o.plan }, set_timestamp_micros: ts } } : {},
    device_category: o.device ?? null,
    geo_country_id: o.country ?? null,
    ecommerce_purchase_revenue: o.revenue ?? null,
    ecommerce_refund_value: o.refund ?? null,
  };
}

const loc = (path: string): Opts => ({ params: { page_location: `https://x.com${path}` } });

const HISTORIES: Record<string, StoredEvent[]> = {
  E1: [
    ev('u1', 'purchase', '2024-05-20T10:00:00'),
    ev('u2', 'page_view', '2024-05-25'),
    ev('u3', 'purchase', '2024-04-10'),
    ev('u4', 'purchase', '2024-05-10'),
    ev('u4', 'purchase', '2024-06-05'),
  ],
  E2: [
    ev('u1', 'page_view', '2024-06-03', { params: { page_location: 'https://x.com/pricing/team' } }),
    ev('u2', 'page_view', '2024-06-03T10:00:00', { session: 1, ...loc('/home') }),
    ev('u2', 'scroll', '2024-06-03T10:01:00', { session: 1, ...loc('/pricing') }),
    ev('u3', 'page_view', '2024-06-03', loc('/PRICING')),
  ],
  E3: [
    ev('u1', 'add_to_cart', '2024-06-02T10:00:00', { session: 1 }),
    ev('u1', 'begin_checkout', '2024-06-02T10:10:00', { session: 1 }),
    ev('u2', 'add_to_cart', '2024-06-02', { session: 1 }),
    ev('u2', 'begin_checkout', '2024-06-03', { session: 2 }),
    ev('u3', 'begin_checkout', '2024-06-02T09:00:00', { session: 1 }),
    ev('u3', 'add_to_cart', '2024-06-02T09:05:00', { session: 1 }),
  ],
  E4: [
    ev('u1', 'add_to_cart', '2024-06-02'),
    ev('u2', 'add_to_cart', '2024-06-02'),
    ev('u2', 'purchase', '2024-06-04'),
    ev('u3', 'purchase', '2024-05-10'),
    ev('u3', 'add_to_cart', '2024-06-03'),
  ],
  E5: [
    ev('u2', 'add_to_cart', '2024-06-02T10:00:00', { session: 1 }),
    ev('u2', 'purchase', '2024-06-02T10:20:00', { session: 1 }),
    ev('u2', 'add_to_cart', '2024-06-06T09:00:00', { session: 2 }),
    ev('u2', 'page_view', '2024-06-06T09:05:00', { session: 2 }),
    ev('u3', 'purchase', '2024-05-10', { session: 1 }),
    ev('u3', 'add_to_cart', '2024-06-03', { session: 2 }),
  ],
  E6: [
    ev('u1', 'view_item', '2024-06-02T10:00:00'),
    ev('u1', 'add_to_cart', '2024-06-02T10:05:00'),
    ev('u2', 'view_item', '2024-06-02T10:00:00'),
    ev('u2', 'page_view', '2024-06-02T10:01:00'),
    ev('u2', 'add_to_cart', '2024-06-02T10:05:00'),
    ev('u3', 'view_item', '2024-06-02T10:00:00'),
    ev('u3', 'add_to_cart', '2024-06-02T10:45:00'),
    ev('u4', 'view_item', '2024-06-02T10:00:00'),
    ev('u4', 'page_view', '2024-06-02T10:01:00'),
    ev('u4', 'view_item', '2024-06-02T10:02:00'),
    ev('u4', 'add_to_cart', '2024-06-02T10:03:00'),
  ],
  E7: [
    ev('u1', 'sign_up', '2024-05-20', { session: 1 }),
    ev('u1', 'purchase', '2024-05-25', { session: 2, params: { value: 50 } }),
    ev('u2', 'sign_up', '2024-05-10'),
    ev('u2', 'purchase', '2024-05-20', { params: { value: 50 } }),
    ev('u3', 'purchase', '2024-05-12', { params: { value: 50 } }),
    ev('u3', 'sign_up', '2024-05-14'),
    ev('u4', 'sign_up', '2024-05-20'),
    ev('u4', 'purchase', '2024-05-21', { params: { value: 15 } }),
    ev('u4', 'purchase', '2024-05-26', { params: { value: 25 } }),
  ],
  E8: [
    ev('u1', 'purchase', '2024-05-10', { params: { currency: 'USD' } }),
    ev('u1', 'purchase', '2024-05-15', { params: { currency: 'EUR' } }),
    ev('u1', 'purchase', '2024-05-30', { params: { currency: 'EUR' } }),
    ev('u2', 'purchase', '2024-05-11'),
    ev('u2', 'purchase', '2024-05-12'),
  ],
  E9: [
    ev('u1', 'page_view', '2024-05-20'),
    ev('u1', 'page_view', '2024-05-21'),
    ev('u1', 'page_view', '2024-05-22'),
    ev('u2', 'page_view', '2024-06-04'),
    ev('u2', 'page_view', '2024-06-06'),
    ev('u2', 'page_view', '2024-06-09'),
  ],
  E10: [
    ev('u1', 'page_view', '2024-05-27', { country: 'US' }),
    ev('u1', 'page_view', '2024-06-03', { country: 'CA' }),
    ev('u2', 'page_view', '2024-06-02', { country: 'US' }),
    ev('u3', 'page_view', '2024-06-02', { country: 'CA' }),
  ],
  E11: [
    ev('u1', 'page_view', '2024-06-03', { plan: 'Pro', device: 'desktop' }),
    ev('u2', 'page_view', '2024-06-01', { plan: 'pro', device: 'mobile' }),
    ev('u2', 'page_view', '2024-06-02', { plan: 'pro', device: 'mobile' }),
    ev('u3', 'page_view', '2024-06-02', { plan: 'free', device: 'desktop' }),
    ev('u4', 'page_view', '2024-05-20', { plan: 'pro', device: 'mobile' }),
    ev('u4', 'page_view', '2024-06-02', { plan: 'pro', device: 'desktop' }),
    ev('u5', 'page_view', '2024-05-20', { plan: 'pro', device: 'desktop' }),
    ev('u5', 'page_view', '2024-06-02', { plan: 'free', device: 'desktop' }),
  ],
  E12: [
    ev('u1', 'purchase', '2024-06-02T09:00:00', { session: 7, revenue: 60 }),
    ev('u1', 'purchase', '2024-06-05T11:00:00', { session: 8, revenue: 50 }),
    ev('u1', 'purchase', '2024-06-08', { session: 9, revenue: 30 }),
    ev('u2', 'purchase', '2024-06-02', { revenue: 120 }),
    ev('u2', 'refund', '2024-06-03', { refund: 120 }),
    ev('u3', 'purchase', '2024-06-02', { revenue: 100 }),
  ],
};
HISTORIES.E9B = HISTORIES.E9!;
HISTORIES.E10S = HISTORIES.E10!;

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
  ['E9', '2024-05-23T00:00:00', ['u1'], 'hybrid'],
  ['E9', '2024-06-10T00:00:00', ['u2'], 'hybrid'],
  ['E9', '2024-06-25T00:00:00', [], 'hybrid'],
  ['E9B', '2024-05-23T00:00:00', ['u1'], 'hybrid'],
  ['E9B', '2024-06-10T00:00:00', ['u1', 'u2'], 'hybrid'],
  ['E9B', '2024-06-25T00:00:00', ['u2'], 'hybrid'],
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
      const events = HISTORIES[name]!;
      await db.load(events);
      const now = at(iso);
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

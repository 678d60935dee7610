import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NewEvent } from '../domain/event.ts';
import { baseEvent } from '../../test/helpers/event-fixtures.ts';
import { SessionContext } from './session-context.ts';

const HOUR = 3_600_000_000n;
const T = 1_735_689_600_000_000n;

/** A gtag event of session 7 on a phone in France. */
const web = (over: Partial<NewEvent> = {}): NewEvent =>
  baseEvent({
    source: 'gtag',
    user_pseudo_id: 'c1',
    ga_session_id: 7n,
    event_timestamp: T,
    device_category: 'mobile',
    device_operating_system: 'Android',
    device_browser: 'Chrome',
    geo_country: 'France',
    geo_country_id: 'FR',
    geo_city: 'Lyon',
    ...over,
  });
/** A server-side MP purchase of the same user, without device or geography. */
const server = (over: Partial<NewEvent> = {}): NewEvent =>
  baseEvent({
    source: 'mp',
    event_name: 'purchase',
    user_pseudo_id: 'c1',
    ga_session_id: 7n,
    event_timestamp: T + HOUR,
    ...over,
  });

const fields = (e: NewEvent) => [
  e.device_category,
  e.device_operating_system,
  e.device_browser,
  e.geo_country_id,
  e.geo_city,
];

test('an MP event of a session seen within 24 h takes its device and geography', () => {
  const ctx = new SessionContext();
  ctx.apply([web()], false);
  const e = server();
  ctx.apply([e], true);
  assert.deepEqual(fields(e), ['mobile', 'Android', 'Chrome', 'FR', 'Lyon']);
  // In the same batch too, in input order.
  const batch = [web({ user_pseudo_id: 'c2' }), server({ user_pseudo_id: 'c2' })];
  new SessionContext().apply(batch, true);
  assert.deepEqual(fields(batch[1]!), ['mobile', 'Android', 'Chrome', 'FR', 'Lyon']);
});

test('only without fields of its own, per group; other sessions, users and properties stay apart', () => {
  const after = (e: NewEvent): NewEvent => {
    const ctx = new SessionContext();
    ctx.apply([web()], false);
    ctx.apply([e], true);
    return e;
  };
  // A device of its own is kept whole (no field mixed in), and the geography is still taken.
  assert.deepEqual(fields(after(server({ device_category: 'desktop' }))), [
    'desktop',
    null,
    null,
    'FR',
    'Lyon',
  ]);
  assert.deepEqual(fields(after(server({ geo_country_id: 'DE' }))), [
    'mobile',
    'Android',
    'Chrome',
    'DE',
    null,
  ]);
  for (const over of [
    { ga_session_id: 8n },
    { user_pseudo_id: 'c9' },
    { property_id: 2n },
    { ga_session_id: null },
  ])
    assert.deepEqual(fields(after(server(over))), [null, null, null, null, null]);
});

test('an MP event with a device of its own records it for the session', () => {
  const ctx = new SessionContext();
  ctx.apply([web()], false);
  const withAgent = server({ device_category: 'desktop' });
  const later = server({ event_timestamp: T + 2n * HOUR });
  ctx.apply([withAgent, later], true);
  assert.deepEqual(fields(later), ['desktop', null, null, 'FR', 'Lyon']);
});

test('24 h of event time, either side; gtag events never inherit', () => {
  const ctx = new SessionContext();
  ctx.apply([web()], false);
  const atLimit = server({ event_timestamp: T + 24n * HOUR });
  const before = server({ event_timestamp: T - 24n * HOUR });
  const tooLate = server({ event_timestamp: T + 24n * HOUR + 1n });
  ctx.apply([atLimit, before, tooLate], true);
  assert.equal(atLimit.device_category, 'mobile');
  assert.equal(before.device_category, 'mobile');
  assert.equal(tooLate.device_category, null);
  const gtagWithout = web({ device_category: null, device_operating_system: null, device_browser: null });
  ctx.apply([gtagWithout], false);
  assert.equal(gtagWithout.device_category, null);
});

test('the latest recording wins; an inherited value is not recorded again', () => {
  const ctx = new SessionContext();
  ctx.apply([web(), web({ event_timestamp: T + 2n * HOUR, device_category: 'tablet' })], false);
  ctx.apply([web({ event_timestamp: T - HOUR, device_category: 'desktop' })], false); // older: ignored
  const e = server({ event_timestamp: T + 3n * HOUR });
  ctx.apply([e], true);
  assert.equal(e.device_category, 'tablet');
  assert.equal(ctx.size, 1);
});

test('bounded: the least recently used session is forgotten', () => {
  const ctx = new SessionContext({ maxSessions: 2 });
  ctx.apply([web({ ga_session_id: 1n }), web({ ga_session_id: 2n })], false);
  ctx.apply([web({ ga_session_id: 1n, event_timestamp: T + 1n })], false); // 1 is now the newest
  ctx.apply([web({ ga_session_id: 3n })], false); // evicts 2
  assert.equal(ctx.size, 2);
  const [s1, s2, s3] = [1n, 2n, 3n].map((id) => server({ ga_session_id: id }));
  ctx.apply([s1!, s2!, s3!], true);
  assert.deepEqual(
    [s1!.device_category, s2!.device_category, s3!.device_category],
    ['mobile', null, 'mobile'],
  );
});

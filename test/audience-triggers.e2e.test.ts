// Audience event triggers end to end (worked example E12; docs/audiences.md §2.7): the
// server's trigger logger stores `eventTrigger` events for joins (and renewals), once, with the
// qualifying event's metadata, only for qualifications at or after createTime; a restart replays
// nothing; the trigger events never count in audience conditions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, storedEvents, type TestProperty } from './helpers/property.ts';
import { E12 } from '../src/audience/fixtures/examples.ts';
import { createExportAndWait } from './helpers/exports.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ENV = { AUDEX_TRIGGER_INTERVAL_MS: '150' };

function rfc3339ToMicros(s: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(s);
  assert.ok(m, s);
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(frac);
}

async function passes(server: RunningServer): Promise<number> {
  const r = await api(server, 'GET', '/audex/v1/metrics');
  return r.json.audienceTriggers.passes as number;
}

/** Waits until the trigger logger has completed `n` more passes. */
async function morePasses(server: RunningServer, n = 3): Promise<void> {
  const start = await passes(server);
  for (let i = 0; i < 400; i++) {
    if ((await passes(server)) >= start + n) return;
    await sleep(50);
  }
  assert.fail(`the trigger logger did not complete ${n} passes:\n${server.output()}`);
}

async function triggerEvents(server: RunningServer, p: TestProperty): Promise<any[]> {
  return (await storedEvents(server, p)).filter((e) => e.source === 'audience_trigger');
}

async function exportMembers(server: RunningServer, p: TestProperty, audience: string): Promise<string[]> {
  const e = await createExportAndWait(server, p.property, audience, ['deviceId']);
  const q = await api(server, 'POST', `/v1beta/${e.name}:query`, { limit: '1000' });
  return ((q.json.audienceRows ?? []) as any[]).map((r) => r.dimensionValues[0].value as string).sort();
}

describe('audience event triggers (E12)', () => {
  let server: RunningServer;
  let p: TestProperty;
  /** E12 as given (AUDIENCE_JOINED), its AUDIENCE_MEMBERSHIP_RENEWED twin, and an event counter. */
  let joined: { name: string; id: string };
  let renewed: { name: string; id: string };
  let counter: string;
  let base: bigint;

  before(async () => {
    server = await startServer({ env: ENV });
    p = await createTestProperty(server);
    const create = async (def: unknown) => {
      const r = await api(server, 'POST', `/v1alpha/${p.property}/audiences`, def);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json as { name: string; createTime: string };
    };
    const a = await create(E12);
    const b = await create({
      ...E12,
      displayName: 'High value (>100), renewals',
      eventTrigger: { eventName: 'high_value_renewed', logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED' },
    });
    // Would contain u1 (3 purchases + 2 trigger events) if trigger events counted in conditions.
    const c = await create({
      displayName: 'More than 3 events',
      description: 'x',
      membershipDurationDays: 30,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  {
                    orGroup: {
                      filterExpressions: [
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'eventCount',
                            numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '3' } },
                          },
                        },
                      ],
                    },
                  },
                ],
              },
            },
          },
        },
      ],
    });
    joined = { name: a.name, id: a.name.split('/').pop()! };
    renewed = { name: b.name, id: b.name.split('/').pop()! };
    counter = c.name;
    base = [a, b, c].map((x) => rfc3339ToMicros(x.createTime)).reduce((m, x) => (x > m ? x : m));
    while (BigInt(Date.now()) * 1000n < base + 200_000n) await sleep(20);

    // E12 shifted to just after createTime (the days do not matter: membership is 540 days).
    const purchase = (value: number, at: bigint, session: string) => ({
      name: 'purchase',
      timestamp_micros: String(at),
      params: { value, currency: 'USD', session_id: session, transaction_id: `T${at}` },
    });
    const send = async (body: unknown) => assert.equal((await sendMp(server, p, body)).status, 204);
    await send({
      client_id: 'u1',
      user_id: 'UT1',
      events: [
        purchase(60, base + 10_000n, '7'),
        purchase(50, base + 20_000n, '8'),
        purchase(30, base + 30_000n, '9'),
      ],
    });
    await send({
      client_id: 'u2',
      events: [
        purchase(120, base + 10_000n, '21'),
        {
          name: 'refund',
          timestamp_micros: String(base + 20_000n),
          params: { value: 120, currency: 'USD', session_id: '22', transaction_id: 'R1' },
        },
      ],
    });
    await send({ client_id: 'u3', events: [purchase(100, base + 10_000n, '31')] });
    // u4 qualified an hour before the audiences existed (sent now, backdated): a backfilled member.
    await send({ client_id: 'u4', events: [purchase(150, base - 3_600_000_000n, '41')] });
  });

  after(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  test('stores one trigger per join (and per renewal) with the qualifying event’s metadata', async () => {
    for (let i = 0; i < 200 && (await triggerEvents(server, p)).length < 5; i++) await sleep(50);
    await morePasses(server);
    const all = await storedEvents(server, p);
    const triggers = all.filter((e) => e.source === 'audience_trigger');
    const summary = triggers.map((e) => [e.user_pseudo_id, e.event_name, e.event_timestamp]);
    // u1: 1 join (JOINED) + join and renewal (RENEWED); u2: 1 join in each.
    assert.equal(triggers.length, 5, JSON.stringify(summary));

    const s8 = all.find(
      (e) => e.user_pseudo_id === 'u1' && e.event_name === 'purchase' && e.ga_session_id === '8',
    );
    const s9 = all.find(
      (e) => e.user_pseudo_id === 'u1' && e.event_name === 'purchase' && e.ga_session_id === '9',
    );
    assert.ok(s8 && s9);
    const u1 = triggers.filter((e) => e.user_pseudo_id === 'u1' && e.event_name === 'became_high_value');
    assert.equal(u1.length, 1, JSON.stringify(summary));
    const t = u1[0];
    assert.equal(t.event_timestamp, s8.event_timestamp);
    assert.equal(t.event_timestamp, String(base + 20_000n));
    assert.equal(t.ga_session_id, '8');
    assert.equal(t.ga_session_number, s8.ga_session_number);
    assert.equal(t.user_id, 'UT1');
    assert.equal(t.event_date, s8.event_date);
    assert.equal(t.stream_id, s8.stream_id);
    assert.deepEqual(t.event_params, {
      audience_id: { int_value: joined.id },
      audience_name: { string_value: 'High value (>100)' },
    });
    // Not the page or screen, nor the device.
    assert.equal(t.device_category, null);
    assert.deepEqual(t.items, []);

    const u1r = triggers
      .filter((e) => e.user_pseudo_id === 'u1' && e.event_name === 'high_value_renewed')
      .map((e) => [e.event_timestamp, e.ga_session_id, e.event_params.audience_id.int_value]);
    assert.deepEqual(u1r, [
      [s8.event_timestamp, '8', renewed.id],
      [s9.event_timestamp, '9', renewed.id],
    ]);

    const u2 = triggers.filter((e) => e.user_pseudo_id === 'u2').map((e) => [e.event_name, e.ga_session_id]);
    assert.deepEqual(u2.sort(), [
      ['became_high_value', '21'],
      ['high_value_renewed', '21'],
    ]);
    assert.equal(u2.length, 2);
    // u3 never qualified (100 is not > 100); u4 qualified only before createTime.
    assert.deepEqual(
      triggers.filter((e) => e.user_pseudo_id === 'u3' || e.user_pseudo_id === 'u4'),
      [],
    );
  });

  test('trigger events do not count in audience conditions', async () => {
    assert.deepEqual(await exportMembers(server, p, joined.name), ['u1', 'u2', 'u4']);
    // u1 has 3 events of its own (+2 trigger events): not in "more than 3 events".
    assert.deepEqual(await exportMembers(server, p, counter), []);
  });

  test('a restart and more events replay nothing; a later renewal is logged once', async () => {
    const before = (await triggerEvents(server, p)).map((e) => e.ingest_seq).sort();
    assert.equal(await server.stop(), 0);
    server = await startServer({ env: ENV, dataDir: server.dataDir });
    await morePasses(server);
    const now = BigInt(Date.now()) * 1000n;
    // Unrelated events for the members, and a purchase by u1 that is a renewal (not a join).
    await sendMp(server, p, {
      client_id: 'u1',
      user_id: 'UT1',
      events: [
        { name: 'page_view', timestamp_micros: String(now), params: { session_id: '10' } },
        {
          name: 'purchase',
          timestamp_micros: String(now + 1000n),
          params: { value: 5, currency: 'USD', session_id: '10', transaction_id: 'T-late' },
        },
      ],
    });
    await sendMp(server, p, {
      client_id: 'u2',
      events: [{ name: 'page_view', timestamp_micros: String(now), params: { session_id: '23' } }],
    });
    await sendMp(server, p, {
      client_id: 'u5',
      events: [{ name: 'page_view', timestamp_micros: String(now), params: { session_id: '51' } }],
    });
    for (let i = 0; i < 200 && (await triggerEvents(server, p)).length < 6; i++) await sleep(50);
    await morePasses(server);
    const after = await triggerEvents(server, p);
    assert.deepEqual(
      after.map((e) => e.ingest_seq).filter((s) => !before.includes(s)).length,
      1,
      JSON.stringify(after.map((e) => [e.user_pseudo_id, e.event_name, e.event_timestamp])),
    );
    const added = after.find((e) => !before.includes(e.ingest_seq));
    assert.equal(added.event_name, 'high_value_renewed');
    assert.equal(added.user_pseudo_id, 'u1');
    assert.equal(added.event_timestamp, String(now + 1000n));
    assert.equal(added.ga_session_id, '10');
    assert.equal(after.filter((e) => e.event_name === 'became_high_value').length, 2);
  });

  test('clearing a trigger stops it for later events', async () => {
    const r = await api(server, 'PATCH', `/v1alpha/${renewed.name}?updateMask=event_trigger`, {});
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.eventTrigger, undefined);
    await morePasses(server, 2);
    const beforeCount = (await triggerEvents(server, p)).length;
    const now = BigInt(Date.now()) * 1000n;
    await sendMp(server, p, {
      client_id: 'u1',
      events: [
        {
          name: 'purchase',
          timestamp_micros: String(now),
          params: { value: 5, currency: 'USD', session_id: '11', transaction_id: 'T-later' },
        },
      ],
    });
    await morePasses(server);
    assert.equal((await triggerEvents(server, p)).length, beforeCount);
  });
});

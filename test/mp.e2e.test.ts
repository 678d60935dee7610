// Measurement Protocol collection against a running server: stored fields, debug validation,
// hostile input, and durability across SIGKILL. Everything runs twice: with DuckDB's collection
// workers (parse, validate and encode in worker threads; src/storage/duckdb/mp-workers.ts) and
// with the work on the main thread (AUDEX_COLLECT_WORKERS=0).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, storedEvents, type TestProperty } from './helpers/property.ts';
import { createExportAndWait } from './helpers/exports.ts';

/** A gtag.js hit (GET /g/collect); 2xx whatever happens. */
async function sendGtag(
  server: { url: string },
  measurementId: string,
  cid: string,
  en: string,
): Promise<number> {
  const qs = new URLSearchParams({ v: '2', tid: measurementId, cid, en });
  const res = await fetch(`${server.url}/g/collect?${qs}`);
  await res.arrayBuffer();
  return res.status;
}

async function collectMetrics(server: {
  url: string;
}): Promise<{ eventsStored: number; dropped: Record<string, number> }> {
  const m = (await api(server, 'GET', '/audex/v1/metrics')).json.collect;
  return { eventsStored: m.eventsStored, dropped: m.requestsDropped };
}

const PATHS = [
  { name: 'collection workers', env: { AUDEX_COLLECT_WORKERS: '1' } },
  { name: 'main thread', env: { AUDEX_COLLECT_WORKERS: '0' } },
];

for (const path of PATHS) {
  describe(`Measurement Protocol (${path.name})`, () => {
    let server: RunningServer;
    let p: TestProperty;
    before(async () => {
      server = await startServer({ env: path.env });
      p = await createTestProperty(server, 'Europe/Berlin');
    });
    after(async () => {
      await server.stop();
      removeDir(server.dataDir);
    });

    test('stores events with the right fields', async () => {
      const ts = BigInt(Date.now() - 3_600_000) * 1000n;
      const res = await sendMp(server, p, {
        client_id: '123.456',
        user_id: 'user-1',
        timestamp_micros: ts.toString(),
        consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' },
        user_properties: { plan: { value: 'pro' }, seats: { value: 3 } },
        user_location: {
          country_id: 'DE',
          city: 'Berlin',
          region_id: 'DE-BE',
          continent_id: '150',
          subcontinent_id: '155',
        },
        device: { category: 'desktop', language: 'de', operating_system: 'Linux', browser: 'Firefox' },
        events: [
          {
            name: 'purchase',
            params: {
              session_id: '1700000000',
              engagement_time_msec: 120,
              value: 42.5,
              currency: 'EUR',
              transaction_id: 'T1',
              coupon: 'X',
            },
          },
          {
            name: 'page_view',
            params: { session_id: '1700000000', page_location: 'https://shop.example/p/1?q=1', count: 7 },
          },
        ],
      });
      assert.equal(res.status, 204);
      const events = await storedEvents(server, p, '123.456');
      assert.equal(events.length, 2);
      // The path under test is the one that ran (the workers encode DuckDB appender rows: the
      // ClickHouse engine, AUDEX_TEST_EVENTS=clickhouse, takes the main-thread path either way).
      const m = (await api(server, 'GET', '/audex/v1/metrics')).json.collect;
      const offThread =
        path.env.AUDEX_COLLECT_WORKERS !== '0' && process.env.AUDEX_TEST_EVENTS !== 'clickhouse';
      assert.equal(m.eventsEncodedOffThread, offThread ? 2 : 0);
      const purchase = events.find((e) => e.event_name === 'purchase');
      assert.equal(purchase.user_pseudo_id, '123.456');
      assert.equal(purchase.user_id, 'user-1');
      assert.equal(purchase.event_timestamp, ts.toString());
      assert.equal(purchase.ga_session_id, '1700000000');
      assert.equal(purchase.property_id, String(p.propertyId));
      assert.ok(Number(purchase.received_at) >= Number(ts));
      assert.equal(purchase.event_date.length, 8);
      assert.deepEqual(purchase.event_params.value, { double_value: 42.5 });
      assert.deepEqual(purchase.event_params.engagement_time_msec, { int_value: '120' });
      assert.deepEqual(purchase.event_params.currency, { string_value: 'EUR' });
      assert.equal(purchase.event_params.session_id, undefined, 'session_id moves to ga_session_id');
      assert.equal(purchase.ecommerce_purchase_revenue, 42.5);
      assert.equal(purchase.ecommerce_transaction_id, 'T1');
      assert.equal(purchase.consent_ad_personalization, 'DENIED');
      assert.equal(purchase.consent_ad_user_data, 'GRANTED');
      assert.deepEqual(purchase.user_properties.plan.value, { string_value: 'pro' });
      assert.deepEqual(purchase.user_properties.seats.value, { int_value: '3' });
      assert.equal(purchase.geo_country_id, 'DE');
      assert.equal(purchase.geo_city, 'Berlin');
      assert.equal(purchase.device_category, 'desktop');
      assert.equal(purchase.device_language, 'de');
      const view = events.find((e) => e.event_name === 'page_view');
      assert.deepEqual(view.event_params.count, { int_value: '7' });
      assert.deepEqual(view.event_params.page_location, { string_value: 'https://shop.example/p/1?q=1' });
    });

    test('events without session_id are sessionised by the 30-minute rule', async () => {
      const base = Date.now() - 2 * 3_600_000;
      const at = (min: number) => String(BigInt(base + min * 60_000) * 1000n);
      for (const m of [0, 10, 45]) {
        assert.equal(
          (
            await sendMp(server, p, {
              client_id: 'sess.1',
              events: [{ name: 'tick', params: { timestamp_micros: at(m) } }],
            })
          ).status,
          204,
        );
      }
      const events = (await storedEvents(server, p, 'sess.1')).sort(
        (a, b) => Number(a.event_timestamp) - Number(b.event_timestamp),
      );
      assert.equal(events.length, 3);
      assert.equal(events[0].ga_session_id, events[1].ga_session_id);
      assert.notEqual(events[1].ga_session_id, events[2].ga_session_id);
      assert.equal(events[2].ga_session_number, events[1].ga_session_number + 1);
    });

    test('debug endpoint validates and stores nothing', async () => {
      const before = (await storedEvents(server, p)).length;
      const ok = await sendMp(server, p, { client_id: 'dbg.1', events: [{ name: 'fine' }] }, { debug: true });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json, { validationMessages: [] });
      const cases: [unknown, string, string][] = [
        [{ events: [{ name: 'x' }] }, 'client_id', 'VALUE_REQUIRED'],
        [{ client_id: '1.2', events: [] }, 'events', 'VALUE_REQUIRED'],
        [
          { client_id: '1.2', events: Array.from({ length: 26 }, () => ({ name: 'e' })) },
          'events',
          'EXCEEDED_MAX_ENTITIES',
        ],
        [{ client_id: '1.2', events: [{ name: '_bad' }] }, 'events', 'NAME_INVALID'],
        [{ client_id: '1.2', events: [{ name: 'session_start' }] }, 'events', 'NAME_RESERVED'],
        [
          { client_id: '1.2', events: [{ name: 'e', params: { ga_x: 1 } }] },
          'events[0].params',
          'NAME_RESERVED',
        ],
        [
          { client_id: '1.2', events: [{ name: 'e', params: { p: 'x'.repeat(101) } }] },
          'events[0].params.p',
          'VALUE_OUT_OF_BOUNDS',
        ],
        [
          {
            client_id: '1.2',
            events: [
              { name: 'e', params: Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`p${i}`, 1])) },
            ],
          },
          'events[0].params',
          'EXCEEDED_MAX_ENTITIES',
        ],
        [
          { client_id: '1.2', events: [{ name: 'e', params: { session_id: 'abc' } }] },
          'events[0].params.session_id',
          'VALUE_INVALID',
        ],
        [
          { client_id: '1.2', user_properties: { first_open_time: { value: 1 } }, events: [{ name: 'e' }] },
          'user_properties',
          'NAME_RESERVED',
        ],
      ];
      for (const [body, field, code] of cases) {
        const res = await sendMp(server, p, body, { debug: true });
        assert.equal(res.status, 200);
        assert.ok(
          res.json.validationMessages.some(
            (m: any) => m.validationCode === code && String(m.fieldPath).startsWith(field),
          ),
          `${JSON.stringify(body).slice(0, 80)} -> ${JSON.stringify(res.json.validationMessages)}`,
        );
      }
      const bad = await sendMp(server, p, '{not json', { debug: true });
      assert.equal(bad.json.validationMessages[0].validationCode, 'VALUE_INVALID');
      const big = await sendMp(
        server,
        p,
        JSON.stringify({ client_id: '1.2', events: [{ name: 'e', params: { p: 'x'.repeat(140_000) } }] }),
        { debug: true },
      );
      assert.equal(big.json.validationMessages[0].validationCode, 'VALUE_OUT_OF_BOUNDS');
      assert.equal((await storedEvents(server, p)).length, before, 'debug stores nothing');
    });

    test('hostile input: 2xx, the server stays up, nothing invalid is stored', async () => {
      const before = (await storedEvents(server, p)).length;
      // Built as text: deeper than JSON.stringify can go, still under the 130 kB limit.
      const deepText = `{"client_id":"h.1","events":[{"name":"e","params":{"deep":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}}]}`;
      const deep = { a: { b: { c: { d: 1 } } } };
      const hostile: [unknown, { secret?: string; measurementId?: string }][] = [
        ['x'.repeat(200_000), {}],
        ['{not json', {}],
        [{ client_id: 'h.1', events: [{ name: 'ok' }] }, { measurementId: 'G-UNKNOWN000' }],
        [{ client_id: 'h.1', events: [{ name: 'ok' }] }, { secret: 'wrong' }],
        [{ client_id: 'h.1', events: Array.from({ length: 26 }, () => ({ name: 'e' })) }, {}],
        [{ client_id: 'h.1', events: [{ name: 'first_visit' }] }, {}],
        [{ client_id: 'h.1', events: [{ name: 'e', params: { deep } }] }, {}],
        [deepText, {}],
        [deepText.slice(0, 50_000), {}],
        [{ client_id: 'h.1', events: [{ name: 'x'.repeat(41) }] }, {}],
        [
          {
            client_id: 'h.1',
            events: [{ name: 'e', params: { __proto__: { polluted: 1 }, constructor: 'x' } }],
          },
          {},
        ],
        [[1, 2, 3], {}],
        [null, {}],
      ];
      for (const [body, opts] of hostile) {
        const res = await sendMp(server, p, body, opts);
        assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}`);
      }
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      const stored = (await storedEvents(server, p)).filter((e) => e.user_pseudo_id === 'h.1');
      for (const e of stored) {
        assert.ok(!['first_visit', 'ok'].includes(e.event_name) || e.event_name !== 'first_visit');
        assert.match(e.event_name, /^[A-Za-z][A-Za-z0-9_]{0,39}$/);
      }
      assert.ok(!stored.some((e) => e.event_name === 'first_visit' || e.event_name === 'ok'));
      assert.equal(({} as any).polluted, undefined);
      assert.ok((await storedEvents(server, p)).length >= before);
    });

    test('a secret created just now is honoured by the very next hit', async () => {
      // Warm the stream lookup with the existing secret, then create a second one and use it at once.
      assert.equal((await sendMp(server, p, { client_id: 'sec.1', events: [{ name: 'warm' }] })).status, 204);
      const created = (
        await api(server, 'POST', `/v1beta/${p.stream}/measurementProtocolSecrets`, { displayName: 'new' })
      ).json;
      const res = await sendMp(
        server,
        p,
        { client_id: 'sec.1', events: [{ name: 'with_new_secret' }] },
        { secret: created.secretValue },
      );
      assert.equal(res.status, 204);
      const names = (await storedEvents(server, p, 'sec.1')).map((e) => e.event_name).sort();
      assert.deepEqual(names, ['warm', 'with_new_secret']);
    });

    test('a secret deleted just now is refused by the very next hit', async () => {
      const created = (
        await api(server, 'POST', `/v1beta/${p.stream}/measurementProtocolSecrets`, { displayName: 'doomed' })
      ).json;
      const secret = created.secretValue as string;
      const hit = (name: string) => sendMp(server, p, { client_id: 'sec.2', events: [{ name }] }, { secret });
      assert.equal((await hit('before_delete')).status, 204);
      assert.equal((await api(server, 'DELETE', `/v1beta/${created.name}`)).status, 200);
      assert.equal((await hit('after_delete')).status, 204, 'still 2xx, as Google answers');
      const names = (await storedEvents(server, p, 'sec.2')).map((e) => e.event_name);
      assert.deepEqual(names, ['before_delete']);
      // The stream's other secret still works.
      assert.equal(
        (await sendMp(server, p, { client_id: 'sec.2', events: [{ name: 'old_secret' }] })).status,
        204,
      );
      assert.equal((await storedEvents(server, p, 'sec.2')).length, 2);
    });

    test('deleting a stream or a property stops its collection (MP and gtag) at once', async () => {
      // A stream of its own in this property: delete it and keep the property.
      const stream = (
        await api(server, 'POST', `/v1beta/${p.property}/dataStreams`, {
          type: 'WEB_DATA_STREAM',
          displayName: 'short-lived',
        })
      ).json;
      const secret = (
        await api(server, 'POST', `/v1beta/${stream.name}/measurementProtocolSecrets`, { displayName: 's' })
      ).json.secretValue as string;
      const mid = stream.webStreamData.measurementId as string;
      const mp = (name: string) =>
        sendMp(server, p, { client_id: 'del.1', events: [{ name }] }, { measurementId: mid, secret });
      assert.equal((await mp('mp_before')).status, 204);
      assert.equal(await sendGtag(server, mid, 'del.1', 'gtag_before'), 204);
      assert.equal((await api(server, 'DELETE', `/v1beta/${stream.name}`)).status, 200);
      assert.equal((await mp('mp_after')).status, 204);
      assert.equal(await sendGtag(server, mid, 'del.1', 'gtag_after'), 204);
      const names = (await storedEvents(server, p, 'del.1')).map((e) => e.event_name).sort();
      assert.deepEqual(names, ['gtag_before', 'mp_before']);

      // A whole property: its events can no longer be listed, so count through the metrics.
      const q = await createTestProperty(server);
      assert.equal((await sendMp(server, q, { client_id: 'del.2', events: [{ name: 'e' }] })).status, 204);
      assert.equal(await sendGtag(server, q.measurementId, 'del.2', 'e'), 204);
      assert.equal((await api(server, 'DELETE', `/v1beta/${q.property}`)).status, 200);
      const before = await collectMetrics(server);
      assert.equal((await sendMp(server, q, { client_id: 'del.2', events: [{ name: 'e' }] })).status, 204);
      assert.equal(await sendGtag(server, q.measurementId, 'del.2', 'e'), 204);
      const after = await collectMetrics(server);
      assert.equal(after.eventsStored, before.eventsStored, 'nothing stored for a deleted property');
      assert.equal(
        (after.dropped.unknown_measurement_id ?? 0) - (before.dropped.unknown_measurement_id ?? 0),
        2,
      );
    });

    test('device fields are derived from MP user_agent and the gtag User-Agent; explicit ones win', async () => {
      const iphone =
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
      const pixel =
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36';
      assert.equal(
        (await sendMp(server, p, { client_id: 'ua.1', user_agent: iphone, events: [{ name: 'ua_test' }] }))
          .status,
        204,
      );
      assert.equal(
        (
          await sendMp(server, p, {
            client_id: 'ua.2',
            user_agent: iphone,
            device: { category: 'tablet', language: 'fr', operating_system: 'iPadOS' },
            events: [{ name: 'ua_test' }],
          })
        ).status,
        204,
      );
      const qs = new URLSearchParams({
        v: '2',
        tid: p.measurementId,
        cid: 'ua.3',
        en: 'ua_test',
        ul: 'en-gb',
      });
      const hit = await fetch(`${server.url}/g/collect?${qs}`, { headers: { 'user-agent': pixel } });
      assert.equal(hit.status, 204);
      await hit.arrayBuffer();

      const device = async (cid: string): Promise<unknown[]> => {
        const [e] = await storedEvents(server, p, cid);
        return [
          e.device_category,
          e.device_operating_system,
          e.device_operating_system_version,
          e.device_browser,
          e.device_browser_version,
          e.device_mobile_brand_name,
          e.device_mobile_model_name,
          e.device_language,
        ];
      };
      assert.deepEqual(await device('ua.1'), [
        'mobile',
        'iOS',
        '17.1.2',
        'Safari',
        '17.1',
        'Apple',
        'iPhone',
        null,
      ]);
      // The explicit category, language and OS win; the OS version is not taken from another OS.
      assert.deepEqual(await device('ua.2'), [
        'tablet',
        'iPadOS',
        null,
        'Safari',
        '17.1',
        'Apple',
        'iPhone',
        'fr',
      ]);
      assert.deepEqual(await device('ua.3'), [
        'mobile',
        'Android',
        '14',
        'Chrome',
        '131.0.6778.81',
        'Google',
        'Pixel 8',
        'en-gb',
      ]);

      const debug = await sendMp(
        server,
        p,
        { client_id: 'ua.4', user_agent: 7, events: [{ name: 'e' }] },
        { debug: true },
      );
      assert.deepEqual(debug.json.validationMessages, [
        {
          fieldPath: 'user_agent',
          description: 'Measurement user_agent must be a string.',
          validationCode: 'VALUE_INVALID',
        },
      ]);
    });

    test('the body limit is 130,000 bytes: 129,999 stored, 130,000 dropped (and reported by debug)', async () => {
      // A valid body padded (with an unknown top-level key) to an exact byte size.
      const sized = (clientId: string, bytes: number) => {
        const base = JSON.stringify({ client_id: clientId, events: [{ name: 'sized' }], pad: '' });
        const text = base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - Buffer.byteLength(base))}"`);
        assert.equal(Buffer.byteLength(text), bytes);
        return text;
      };
      assert.equal((await sendMp(server, p, sized('size.ok', 129_999))).status, 204);
      assert.equal((await sendMp(server, p, sized('size.big', 130_000))).status, 204);
      assert.equal((await storedEvents(server, p, 'size.ok')).length, 1);
      assert.equal((await storedEvents(server, p, 'size.big')).length, 0);
      const ok = await sendMp(server, p, sized('size.ok', 129_999), { debug: true });
      assert.deepEqual(ok.json, { validationMessages: [] });
      const big = await sendMp(server, p, sized('size.big', 130_000), { debug: true });
      assert.deepEqual(big.json, {
        validationMessages: [
          {
            fieldPath: '',
            description: 'Post body must be smaller than 130kB.',
            validationCode: 'VALUE_OUT_OF_BOUNDS',
          },
        ],
      });
    });

    test('an MP event with the session_id of a gtag session takes its device: a mobile purchaser', async () => {
      const iphone =
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
      // Two phones browse (gtag.js, sessions 1700000101 and 1700000102), then a server sends each
      // one's purchase over MP: m1's with its session_id, m2's without.
      for (const [cid, sid] of [
        ['m1', '1700000101'],
        ['m2', '1700000102'],
      ]) {
        const qs = new URLSearchParams({
          v: '2',
          tid: p.measurementId,
          cid: cid!,
          sid: sid!,
          en: 'page_view',
        });
        const res = await fetch(`${server.url}/g/collect?${qs}`, { headers: { 'user-agent': iphone } });
        await res.arrayBuffer();
        assert.equal(res.status, 204);
      }
      for (const [cid, params] of [
        ['m1', { session_id: '1700000101', value: 20, currency: 'EUR' }],
        ['m2', { value: 20, currency: 'EUR' }],
      ] as const) {
        const r = await sendMp(server, p, { client_id: cid, events: [{ name: 'purchase', params }] });
        assert.equal(r.status, 204);
      }
      const purchase = async (user: string) =>
        (await storedEvents(server, p, user)).find((e) => e.event_name === 'purchase');
      const m1 = await purchase('m1');
      assert.equal(m1.device_category, 'mobile');
      assert.equal(m1.device_operating_system, 'iOS');
      assert.equal((await purchase('m2')).device_category, null);

      // "Mobile purchasers": a purchase, and the device category at the latest event is mobile.
      const audience = await api(server, 'POST', `/v1alpha/${p.property}/audiences`, {
        displayName: 'Mobile purchasers',
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
                    { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
                    {
                      orGroup: {
                        filterExpressions: [
                          {
                            dimensionOrMetricFilter: {
                              fieldName: 'deviceCategory',
                              stringFilter: { matchType: 'EXACT', value: 'mobile' },
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
      assert.equal(audience.status, 200, JSON.stringify(audience.json));
      const exp = await createExportAndWait(server, p.property, audience.json.name, ['deviceId']);
      const rows = (await api(server, 'POST', `/v1beta/${exp.name}:query`, {})).json.audienceRows ?? [];
      assert.deepEqual(
        rows.map((r: any) => r.dimensionValues[0].value),
        ['m1'],
      );
    });
  });

  describe(`durability (${path.name})`, () => {
    test('every acknowledged event survives SIGKILL right after the 2xx', async () => {
      let server = await startServer({ env: path.env });
      const p = await createTestProperty(server);
      const n = 40;
      const sends = Array.from({ length: n }, (_, i) =>
        sendMp(server, p, {
          client_id: `dur.${i}`,
          events: Array.from({ length: 25 }, (_, j) => ({ name: 'e', params: { j } })),
        }),
      );
      const results = await Promise.all(sends);
      assert.ok(results.every((r) => r.status === 204));
      await server.kill();
      server = await startServer({ dataDir: server.dataDir, env: path.env });
      try {
        const events = await storedEvents(server, p);
        assert.equal(events.length, n * 25);
      } finally {
        await server.stop();
        removeDir(server.dataDir);
      }
    });
  });
}

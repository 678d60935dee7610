import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateMeasurement, validateMeasurementBody, type MeasurementContext } from './validate.ts';
import { toEvents } from './to-events.ts';
import { encodeParams } from '../../domain/event.ts';
import { MAX_BODY_BYTES, type ValidationMessage } from '../common.ts';

const NOW = 1_717_243_200_000_000n; // 2024-06-01T12:00:00Z
const HOUR = 3_600_000_000n;

function ctx(over: Partial<MeasurementContext> = {}): MeasurementContext {
  return {
    query: { measurement_id: 'G-TEST', api_secret: 'secret' },
    bodyBytes: 100,
    debug: true,
    nowMicros: NOW,
    ...over,
  };
}

function body(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { client_id: '123.456', events: [{ name: 'page_view', params: { page_title: 'Home' } }], ...over };
}

function ev(name: string, params: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, params };
}

function codes(ms: ValidationMessage[]): string[] {
  return ms.map((m) => `${m.fieldPath}|${m.validationCode}`);
}

describe('validateMeasurement: request level', () => {
  it('accepts a valid measurement', () => {
    const r = validateMeasurement(body(), ctx());
    assert.deepEqual(r.messages, []);
    assert.equal(r.events.length, 1);
    assert.equal(r.events[0]!.name, 'page_view');
    assert.equal(r.events[0]!.clientId, '123.456');
    assert.equal(r.events[0]!.timestampMicros, NOW);
    assert.equal(r.events[0]!.platform, 'WEB');
  });

  it('rejects a body of 130 kB (130,000 bytes) or more (boundary)', () => {
    assert.equal(MAX_BODY_BYTES, 130_000);
    const over = validateMeasurement(body(), ctx({ bodyBytes: 130_000 }));
    assert.deepEqual(over.messages, [
      {
        fieldPath: '',
        description: 'Post body must be smaller than 130kB.',
        validationCode: 'VALUE_OUT_OF_BOUNDS',
      },
    ]);
    assert.equal(over.events.length, 0);
    assert.equal(validateMeasurement(body(), ctx({ bodyBytes: 129_999 })).events.length, 1);
    // The same boundary on raw bodies: the size is counted in bytes (UTF-8), not characters.
    const sized = (bytes: number, fill = 'x') => {
      const base = JSON.stringify(body({ pad: '' }));
      const n = (bytes - Buffer.byteLength(base)) / Buffer.byteLength(fill);
      const text = base.replace('"pad":""', `"pad":"${fill.repeat(n)}"`);
      assert.equal(Buffer.byteLength(text), bytes);
      return text;
    };
    const raw = { query: { measurement_id: 'G-1', api_secret: 's' }, debug: true, nowMicros: NOW };
    assert.deepEqual(validateMeasurementBody(sized(129_999), raw).messages, []);
    assert.equal(validateMeasurementBody(sized(129_999), raw).events.length, 1);
    assert.deepEqual(codes(validateMeasurementBody(sized(130_000), raw).messages), ['|VALUE_OUT_OF_BOUNDS']);
    assert.equal(validateMeasurementBody(Buffer.from(sized(130_000)), raw).events.length, 0);
    assert.deepEqual(codes(validateMeasurementBody(sized(130_001), raw).messages), ['|VALUE_OUT_OF_BOUNDS']);
  });

  it('rejects non-object bodies', () => {
    for (const b of [null, 42, 'x', [], [body()], true]) {
      const r = validateMeasurement(b, ctx());
      assert.deepEqual(codes(r.messages), ['|VALUE_INVALID'], JSON.stringify(b));
      assert.equal(r.events.length, 0);
    }
  });

  it('requires measurement_id (or firebase_app_id) and api_secret', () => {
    const r = validateMeasurement(body(), ctx({ query: {} }));
    assert.deepEqual(r.messages, [
      {
        fieldPath: 'measurement_id',
        description: 'Unable to find non-empty parameter [measurement_id] value in request.',
        validationCode: 'VALUE_REQUIRED',
      },
      {
        fieldPath: 'api_secret',
        description: 'Unable to find non-empty parameter [api_secret] value in request.',
        validationCode: 'VALUE_REQUIRED',
      },
    ]);
    assert.equal(r.events.length, 0);
    const p = validateMeasurement(
      body(),
      ctx({ debug: false, query: { measurement_id: 'G-1', api_secret: '' } }),
    );
    assert.deepEqual(codes(p.messages), ['api_secret|VALUE_REQUIRED']);
  });

  it('requires client_id', () => {
    const r = validateMeasurement(body({ client_id: undefined }), ctx());
    assert.deepEqual(r.messages, [
      {
        fieldPath: 'client_id',
        description: 'Measurement requires a client_id.',
        validationCode: 'VALUE_REQUIRED',
      },
    ]);
    assert.equal(r.events.length, 0);
    assert.deepEqual(codes(validateMeasurement(body({ client_id: '' }), ctx()).messages), [
      'client_id|VALUE_REQUIRED',
    ]);
    assert.deepEqual(codes(validateMeasurement(body({ client_id: 123 }), ctx()).messages), [
      'client_id|VALUE_INVALID',
    ]);
    assert.deepEqual(codes(validateMeasurement(body({ client_id: 'x'.repeat(257) }), ctx()).messages), [
      'client_id|VALUE_OUT_OF_BOUNDS',
    ]);
  });

  it('app streams require a 32-hex app_instance_id and get the app platform', () => {
    const appCtx = ctx({ query: { firebase_app_id: '1:123:android:abc', api_secret: 's' } });
    assert.deepEqual(codes(validateMeasurement(body(), appCtx).messages), ['app_instance_id|VALUE_REQUIRED']);
    const bad = validateMeasurement({ app_instance_id: 'xyz', events: [ev('tap')] }, appCtx);
    assert.deepEqual(codes(bad.messages), ['app_instance_id|VALUE_INVALID']);
    const ok = validateMeasurement({ app_instance_id: 'a'.repeat(32), events: [ev('tap')] }, appCtx);
    assert.deepEqual(ok.messages, []);
    assert.equal(ok.events[0]!.platform, 'ANDROID');
    assert.equal(ok.events[0]!.clientId, 'a'.repeat(32));
    const ios = validateMeasurement(
      { app_instance_id: 'b'.repeat(32), events: [ev('tap')] },
      ctx({ query: { firebase_app_id: '1:123:ios:abc', api_secret: 's' } }),
    );
    assert.equal(ios.events[0]!.platform, 'IOS');
  });

  it('validates user_id (≤ 256 characters)', () => {
    assert.deepEqual(validateMeasurement(body({ user_id: 'u'.repeat(256) }), ctx()).messages, []);
    const r = validateMeasurement(body({ user_id: 'u'.repeat(257) }), ctx());
    assert.deepEqual(codes(r.messages), ['user_id|VALUE_OUT_OF_BOUNDS']);
    assert.equal(r.events.length, 0);
    assert.deepEqual(codes(validateMeasurement(body({ user_id: 5 }), ctx()).messages), [
      'user_id|VALUE_INVALID',
    ]);
    // characters, not UTF-16 units
    assert.deepEqual(validateMeasurement(body({ user_id: '😀'.repeat(256) }), ctx()).messages, []);
  });

  it('requires 1..25 events', () => {
    assert.deepEqual(validateMeasurement(body({ events: [] }), ctx()).messages, [
      {
        fieldPath: 'events',
        description: 'Measurement requires at least one event.',
        validationCode: 'VALUE_REQUIRED',
      },
    ]);
    assert.deepEqual(codes(validateMeasurement(body({ events: undefined }), ctx()).messages), [
      'events|VALUE_REQUIRED',
    ]);
    assert.deepEqual(codes(validateMeasurement(body({ events: { name: 'x' } }), ctx()).messages), [
      'events|VALUE_INVALID',
    ]);
    const at25 = validateMeasurement(body({ events: Array.from({ length: 25 }, () => ev('a')) }), ctx());
    assert.equal(at25.events.length, 25);
    const over = validateMeasurement(body({ events: Array.from({ length: 26 }, () => ev('a')) }), ctx());
    assert.deepEqual(over.messages, [
      {
        fieldPath: 'events',
        description: 'Measurement has [26] events, the maximum is 25.',
        validationCode: 'EXCEEDED_MAX_ENTITIES',
      },
    ]);
    assert.equal(over.events.length, 0);
  });

  it('debug reports every issue; production stops at a fatal one', () => {
    const b = body({ client_id: undefined, events: [ev('_bad'), ev('session_start')] });
    assert.deepEqual(codes(validateMeasurement(b, ctx()).messages), [
      'client_id|VALUE_REQUIRED',
      'events|NAME_INVALID',
      'events|NAME_RESERVED',
    ]);
    const prod = validateMeasurement(
      body({ events: Array.from({ length: 30 }, () => ev('_bad')) }),
      ctx({ debug: false }),
    );
    assert.deepEqual(codes(prod.messages), ['events|EXCEEDED_MAX_ENTITIES']);
  });

  it('validation_behavior must be RELAXED or ENFORCE_RECOMMENDATIONS', () => {
    assert.deepEqual(codes(validateMeasurement(body({ validation_behavior: 'STRICT' }), ctx()).messages), [
      'validation_behavior|VALUE_INVALID',
    ]);
    assert.deepEqual(validateMeasurement(body({ validation_behavior: 'RELAXED' }), ctx()).messages, []);
  });

  it('consent values are GRANTED or DENIED; a bad one is dropped', () => {
    const ok = validateMeasurement(
      body({ consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' } }),
      ctx(),
    );
    assert.deepEqual(ok.events[0]!.consent, { adUserData: 'GRANTED', adPersonalization: 'DENIED' });
    const bad = validateMeasurement(
      body({ consent: { ad_user_data: 'granted', ad_personalization: 'DENIED' } }),
      ctx(),
    );
    assert.deepEqual(codes(bad.messages), ['consent.ad_user_data|VALUE_INVALID']);
    assert.deepEqual(bad.events[0]!.consent, { adUserData: null, adPersonalization: 'DENIED' });
    assert.deepEqual(codes(validateMeasurement(body({ consent: 'GRANTED' }), ctx()).messages), [
      'consent|VALUE_INVALID',
    ]);
  });

  it('non_personalized_ads must be a boolean', () => {
    assert.equal(
      validateMeasurement(body({ non_personalized_ads: true }), ctx()).events[0]!.nonPersonalizedAds,
      true,
    );
    const r = validateMeasurement(body({ non_personalized_ads: 'yes' }), ctx());
    assert.deepEqual(codes(r.messages), ['non_personalized_ads|VALUE_INVALID']);
    assert.equal(r.events[0]!.nonPersonalizedAds, null);
  });

  it('validates user_location and device fields', () => {
    const r = validateMeasurement(
      body({
        user_location: {
          city: 'Mountain View',
          region_id: 'US-CA',
          country_id: 'US',
          subcontinent_id: '021',
          continent_id: '019',
        },
        device: {
          category: 'mobile',
          language: 'en',
          screen_resolution: '1280x2856',
          operating_system: 'Android',
          model: 'Pixel 9 Pro',
          brand: 'Google',
        },
      }),
      ctx(),
    );
    assert.deepEqual(r.messages, []);
    assert.equal(r.events[0]!.location?.regionId, 'US-CA');
    assert.equal(r.events[0]!.device?.model, 'Pixel 9 Pro');
    const bad = validateMeasurement(
      body({
        user_location: { country_id: 'usa', region_id: 'California', continent_id: '19', city: 7 },
        device: { screen_resolution: 'big', category: 'x'.repeat(101), brand: {} },
      }),
      ctx(),
    );
    assert.deepEqual(codes(bad.messages), [
      'user_location.city|VALUE_INVALID',
      'user_location.region_id|VALUE_INVALID',
      'user_location.country_id|VALUE_INVALID',
      'user_location.continent_id|VALUE_INVALID',
      'device.category|VALUE_OUT_OF_BOUNDS',
      'device.screen_resolution|VALUE_INVALID',
      'device.brand|VALUE_INVALID',
    ]);
    assert.equal(bad.events.length, 1, 'bad optional fields drop the field, not the request');
    assert.deepEqual(codes(validateMeasurement(body({ user_location: [] }), ctx()).messages), [
      'user_location|VALUE_INVALID',
    ]);
    assert.deepEqual(codes(validateMeasurement(body({ device: 'x' }), ctx()).messages), [
      'device|VALUE_INVALID',
    ]);
  });
});

describe('validateMeasurement: events', () => {
  it('event names: letter first, alnum + underscore, ≤ 40', () => {
    const r = validateMeasurement(
      body({
        events: [ev('_badEventName'), ev('bad-name'), ev('a'.repeat(41)), ev('a'.repeat(40)), ev('ok_1')],
      }),
      ctx(),
    );
    assert.deepEqual(r.messages, [
      {
        fieldPath: 'events',
        description:
          'Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic character.',
        validationCode: 'NAME_INVALID',
      },
      {
        fieldPath: 'events',
        description:
          'Event at index: [1] has invalid name [bad-name]. Names must only contain alphanumeric characters and underscores.',
        validationCode: 'NAME_INVALID',
      },
      {
        fieldPath: 'events',
        description: `Event at index: [2] has invalid name [${'a'.repeat(41)}]. Names must be 40 characters or fewer.`,
        validationCode: 'NAME_INVALID',
      },
    ]);
    assert.deepEqual(
      r.events.map((e) => e.name),
      ['a'.repeat(40), 'ok_1'],
      'RELAXED drops only the bad events',
    );
  });

  it('missing, non-string and non-object events', () => {
    const r = validateMeasurement(
      body({ events: [{}, { name: 5 }, 'page_view', null, { name: 'ok', params: [] }] }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[0].name|VALUE_REQUIRED',
      'events[1].name|VALUE_INVALID',
      'events[2]|VALUE_INVALID',
      'events[3]|VALUE_INVALID',
      'events[4].params|VALUE_INVALID',
    ]);
    assert.equal(r.events.length, 0);
  });

  it('reserved event names (web list; app-only names only for app streams)', () => {
    const r = validateMeasurement(
      body({ events: [ev('session_start'), ev('first_visit'), ev('screen_view'), ev('ad_impression')] }),
      ctx(),
    );
    assert.deepEqual(r.messages[0], {
      fieldPath: 'events',
      description: 'Event at index: [0] has name [session_start] which is reserved.',
      validationCode: 'NAME_RESERVED',
    });
    assert.deepEqual(codes(r.messages), ['events|NAME_RESERVED', 'events|NAME_RESERVED']);
    assert.deepEqual(
      r.events.map((e) => e.name),
      ['screen_view', 'ad_impression'],
    );
    const app = validateMeasurement(
      { app_instance_id: 'c'.repeat(32), events: [ev('screen_view'), ev('in_app_purchase')] },
      ctx({ query: { firebase_app_id: '1:1:android:1', api_secret: 's' } }),
    );
    assert.deepEqual(codes(app.messages), ['events|NAME_RESERVED', 'events|NAME_RESERVED']);
  });

  it('at most 25 params; RELAXED keeps the first 25', () => {
    const p25 = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`p${i}`, i]));
    assert.deepEqual(validateMeasurement(body({ events: [ev('e', p25)] }), ctx()).messages, []);
    const p26 = { ...p25, p25: 25, items: [{ item_id: 'x' }] };
    const r = validateMeasurement(body({ events: [ev('e', p26)] }), ctx());
    assert.deepEqual(r.messages, [
      {
        fieldPath: 'events[0].params',
        description: 'Event at index: [0] has [26] params, the maximum is 25.',
        validationCode: 'EXCEEDED_MAX_ENTITIES',
      },
    ]);
    assert.equal(Object.keys(r.events[0]!.params).length, 25);
    assert.equal(r.events[0]!.params['p25'], undefined);
    assert.equal(r.events[0]!.items.length, 1, 'items do not count as a param');
  });

  it('param names: rules and reserved names/prefixes; session_id exempt', () => {
    const r = validateMeasurement(
      body({
        events: [
          ev('e', {
            '1bad': 1,
            'bad-name': 1,
            ['p'.repeat(41)]: 1,
            firebase_conversion: 1,
            _private: 1,
            ga_thing: 1,
            google_x: 1,
            firebase_x: 1,
            'gtag.x': 1,
            session_id: '123',
            ok: 1,
          }),
        ],
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[0].params|NAME_INVALID',
      'events[0].params|NAME_INVALID',
      'events[0].params|NAME_INVALID',
      'events[0].params|NAME_RESERVED',
      'events[0].params|NAME_INVALID', // _private: the name rule is checked first, as in Google's example
      'events[0].params|NAME_RESERVED',
      'events[0].params|NAME_RESERVED',
      'events[0].params|NAME_RESERVED',
      'events[0].params|NAME_INVALID', // gtag.x: '.' is not allowed
    ]);
    assert.equal(
      r.messages[0]!.description,
      'Event param [1bad] at index [0] has invalid name. Names must start with an alphabetic character.',
    );
    assert.equal(r.messages[3]!.description, 'Event param [firebase_conversion] at index [0] is reserved.');
    assert.deepEqual(r.events[0]!.params, { ok: { int_value: 1n } });
    assert.equal(r.events[0]!.sessionId, 123n);
  });

  it('param value lengths: 100, page_title 300, page_referrer 420, page_location 1000', () => {
    const at = {
      a: 'x'.repeat(100),
      page_title: 'x'.repeat(300),
      page_referrer: 'x'.repeat(420),
      page_location: 'x'.repeat(1000),
    };
    assert.deepEqual(validateMeasurement(body({ events: [ev('e', at)] }), ctx()).messages, []);
    const over = {
      a: 'x'.repeat(101),
      page_title: 'x'.repeat(301),
      page_referrer: 'x'.repeat(421),
      page_location: 'x'.repeat(1001),
      b: 'ok',
    };
    const r = validateMeasurement(body({ events: [ev('e', over)] }), ctx());
    assert.deepEqual(r.messages, [
      {
        fieldPath: 'events[0].params.a',
        description: 'Event param [a] has value with length [101], the maximum is 100.',
        validationCode: 'VALUE_OUT_OF_BOUNDS',
      },
      {
        fieldPath: 'events[0].params.page_title',
        description: 'Event param [page_title] has value with length [301], the maximum is 300.',
        validationCode: 'VALUE_OUT_OF_BOUNDS',
      },
      {
        fieldPath: 'events[0].params.page_referrer',
        description: 'Event param [page_referrer] has value with length [421], the maximum is 420.',
        validationCode: 'VALUE_OUT_OF_BOUNDS',
      },
      {
        fieldPath: 'events[0].params.page_location',
        description: 'Event param [page_location] has value with length [1001], the maximum is 1000.',
        validationCode: 'VALUE_OUT_OF_BOUNDS',
      },
    ]);
    assert.deepEqual(
      r.events[0]!.params,
      { b: { string_value: 'ok' } },
      'RELAXED drops over-limit params silently',
    );
  });

  it('typed params; booleans become strings; nested values are rejected', () => {
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 1000; i++) {
      const next = {};
      cur['x'] = next;
      cur = next;
    }
    const r = validateMeasurement(
      body({
        events: [
          ev('e', {
            s: 'txt',
            i: 42,
            neg: -7,
            d: 1.5,
            big: 2 ** 60,
            b: true,
            f: false,
            n: null,
            arr: [1],
            obj: { a: 1 },
            deep,
          }),
        ],
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[0].params.n|VALUE_INVALID',
      'events[0].params.arr|VALUE_INVALID',
      'events[0].params.obj|VALUE_INVALID',
      'events[0].params.deep|VALUE_INVALID',
    ]);
    assert.deepEqual(r.events[0]!.params, {
      s: { string_value: 'txt' },
      i: { int_value: 42n },
      neg: { int_value: -7n },
      d: { double_value: 1.5 },
      big: { double_value: 2 ** 60 },
      b: { string_value: 'true' },
      f: { string_value: 'false' },
    });
  });

  it('prototype-pollution keys are handled safely', () => {
    const params = JSON.parse(
      '{"__proto__": {"polluted": 1}, "constructor": "c", "toString": "t", "hasOwnProperty": 1}',
    );
    const up = JSON.parse('{"__proto__": {"value": "x"}, "constructor": {"value": "y"}}');
    const r = validateMeasurement(body({ events: [ev('e', params)], user_properties: up }), ctx());
    assert.deepEqual(codes(r.messages), [
      'user_properties.__proto__|NAME_INVALID',
      'events[0].params|NAME_INVALID',
    ]);
    const p = r.events[0]!.params;
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    assert.deepEqual(Object.keys(p), ['constructor', 'toString', 'hasOwnProperty']);
    assert.deepEqual(p['constructor'], { string_value: 'c' });
    assert.deepEqual(r.events[0]!.userProperties['constructor'], {
      value: { string_value: 'y' },
      timestampMicros: null,
    });
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('session_id must be digits; session_id vs ga_session_id conflicts are NAME_DUPLICATED', () => {
    const r = validateMeasurement(
      body({
        events: [
          ev('a', { session_id: '12a' }),
          ev('b', { session_id: 1.5 }),
          ev('c', { session_id: 1717000000 }),
          ev('d', { ga_session_id: '99' }),
        ],
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[0].params.session_id|VALUE_INVALID',
      'events[1].params.session_id|VALUE_INVALID',
    ]);
    assert.equal(
      r.messages[0]!.description,
      'Event param [session_id] at index [0] must contain only digits.',
    );
    assert.deepEqual(
      r.events.map((e) => e.sessionId),
      [null, null, 1717000000n, 99n],
    );
    assert.ok(r.events.every((e) => !('session_id' in e.params) && !('ga_session_id' in e.params)));
    const dup = validateMeasurement(
      body({ events: [ev('a', { session_id: '1', ga_session_id: '2' })] }),
      ctx(),
    );
    assert.deepEqual(codes(dup.messages), ['events[0].params|NAME_DUPLICATED']);
    assert.deepEqual(
      validateMeasurement(body({ events: [ev('a', { session_id: '1', ga_session_id: 1 })] }), ctx()).messages,
      [],
    );
  });

  it('recommendations: currency, value, engagement_time_msec', () => {
    const r = validateMeasurement(
      body({ events: [ev('purchase', { currency: 'usd', value: '9.99', engagement_time_msec: -1 })] }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[0].params.currency|VALUE_INVALID',
      'events[0].params.value|VALUE_INVALID',
      'events[0].params.engagement_time_msec|VALUE_INVALID',
    ]);
    assert.equal(r.events.length, 1, 'RELAXED keeps recommendation violations');
    const enforce = validateMeasurement(
      body({
        validation_behavior: 'ENFORCE_RECOMMENDATIONS',
        events: [ev('purchase', { currency: 'usd', value: 9.99 })],
      }),
      ctx(),
    );
    assert.equal(enforce.events.length, 0, 'ENFORCE_RECOMMENDATIONS rejects the request');
  });

  it('ENFORCE_RECOMMENDATIONS rejects over-limit params that RELAXED drops', () => {
    const b = { events: [ev('e', { a: 'x'.repeat(101) })] };
    assert.equal(validateMeasurement(body(b), ctx({ debug: false })).events.length, 1);
    assert.equal(
      validateMeasurement(
        body({ ...b, validation_behavior: 'ENFORCE_RECOMMENDATIONS' }),
        ctx({ debug: false }),
      ).events.length,
      0,
    );
  });

  it('items: ≤ 200, item_id or item_name required, custom params ≤ 10', () => {
    const items = Array.from({ length: 200 }, (_, i) => ({ item_id: `SKU${i}`, price: 1.5, quantity: 2 }));
    const ok = validateMeasurement(body({ events: [ev('purchase', { items })] }), ctx());
    assert.deepEqual(ok.messages, []);
    assert.equal(ok.events[0]!.items.length, 200);
    const over = validateMeasurement(
      body({ events: [ev('purchase', { items: [...items, { item_id: 'x' }] })] }),
      ctx(),
    );
    assert.deepEqual(codes(over.messages), ['events[0].params.items|EXCEEDED_MAX_ENTITIES']);
    assert.equal(over.events[0]!.items.length, 200);
    const custom = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`c${i}`, i]));
    const r = validateMeasurement(
      body({
        events: [
          ev('purchase', {
            items: [
              { price: 1 },
              { item_id: 'A', quantity: 1.5, price: 'abc', ga_x: 1, ...custom },
              'str',
              { item_name: 'N', item_brand: { a: 1 } },
            ],
          }),
        ],
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[0].params.items[0]|VALUE_REQUIRED',
      'events[0].params.items[1].quantity|VALUE_INVALID',
      'events[0].params.items[1].price|VALUE_INVALID',
      'events[0].params.items[1]|NAME_RESERVED',
      'events[0].params.items[1]|EXCEEDED_MAX_ENTITIES',
      'events[0].params.items[2]|VALUE_INVALID',
      'events[0].params.items[3].item_brand|VALUE_INVALID',
    ]);
    assert.equal(r.events[0]!.items.length, 2);
    const item = r.events[0]!.items[0]!;
    assert.equal(item['item_id'], 'A');
    assert.equal(Object.keys(item['item_params'] as object).length, 10);
    assert.deepEqual((item['item_params'] as Record<string, unknown>)['c0'], { int_value: 0 });
    assert.deepEqual(
      codes(validateMeasurement(body({ events: [ev('p', { items: 'x' })] }), ctx()).messages),
      ['events[0].params.items|VALUE_INVALID'],
    );
  });
});

describe('validateMeasurement: timestamps', () => {
  it('request timestamp_micros within 72 h is used', () => {
    const ts = NOW - 71n * HOUR;
    const r = validateMeasurement(body({ timestamp_micros: Number(ts) }), ctx());
    assert.deepEqual(r.messages, []);
    assert.equal(r.events[0]!.timestampMicros, ts);
  });

  it('older than 72 h: RELAXED moves it to the 72 h mark, ENFORCE rejects', () => {
    const ts = NOW - 73n * HOUR;
    const relaxed = validateMeasurement(body({ timestamp_micros: Number(ts) }), ctx());
    assert.deepEqual(codes(relaxed.messages), ['timestamp_micros|VALUE_INVALID']);
    assert.equal(relaxed.events[0]!.timestampMicros, NOW - 72n * HOUR);
    const enforce = validateMeasurement(
      body({ timestamp_micros: Number(ts), validation_behavior: 'ENFORCE_RECOMMENDATIONS' }),
      ctx(),
    );
    assert.deepEqual(codes(enforce.messages), ['timestamp_micros|VALUE_INVALID']);
    assert.equal(enforce.events.length, 0);
    // exactly 72 h is fine
    assert.deepEqual(
      validateMeasurement(body({ timestamp_micros: Number(NOW - 72n * HOUR) }), ctx()).messages,
      [],
    );
  });

  it('future timestamps: up to 1 minute of skew is tolerated', () => {
    assert.deepEqual(
      validateMeasurement(body({ timestamp_micros: Number(NOW + 60_000_000n) }), ctx()).messages,
      [],
    );
    const r = validateMeasurement(body({ timestamp_micros: Number(NOW + 60_000_001n) }), ctx());
    assert.deepEqual(codes(r.messages), ['timestamp_micros|VALUE_INVALID']);
    assert.equal(r.events.length, 0);
  });

  it('invalid request timestamps drop the request', () => {
    for (const t of [-1, 1.5, 'abc', true, {}]) {
      const r = validateMeasurement(body({ timestamp_micros: t }), ctx());
      assert.deepEqual(codes(r.messages), ['timestamp_micros|VALUE_INVALID'], JSON.stringify(t));
      assert.equal(r.events.length, 0);
    }
    assert.equal(
      validateMeasurement(body({ timestamp_micros: String(NOW) }), ctx()).events[0]!.timestampMicros,
      NOW,
    );
  });

  it('per-event timestamp_micros (field or param) overrides the request one', () => {
    const reqTs = NOW - 2n * HOUR;
    const r = validateMeasurement(
      body({
        timestamp_micros: Number(reqTs),
        events: [
          { name: 'a', timestamp_micros: Number(NOW - HOUR) },
          ev('b', { timestamp_micros: Number(NOW - 3n * HOUR) }),
          ev('c'),
          ev('d', { timestamp_micros: Number(NOW + HOUR) }),
          ev('e', { timestamp_micros: Number(NOW - 100n * HOUR) }),
          { name: 'f', timestamp_micros: 1, params: { timestamp_micros: 2 } },
        ],
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'events[3].params.timestamp_micros|VALUE_INVALID',
      'events[4].params.timestamp_micros|VALUE_INVALID',
      'events[5].params|NAME_DUPLICATED',
      'events[5].timestamp_micros|VALUE_INVALID',
    ]);
    assert.deepEqual(
      r.events.map((e) => [e.name, e.timestampMicros]),
      [
        ['a', NOW - HOUR],
        ['b', NOW - 3n * HOUR],
        ['c', reqTs],
        ['e', NOW - 72n * HOUR],
        ['f', NOW - 72n * HOUR], // the field wins over the duplicate param
      ],
    );
    assert.ok(!('timestamp_micros' in r.events[1]!.params));
  });
});

describe('validateMeasurement: user properties', () => {
  it('valid user properties with timestamps', () => {
    const r = validateMeasurement(
      body({ user_properties: { plan: { value: 'pro' }, visits: { value: 3, timestamp_micros: 5 } } }),
      ctx(),
    );
    assert.deepEqual(r.messages, []);
    assert.deepEqual(r.events[0]!.userProperties, {
      plan: { value: { string_value: 'pro' }, timestampMicros: null },
      visits: { value: { int_value: 3n }, timestampMicros: 5n },
    });
  });

  it('names ≤ 24, values ≤ 36, reserved names and prefixes', () => {
    const r = validateMeasurement(
      body({
        user_properties: {
          ['n'.repeat(24)]: { value: 'v'.repeat(36) },
          ['n'.repeat(25)]: { value: 'x' },
          long: { value: 'v'.repeat(37) },
          user_id: { value: 'x' },
          first_open_time: { value: 1 },
          ga_x: { value: 1 },
          _x: { value: 1 },
          google_x: { value: 1 },
          firebase_x: { value: 1 },
          '9lives': { value: 1 },
        },
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      `user_properties.${'n'.repeat(25)}|NAME_INVALID`,
      'user_properties.long|VALUE_OUT_OF_BOUNDS',
      'user_properties.user_id|NAME_RESERVED',
      'user_properties.first_open_time|NAME_RESERVED',
      'user_properties.ga_x|NAME_RESERVED',
      'user_properties._x|NAME_INVALID',
      'user_properties.google_x|NAME_RESERVED',
      'user_properties.firebase_x|NAME_RESERVED',
      'user_properties.9lives|NAME_INVALID',
    ]);
    assert.equal(
      r.messages[1]!.description,
      'User property [long] has value with length [37], the maximum is 36.',
    );
    assert.deepEqual(Object.keys(r.events[0]!.userProperties), ['n'.repeat(24)]);
  });

  it('at most 25 user properties; RELAXED keeps the first 25', () => {
    const up = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`u${i}`, { value: i }]));
    const r = validateMeasurement(body({ user_properties: up }), ctx());
    assert.deepEqual(r.messages, [
      {
        fieldPath: 'user_properties',
        description: 'Measurement has [26] user properties, the maximum is 25.',
        validationCode: 'EXCEEDED_MAX_ENTITIES',
      },
    ]);
    assert.equal(Object.keys(r.events[0]!.userProperties).length, 25);
  });

  it('bad user property entries are dropped', () => {
    const r = validateMeasurement(
      body({
        user_properties: {
          a: 'x',
          b: {},
          c: { value: null },
          d: { value: [1] },
          e: { value: 1, timestamp_micros: 'x' },
          f: { value: false },
        },
      }),
      ctx(),
    );
    assert.deepEqual(codes(r.messages), [
      'user_properties.a|VALUE_INVALID',
      'user_properties.b|VALUE_REQUIRED',
      'user_properties.c|VALUE_INVALID',
      'user_properties.d|VALUE_INVALID',
      'user_properties.e.timestamp_micros|VALUE_INVALID',
    ]);
    assert.deepEqual(r.events[0]!.userProperties, {
      f: { value: { string_value: 'false' }, timestampMicros: null },
    });
    assert.deepEqual(codes(validateMeasurement(body({ user_properties: [] }), ctx()).messages), [
      'user_properties|VALUE_INVALID',
    ]);
  });
});

describe('validateMeasurementBody and fuzzing', () => {
  it('size check, unparsable JSON, deeply nested JSON', () => {
    const base = { query: { measurement_id: 'G-1', api_secret: 's' }, debug: true, nowMicros: NOW };
    assert.deepEqual(validateMeasurementBody('{"client_id":', base).messages, [
      { fieldPath: '', description: 'Unable to parse request body.', validationCode: 'VALUE_INVALID' },
    ]);
    const big = JSON.stringify(body({ pad: 'x'.repeat(MAX_BODY_BYTES) }));
    assert.deepEqual(codes(validateMeasurementBody(big, base).messages), ['|VALUE_OUT_OF_BOUNDS']);
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    assert.ok(Buffer.byteLength(deep) >= MAX_BODY_BYTES);
    assert.deepEqual(codes(validateMeasurementBody(deep, base).messages), ['|VALUE_OUT_OF_BOUNDS']);
    const nested = `{"client_id":"c","events":[{"name":"e","params":{"p":${'['.repeat(5000)}${']'.repeat(5000)}}}]}`;
    assert.deepEqual(codes(validateMeasurementBody(nested, base).messages), [
      'events[0].params.p|VALUE_INVALID',
    ]);
    assert.equal(validateMeasurementBody(Buffer.from(JSON.stringify(body())), base).events.length, 1);
  });

  it('never throws on arbitrary JSON and only emits known codes', () => {
    const known = new Set([
      'VALUE_INVALID',
      'VALUE_REQUIRED',
      'NAME_INVALID',
      'NAME_RESERVED',
      'VALUE_OUT_OF_BOUNDS',
      'EXCEEDED_MAX_ENTITIES',
      'NAME_DUPLICATED',
    ]);
    const anyEvent = fc.record(
      {
        name: fc.oneof(fc.string(), fc.constantFrom('page_view', 'purchase', 'session_start')),
        params: fc.dictionary(fc.string(), fc.jsonValue()),
        timestamp_micros: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            client_id: fc.oneof(fc.string(), fc.jsonValue()),
            user_id: fc.jsonValue(),
            timestamp_micros: fc.oneof(fc.constant(Number(NOW)), fc.jsonValue()),
            user_properties: fc.oneof(
              fc.dictionary(fc.string(), fc.record({ value: fc.jsonValue() })),
              fc.jsonValue(),
            ),
            consent: fc.jsonValue(),
            user_location: fc.jsonValue(),
            device: fc.jsonValue(),
            validation_behavior: fc.constantFrom('RELAXED', 'ENFORCE_RECOMMENDATIONS', 'x'),
            events: fc.oneof(fc.array(anyEvent, { maxLength: 30 }), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
        fc.boolean(),
        (b, debug) => {
          const r = validateMeasurement(b, {
            query: { measurement_id: 'G-1', api_secret: 's' },
            bodyBytes: 10,
            debug,
            nowMicros: NOW,
          });
          for (const m of r.messages) assert.ok(known.has(m.validationCode));
          if (r.events.length > 0) assert.ok(r.events.length <= 25);
          const stored = toEvents(r.events, {
            propertyId: 1n,
            streamId: 's',
            timeZone: 'UTC',
            nowMicros: NOW,
          });
          for (const e of stored) {
            assert.doesNotThrow(() => encodeParams(e.event_params));
            assert.doesNotThrow(() => JSON.stringify(e.items));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('validateMeasurement: production mode', () => {
  it('keeps items that come after the 26th param', () => {
    const params: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`p${i}`, i]),
    );
    params['items'] = [{ item_id: 'A' }];
    const r = validateMeasurement(body({ events: [ev('purchase', params)] }), ctx({ debug: false }));
    assert.equal(r.events[0]!.items.length, 1);
    assert.equal(Object.keys(r.events[0]!.params).length, 25);
  });
});

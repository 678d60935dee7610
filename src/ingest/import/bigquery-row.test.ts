import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bigQueryRowToEvent, type ImportContext } from './bigquery-row.ts';
import type { NewEvent } from '../../domain/event.ts';

const NOW = 1_717_300_000_000_000n;
const CTX: ImportContext = {
  propertyId: 9n,
  streamId: 'default',
  timeZone: 'America/New_York',
  nowMicros: NOW,
};

function ok(row: unknown): NewEvent {
  const r = bigQueryRowToEvent(row, CTX);
  if ('error' in r) assert.fail(r.error);
  return r.event;
}

function err(row: unknown): string {
  const r = bigQueryRowToEvent(row, CTX);
  if ('event' in r) assert.fail('expected an error');
  return r.error;
}

const FULL = {
  event_date: '20240601',
  event_timestamp: '1717243200123456',
  event_name: 'purchase',
  event_params: [
    {
      key: 'ga_session_id',
      value: { string_value: null, int_value: '1717240000', float_value: null, double_value: null },
    },
    { key: 'ga_session_number', value: { int_value: 4 } },
    { key: 'page_location', value: { string_value: 'https://shop.test/checkout' } },
    { key: 'value', value: { double_value: 49.5 } },
    { key: 'ratio', value: { float_value: 0.25 } },
    { key: 'big', value: { int_value: '9007199254740993' } },
    { key: 'empty', value: { string_value: null, int_value: null, float_value: null, double_value: null } },
    { key: '__proto__', value: { string_value: 'safe' } },
  ],
  user_pseudo_id: '123.456',
  user_id: 'u-1',
  user_properties: [
    { key: 'plan', value: { string_value: 'pro', set_timestamp_micros: '1717000000000000' } },
    { key: 'level', value: { int_value: '3' } },
  ],
  device: {
    category: 'mobile',
    operating_system: 'iOS',
    operating_system_version: 'iOS 17.5',
    language: 'en-us',
    mobile_brand_name: 'Apple',
    mobile_model_name: 'iPhone',
    is_limited_ad_tracking: 'Yes',
    browser: null,
    web_info: { browser: 'Safari', browser_version: '17.5' },
  },
  geo: {
    continent: 'Americas',
    sub_continent: 'Northern America',
    country: 'United States',
    region: 'California',
    city: 'San Jose',
    metro: '(not set)',
  },
  traffic_source: { name: 'summer', medium: 'cpc', source: 'google' },
  ecommerce: { transaction_id: 'T-9', purchase_revenue: 49.5, refund_value: null, total_item_quantity: '2' },
  items: [
    {
      item_id: 'SKU1',
      item_name: 'Tee',
      price: 24.75,
      quantity: '2',
      item_category: null,
      item_params: [
        { key: 'color', value: { string_value: 'red' } },
        { key: 'n', value: { int_value: '5' } },
      ],
    },
  ],
  privacy_info: { analytics_storage: 'Yes', ads_storage: 'No', uses_transient_token: 'No' },
  platform: 'IOS',
  stream_id: '555',
};

describe('bigQueryRowToEvent', () => {
  it('converts a full row', () => {
    const e = ok(FULL);
    const params: Record<string, unknown> = {
      page_location: { string_value: 'https://shop.test/checkout' },
      value: { double_value: 49.5 },
      ratio: { double_value: 0.25 },
      big: { int_value: 9007199254740993n },
    };
    Object.defineProperty(params, '__proto__', {
      value: { string_value: 'safe' },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const expected: NewEvent = {
      property_id: 9n,
      stream_id: '555',
      platform: 'IOS',
      event_name: 'purchase',
      event_timestamp: 1717243200123456n,
      event_date: '20240601',
      received_at: NOW,
      source: 'import',
      user_pseudo_id: '123.456',
      user_id: 'u-1',
      ga_session_id: 1717240000n,
      ga_session_number: 4,
      event_params: params as NewEvent['event_params'],
      user_properties: {
        plan: { value: { string_value: 'pro' }, set_timestamp_micros: 1717000000000000n },
        level: { value: { int_value: 3n }, set_timestamp_micros: 1717243200123456n },
      },
      device_category: 'mobile',
      device_operating_system: 'iOS',
      device_operating_system_version: 'iOS 17.5',
      device_browser: 'Safari',
      device_browser_version: '17.5',
      device_language: 'en-us',
      device_mobile_brand_name: 'Apple',
      device_mobile_model_name: 'iPhone',
      device_is_limited_ad_tracking: true,
      geo_continent: 'Americas',
      geo_sub_continent: 'Northern America',
      geo_country: 'United States',
      geo_country_id: null,
      geo_region: 'California',
      geo_city: 'San Jose',
      traffic_source_source: 'google',
      traffic_source_medium: 'cpc',
      traffic_source_name: 'summer',
      ecommerce_transaction_id: 'T-9',
      ecommerce_purchase_revenue: 49.5,
      ecommerce_refund_value: null,
      items: [
        {
          item_id: 'SKU1',
          item_name: 'Tee',
          price: 24.75,
          quantity: 2,
          item_params: { color: { string_value: 'red' }, n: { int_value: 5 } },
        },
      ],
      consent_ad_user_data: 'DENIED',
      consent_ad_personalization: 'DENIED',
      non_personalized_ads: null,
    };
    assert.deepEqual(e, expected);
    assert.equal(Object.getPrototypeOf(e.event_params), Object.prototype);
    assert.deepEqual(Object.keys(e.event_params), ['page_location', 'value', 'ratio', 'big', '__proto__']);
  });

  it('accepts numbers for INT64 fields and fills defaults', () => {
    const e = ok({
      event_timestamp: 1717200000000000,
      event_name: 'page_view',
      user_pseudo_id: 'x',
      event_params: [{ key: 'ga_session_id', value: { int_value: 1717200000 } }],
    });
    assert.equal(e.event_timestamp, 1717200000000000n);
    assert.equal(e.ga_session_id, 1717200000n);
    assert.equal(e.ga_session_number, null);
    assert.equal(e.event_date, '20240531', 'computed in the property zone (New York)');
    assert.equal(e.platform, 'WEB');
    assert.equal(e.stream_id, 'default');
    assert.equal(e.user_id, null);
    assert.deepEqual(e.event_params, {});
    assert.deepEqual(e.items, []);
    assert.equal(e.device_is_limited_ad_tracking, null);
    assert.equal(e.consent_ad_personalization, null);
  });

  it('reports precise errors (the same messages as the Parquet path)', () => {
    const base = { event_timestamp: '1', event_name: 'e', user_pseudo_id: 'u' };
    assert.equal(err('x'), 'expected a JSON object, got x');
    assert.equal(err([]), 'expected a JSON object, got []');
    assert.equal(err({ ...base, user_pseudo_id: null }), 'missing user_pseudo_id');
    assert.equal(err({ ...base, user_pseudo_id: '' }), 'missing user_pseudo_id');
    assert.equal(err({ ...base, event_name: '' }), 'missing event_name');
    assert.equal(err({ ...base, event_name: {} }), 'event_name: expected a string, got {}');
    assert.equal(err({ ...base, event_timestamp: undefined }), 'missing or non-numeric event_timestamp');
    assert.equal(err({ ...base, event_timestamp: '12x' }), 'event_timestamp: expected an integer, got 12x');
    assert.equal(err({ ...base, event_timestamp: 1.5 }), 'event_timestamp: expected an integer, got 1.5');
    assert.equal(err({ ...base, event_timestamp: '-5' }), 'event_timestamp: out of range, got -5');
    assert.equal(
      err({ ...base, event_timestamp: '99999999999999999999' }),
      'event_timestamp: expected an integer, got 99999999999999999999',
    );
    assert.equal(err({ ...base, event_date: '2024-06-01' }), 'event_date: expected YYYYMMDD, got 2024-06-01');
    assert.equal(err({ ...base, event_date: '' }), 'event_date: expected YYYYMMDD, got ');
    assert.equal(err({ ...base, platform: 'TV' }), 'platform: expected WEB, ANDROID or IOS, got TV');
    assert.equal(err({ ...base, event_params: {} }), 'event_params: expected an array, got {}');
    assert.equal(err({ ...base, event_params: [null] }), 'event_params[0]: expected {key, value}, got null');
    assert.equal(
      err({ ...base, event_params: [{ key: 1 }] }),
      'event_params[0].key: expected a string, got 1',
    );
    assert.equal(
      err({ ...base, event_params: [{ value: {} }] }),
      'event_params[0].key: expected a string, got null',
    );
    assert.equal(
      err({ ...base, event_params: [{ key: 'a', value: { int_value: 'abc' } }] }),
      'event_params[0].value.int_value: expected an integer, got abc',
    );
    assert.equal(
      err({ ...base, event_params: [{ key: 'a', value: { int_value: '1.5' } }] }),
      'event_params[0].value.int_value: expected an integer, got 1.5',
    );
    assert.equal(
      err({ ...base, event_params: [{ key: 'a', value: { double_value: '0x10' } }] }),
      'event_params[0].value.double_value: expected a number, got 0x10',
    );
    assert.equal(
      err({ ...base, event_params: [{ key: 'a', value: { string_value: 5 } }] }),
      'event_params[0].value.string_value: expected a string, got 5',
    );
    assert.equal(
      err({ ...base, event_params: [{ key: 'ga_session_id', value: { string_value: 'x' } }] }),
      'event_params[0]: ga_session_id must be an integer',
    );
    assert.equal(
      err({ ...base, event_params: [{ key: 'ga_session_number', value: { int_value: '-1' } }] }),
      'event_params[0]: ga_session_number out of range',
    );
    assert.equal(
      err({ ...base, device: { is_limited_ad_tracking: 'maybe' } }),
      'device.is_limited_ad_tracking: expected "Yes" or "No", got maybe',
    );
    assert.equal(err({ ...base, device: 'x' }), 'device: expected an object, got x');
    assert.equal(err({ ...base, device: { web_info: 'x' } }), 'device.web_info: expected an object, got x');
    assert.equal(err({ ...base, geo: { city: {} } }), 'geo.city: expected a string, got {}');
    assert.equal(
      err({ ...base, ecommerce: { purchase_revenue: 'lots' } }),
      'ecommerce.purchase_revenue: expected a number, got lots',
    );
    assert.equal(err({ ...base, items: [{ price: 'x' }] }), 'items[0].price: expected a number, got x');
    assert.equal(err({ ...base, items: [null] }), 'items[0]: expected an object, got null');
    assert.equal(
      err({ ...base, items: [{ item_params: [{ key: 'k', value: { int_value: 'z' } }] }] }),
      'items[0].item_params[0].value.int_value: expected an integer, got z',
    );
    assert.equal(
      err({
        ...base,
        user_properties: [{ key: 'a', value: { string_value: 'x', set_timestamp_micros: 'no' } }],
      }),
      'user_properties[0].value.set_timestamp_micros: expected an integer, got no',
    );
    assert.equal(
      err({ ...base, privacy_info: { ads_storage: 'maybe' } }),
      'privacy_info.ads_storage: expected "Yes", "No" or "Unset", got maybe',
    );
    assert.equal(
      err({ ...base, consent: { ad_user_data: 'maybe' } }),
      'consent.ad_user_data: expected GRANTED or DENIED, got maybe',
    );
    // The first problem in field order is reported.
    assert.equal(err({ ...base, platform: 'TV', event_date: 'x' }), 'event_date: expected YYYYMMDD, got x');
  });

  it('maps the decided edge cases', () => {
    const base = { event_timestamp: '1717243200123456', event_name: 'e', user_pseudo_id: 'u' };
    assert.equal(ok({ ...base, platform: 'android' }).platform, 'ANDROID');
    assert.equal(ok({ ...base, platform: 'Ios' }).platform, 'IOS');
    const yes = ok({ ...base, privacy_info: { ads_storage: 'Yes' } });
    assert.deepEqual([yes.consent_ad_user_data, yes.consent_ad_personalization], [null, null]);
    const unset = ok({ ...base, privacy_info: { ads_storage: 'Unset' } });
    assert.deepEqual([unset.consent_ad_user_data, unset.consent_ad_personalization], [null, null]);
    const own = ok({
      ...base,
      privacy_info: { ads_storage: 'No' },
      consent: { ad_personalization: 'granted', non_personalized_ads: 'false' },
    });
    assert.deepEqual(
      [own.consent_ad_user_data, own.consent_ad_personalization, own.non_personalized_ads],
      ['DENIED', 'GRANTED', false],
    );
    assert.equal(
      ok({ ...base, device: { is_limited_ad_tracking: 'yes' } }).device_is_limited_ad_tracking,
      true,
    );
    assert.equal(ok({ ...base, user_id: '' }).user_id, null);
    assert.equal(ok({ ...base, stream_id: 7 }).stream_id, '7');
    const e = ok({
      ...base,
      event_params: [
        { key: 'a', value: { int_value: '1' } },
        { key: 'a', value: { int_value: '2' } },
        { key: 'b', value: { double_value: 'NaN' } },
        { key: 'c', value: { double_value: '2.5' } },
        { key: 'ga_session_id', value: { double_value: 1717240000 } },
        { key: 'ga_session_id', value: { int_value: '5' } },
      ],
      items: [{ item_id: 7, unknown: { deep: 1 }, quantity: '2', price: 'NaN', item_params: [] }],
      ecommerce: { purchase_revenue: 'Infinity' },
    });
    assert.deepEqual(e.event_params, {
      a: { int_value: 1n },
      b: { double_value: Number.NaN },
      c: { double_value: 2.5 },
    });
    assert.equal(e.ga_session_id, 1717240000n, 'the first ga_session_id wins');
    assert.deepEqual(e.items, [{ item_id: '7', quantity: 2 }]);
    assert.equal(e.ecommerce_purchase_revenue, null);
  });
});

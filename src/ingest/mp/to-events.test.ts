import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateMeasurement } from './validate.ts';
import { toEvents } from './to-events.ts';
import { EVENT_COLUMNS, encodeParams, encodeUserProperties, type NewEvent } from '../../domain/event.ts';

const NOW = 1_717_200_000_000_000n; // 2024-06-01T00:00:00Z
const HOUR = 3_600_000_000n;

function run(
  body: Record<string, unknown>,
  timeZone = 'UTC',
  firebase = false,
  expectedPaths: string[] = [],
): NewEvent[] {
  const query = firebase
    ? { firebase_app_id: '1:1:android:1', api_secret: 's' }
    : { measurement_id: 'G-1', api_secret: 's' };
  const r = validateMeasurement(body, { query, bodyBytes: 10, debug: true, nowMicros: NOW });
  assert.deepEqual(
    r.messages.map((m) => m.fieldPath),
    expectedPaths,
  );
  return toEvents(r.events, { propertyId: 7n, streamId: '42', timeZone, nowMicros: NOW });
}

describe('toEvents', () => {
  it('maps every field of a full measurement', () => {
    const ts = NOW - 2n * HOUR; // 2024-05-31T22:00:00Z
    const [e] = run(
      {
        client_id: '123.456',
        user_id: 'user-1',
        timestamp_micros: Number(ts),
        user_properties: { plan: { value: 'pro', timestamp_micros: 1000 }, visits: { value: 3 } },
        consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' },
        non_personalized_ads: false,
        user_location: {
          city: 'Mountain View',
          region_id: 'US-CA',
          country_id: 'US',
          subcontinent_id: '021',
          continent_id: '019',
        },
        device: {
          category: 'mobile',
          language: 'en-us',
          screen_resolution: '1280x2856',
          operating_system: 'Android',
          operating_system_version: '14',
          model: 'Pixel 9 Pro',
          brand: 'Google',
          browser: 'Chrome',
          browser_version: '136.0.7103.60',
        },
        events: [
          {
            name: 'purchase',
            params: {
              session_id: '1717190000',
              engagement_time_msec: 1200,
              transaction_id: 'T-1',
              value: 30.5,
              currency: 'EUR',
              page_location: 'https://x.test/a',
              items: [
                { item_id: 'SKU1', item_name: 'Tee', price: 15.25, quantity: 2, index: 3, color: 'red' },
              ],
            },
          },
        ],
      },
      'Europe/Paris',
    );
    assert.ok(e);
    const expected: NewEvent = {
      property_id: 7n,
      stream_id: '42',
      platform: 'WEB',
      event_name: 'purchase',
      event_timestamp: ts,
      event_date: '20240601', // 00:00 in Paris
      received_at: NOW,
      source: 'mp',
      user_pseudo_id: '123.456',
      user_id: 'user-1',
      ga_session_id: 1717190000n,
      ga_session_number: null,
      event_params: {
        engagement_time_msec: { int_value: 1200n },
        transaction_id: { string_value: 'T-1' },
        value: { double_value: 30.5 },
        currency: { string_value: 'EUR' },
        page_location: { string_value: 'https://x.test/a' },
      },
      user_properties: {
        plan: { value: { string_value: 'pro' }, set_timestamp_micros: 1000n },
        visits: { value: { int_value: 3n }, set_timestamp_micros: ts },
      },
      device_category: 'mobile',
      device_operating_system: 'Android',
      device_operating_system_version: '14',
      device_browser: 'Chrome',
      device_browser_version: '136.0.7103.60',
      device_language: 'en-us',
      device_mobile_brand_name: 'Google',
      device_mobile_model_name: 'Pixel 9 Pro',
      device_is_limited_ad_tracking: null,
      geo_continent: 'Americas',
      geo_sub_continent: 'Northern America',
      geo_country: 'United States',
      geo_country_id: 'US',
      geo_region: 'US-CA',
      geo_city: 'Mountain View',
      traffic_source_source: null,
      traffic_source_medium: null,
      traffic_source_name: null,
      ecommerce_transaction_id: 'T-1',
      ecommerce_purchase_revenue: 30.5,
      ecommerce_refund_value: null,
      items: [
        {
          item_id: 'SKU1',
          item_name: 'Tee',
          price: 15.25,
          quantity: 2,
          item_list_index: '3',
          item_params: { color: { string_value: 'red' } },
        },
      ],
      consent_ad_user_data: 'GRANTED',
      consent_ad_personalization: 'DENIED',
      non_personalized_ads: false,
    };
    assert.deepEqual(e, expected);
    // Every store column is present and the JSON columns encode.
    for (const [col] of EVENT_COLUMNS) if (col !== 'ingest_seq') assert.ok(col in e, col);
    assert.equal(typeof encodeParams(e.event_params), 'string');
    assert.equal(typeof encodeUserProperties(e.user_properties), 'string');
    assert.doesNotThrow(() => JSON.stringify(e.items));
  });

  it('refund value, integer value, event date in the property zone, defaults', () => {
    const events = run(
      {
        client_id: 'c',
        events: [
          { name: 'refund', params: { value: 10, transaction_id: 'T-2' } },
          { name: 'page_view', params: { value: 3 } },
          { name: 'purchase', params: { value: '12.5' } },
        ],
      },
      'UTC',
      false,
      ['events[2].params.value'],
    );
    assert.equal(events[0]!.ecommerce_refund_value, 10);
    assert.equal(events[0]!.ecommerce_purchase_revenue, null);
    assert.equal(events[0]!.ecommerce_transaction_id, 'T-2');
    assert.equal(events[1]!.ecommerce_purchase_revenue, null);
    assert.equal(events[2]!.ecommerce_purchase_revenue, 12.5, 'string values are parsed under RELAXED');
    assert.equal(events[1]!.event_date, '20240601');
    assert.equal(events[1]!.event_timestamp, NOW);
    assert.equal(events[1]!.user_id, null);
    assert.equal(events[1]!.consent_ad_user_data, null);
    assert.equal(events[1]!.geo_country, null);
    assert.equal(events[1]!.device_category, null);
    assert.deepEqual(events[1]!.items, []);
    const la = run({ client_id: 'c', events: [{ name: 'x' }] }, 'America/Los_Angeles');
    assert.equal(la[0]!.event_date, '20240531');
  });

  it('app streams get the app platform', () => {
    const [e] = run({ app_instance_id: 'f'.repeat(32), events: [{ name: 'tap' }] }, 'UTC', true);
    assert.equal(e!.platform, 'ANDROID');
    assert.equal(e!.user_pseudo_id, 'f'.repeat(32));
  });
});

// Event builders for the DuckDB store's tests and benchmarks (no engine imports here).

import { emptyEventContext, type NewEvent } from '../../src/domain/event.ts';

export function baseEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    property_id: 1n,
    stream_id: 's1',
    platform: 'WEB',
    event_name: 'page_view',
    event_timestamp: 1_735_689_600_000_000n,
    event_date: '20250101',
    received_at: 1_735_689_600_100_000n,
    source: 'mp',
    user_pseudo_id: 'dev-1',
    user_id: null,
    ga_session_id: null,
    ga_session_number: null,
    event_params: {},
    user_properties: {},
    ...emptyEventContext(),
    ...overrides,
  };
}

const NAMES = [
  'page_view',
  'scroll',
  'click',
  'view_item',
  'add_to_cart',
  'purchase',
  'session_start',
  'user_engagement',
];
const COUNTRIES = ['United States', 'Germany', 'France', 'Japan', 'Brazil', 'India'];

/** A realistic web event (≈ 10 params, device, geo, consent; a purchase every 20th). */
export function realisticEvent(i: number, propertyId = 1n): NewEvent {
  const user = i % 100_000;
  const name = NAMES[i % NAMES.length] as string;
  const ts = 1_735_689_600_000_000n + BigInt(i) * 1000n;
  const purchase = name === 'purchase';
  return baseEvent({
    property_id: propertyId,
    event_name: name,
    event_timestamp: ts,
    received_at: ts + 50_000n,
    user_pseudo_id: `${user}.${1_700_000_000 + user}`,
    user_id: user % 3 === 0 ? `user-${user}` : null,
    ga_session_id: BigInt(1_735_689_600 + Math.floor(i / 30)),
    ga_session_number: 1 + (i % 7),
    event_params: {
      page_location: { string_value: `https://shop.example.com/p/${i % 500}?utm_source=news` },
      page_title: { string_value: `Product ${i % 500} – Shop` },
      page_referrer: { string_value: 'https://www.google.com/' },
      engagement_time_msec: { int_value: BigInt(i % 60_000) },
      session_engaged: { string_value: '1' },
      ...(purchase
        ? {
            value: { double_value: (i % 20_000) / 100 },
            currency: { string_value: 'USD' },
            transaction_id: { string_value: `T${i}` },
          }
        : {}),
    },
    user_properties:
      i % 4 === 0 ? { plan: { value: { string_value: 'pro' }, set_timestamp_micros: ts } } : {},
    device_category: user % 3 === 0 ? 'mobile' : 'desktop',
    device_operating_system: user % 3 === 0 ? 'Android' : 'Windows',
    device_operating_system_version: '14',
    device_browser: 'Chrome',
    device_browser_version: '131.0.0.0',
    device_language: 'en-us',
    geo_continent: 'Americas',
    geo_sub_continent: 'Northern America',
    geo_country: COUNTRIES[user % COUNTRIES.length] as string,
    geo_country_id: 'US',
    geo_region: 'California',
    geo_city: 'San Francisco',
    traffic_source_source: 'google',
    traffic_source_medium: 'organic',
    traffic_source_name: '(organic)',
    ecommerce_transaction_id: purchase ? `T${i}` : null,
    ecommerce_purchase_revenue: purchase ? (i % 20_000) / 100 : null,
    items: purchase ? [{ item_id: `SKU${i % 50}`, item_name: 'Shirt', price: 19.99, quantity: 1 }] : [],
    consent_ad_user_data: 'GRANTED',
    consent_ad_personalization: user % 10 === 0 ? 'DENIED' : 'GRANTED',
  });
}

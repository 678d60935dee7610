// BigQuery-export-shaped NDJSON rows for the import benches: seven params (ga_session_id first),
// a purchase every 50th row with items, a user id on every 4th row, user properties on every 5th.
export const base = 1_717_200_000_000_000;

export function row(i: number): string {
  const user = `${1000000 + (i % 50_000)}.${1700000000 + (i % 977)}`;
  const ts = base + i * 1_000_003;
  const purchase = i % 50 === 0;
  return JSON.stringify({
    event_date: '20240601',
    event_timestamp: String(ts),
    event_name: purchase ? 'purchase' : i % 3 === 0 ? 'page_view' : 'user_engagement',
    event_params: [
      { key: 'ga_session_id', value: { int_value: String(1717200000 + (i % 977)) } },
      { key: 'ga_session_number', value: { int_value: String(1 + (i % 7)) } },
      {
        key: 'page_location',
        value: { string_value: `https://shop.example.com/products/item-${i % 1000}?ref=home` },
      },
      { key: 'page_title', value: { string_value: `Product ${i % 1000} | Example Shop` } },
      { key: 'engagement_time_msec', value: { int_value: String(i % 10_000) } },
      { key: 'session_engaged', value: { string_value: '1' } },
      { key: 'entrances', value: { int_value: '1' } },
      ...(purchase
        ? [
            { key: 'value', value: { double_value: 19.99 } },
            { key: 'currency', value: { string_value: 'EUR' } },
          ]
        : []),
    ],
    user_pseudo_id: user,
    user_id: i % 4 === 0 ? `u${i % 50_000}` : null,
    user_properties:
      i % 5 === 0 ? [{ key: 'plan', value: { string_value: 'pro', set_timestamp_micros: String(ts) } }] : [],
    device: {
      category: i % 2 ? 'mobile' : 'desktop',
      operating_system: 'Android',
      operating_system_version: 'Android 14',
      language: 'en-us',
      mobile_brand_name: 'Google',
      mobile_model_name: 'Pixel 8',
      is_limited_ad_tracking: 'No',
      web_info: { browser: 'Chrome', browser_version: '125.0.6422.112' },
    },
    geo: {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'France',
      region: 'Ile-de-France',
      city: 'Paris',
    },
    traffic_source: { name: '(organic)', medium: 'organic', source: 'google' },
    ecommerce: purchase ? { transaction_id: `T${i}`, purchase_revenue: 19.99 } : null,
    items: purchase
      ? [{ item_id: 'SKU1', item_name: 'Tee', price: 19.99, quantity: '1', item_params: [] }]
      : [],
    privacy_info: { analytics_storage: 'Yes', ads_storage: 'Yes', uses_transient_token: 'No' },
    platform: 'WEB',
    stream_id: '1234567890',
  });
}

// Throughput of the BigQuery-NDJSON import path (parse + convert), in rows/s.
// Run: npx tsx bench/import-parse.bench.ts [rows]
import { Readable } from 'node:stream';
import { parseNdjson } from '../src/ingest/import/ndjson.ts';

const rows = Number(process.argv[2] ?? 300_000);
const base = 1_717_200_000_000_000;

function row(i: number): string {
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

// Pre-build the input in 64 KiB chunks so generation is not measured (and no big string stays on
// the JS heap to slow down the garbage collector).
function build(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < rows; i++) parts.push(Buffer.from(row(i) + '\n'));
  return Buffer.concat(parts);
}
const buf = build();
const chunks: Buffer[] = [];
for (let o = 0; o < buf.length; o += 65_536) chunks.push(buf.subarray(o, o + 65_536));

const ctx = { propertyId: 1n, streamId: '1', timeZone: 'UTC', nowMicros: BigInt(base) };

async function pipeline(): Promise<number> {
  const t0 = process.hrtime.bigint();
  let events = 0;
  let errors = 0;
  for await (const batch of parseNdjson(Readable.from(chunks), ctx)) {
    events += batch.events.length;
    errors += batch.errors.length;
  }
  if (events !== rows || errors !== 0) throw new Error(`unexpected: ${events} events, ${errors} errors`);
  return rows / (Number(process.hrtime.bigint() - t0) / 1e9);
}

// Baseline: JSON.parse alone over the same lines (the floor for any JSON-based importer).
function baseline(): number {
  const t0 = process.hrtime.bigint();
  const text = buf.toString('utf8');
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    JSON.parse(text.slice(start, nl));
    start = nl + 1;
  }
  return rows / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
console.log(
  `${fmt(rows)} rows, ${(buf.length / 1e6).toFixed(1)} MB (${Math.round(buf.length / rows)} bytes/row)`,
);
for (let run = 1; run <= 3; run++) {
  const full = await pipeline();
  const floor = baseline();
  console.log(
    `run ${run}: parse+convert ${fmt(full)} rows/s (${((full * buf.length) / rows / 1e6).toFixed(0)} MB/s); ` +
      `JSON.parse alone ${fmt(floor)} rows/s; pipeline = ${((100 * full) / floor).toFixed(0)}% of the JSON.parse floor`,
  );
}

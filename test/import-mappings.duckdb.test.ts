// Differential test of the two BigQuery-import mappings: the same rows imported as NDJSON (the JS
// converter, src/ingest/import/bigquery-row.ts, as the API does it) and as Parquet (the engine's
// INSERT … SELECT, src/storage/duckdb/import-sql.ts) must store the same events, column by column
// and byte for byte, and reject the same rows with the same reasons. The engine's own NDJSON read
// (importFile 'ndjson') is held to the same result for rows it can judge (it reads text leaves).
//
// Rows are generated with fast-check in BigQuery's shape, with the edge cases the two paths used
// to disagree on, plus a fixed list of rows that every run includes.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { buildImportSql, describeSource } from '../src/storage/duckdb/import-sql.ts';
import { EVENT_COLUMNS } from '../src/domain/event.ts';
import { parseNdjson } from '../src/ingest/import/ndjson.ts';
import { NdjsonWorkers } from '../src/storage/duckdb/ndjson-workers.ts';

type Row = Record<string, unknown>;

const NOW = 42n;
const BASE_TS = 1_717_200_000_000_000; // 2024-06-01T00:00:00Z

// ---- generators ------------------------------------------------------------------------------

const maybe = <T>(arb: fc.Arbitrary<T>, freq = 3): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: freq, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(undefined) });

const text = fc.oneof(
  fc.constantFrom(
    'a',
    'Berlin',
    'page_view',
    '(not set)',
    'ünïcødé 🎉',
    'quote " and \\ back',
    'tab\there',
    '',
  ),
  fc.string({ maxLength: 12 }),
);

const intValue = fc.oneof(
  fc.integer({ min: -1000, max: 1_000_000 }).map(String),
  fc.integer({ min: -1000, max: 1_000_000 }),
  fc.constantFrom('9007199254740993', '-9223372036854775808', '9223372036854775807', '0042'),
);

const doubleValue = fc.oneof(
  fc.constantFrom(
    2,
    2.5,
    1e21,
    1.5e21,
    0.1,
    -0.5,
    1e-7,
    0.000001,
    123456.789,
    19.99,
    1e300,
    0,
    1234567890123.5,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  // Not "Infinity"/"-Infinity" here: read_json would type a column holding only those as DATE
  // when the test converts to Parquet. The fixed rows carry them among numbers.
  fc.constantFrom('2.5', 'NaN', '1e400'),
);

/** A BigQuery value record: one arm set (or none), arms sometimes all present with nulls. */
function valueRecord(allArms: boolean): fc.Arbitrary<Row> {
  const arm = fc.oneof(
    text.map((s) => ({ string_value: s })),
    intValue.map((i) => ({ int_value: i })),
    doubleValue.map((d) => ({ double_value: d })),
    fc.constantFrom(2, 0.25).map((d) => ({ float_value: d })),
    fc.constant({}),
  );
  return arm.map((a) =>
    allArms ? { string_value: null, int_value: null, float_value: null, double_value: null, ...a } : a,
  );
}

const paramKey = fc.constantFrom(
  'page_location',
  'value',
  'engagement_time_msec',
  'x',
  'x',
  'weird "key" \\',
  '__proto__',
  'ga_session_id',
  'ga_session_number',
);

function sessionParam(): fc.Arbitrary<Row> {
  return fc.oneof(
    fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }).map((n) => ({
      key: 'ga_session_id',
      value: { int_value: String(n) },
    })),
    fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }).map((n) => ({
      key: 'ga_session_id',
      value: { string_value: String(n) },
    })),
    fc.constant({ key: 'ga_session_id', value: { double_value: 1717200000 } }),
    fc.integer({ min: 1, max: 20 }).map((n) => ({ key: 'ga_session_number', value: { int_value: n } })),
  );
}

function eventParams(allArms: boolean): fc.Arbitrary<Row[]> {
  return fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ key: paramKey, value: valueRecord(allArms) }) },
      { weight: 1, arbitrary: sessionParam() },
    ),
    { maxLength: 6 },
  );
}

const userProperties = fc.array(
  fc.record(
    {
      key: fc.constantFrom('plan', 'level', 'plan', 'score'),
      value: fc
        .tuple(
          valueRecord(false),
          fc.oneof(
            fc.constant(undefined),
            fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }).map((n) => String(n * 1_000_000)),
          ),
        )
        .map(([v, t]) => (t === undefined ? v : { ...v, set_timestamp_micros: t })),
    },
    { requiredKeys: ['key', 'value'] },
  ),
  { maxLength: 3 },
);

const item = fc.record(
  {
    item_id: fc.constantFrom('SKU1', 'SKU2', 'sku-3'),
    item_name: text,
    item_brand: fc.constantFrom(null, 'Acme'),
    item_category: fc.constantFrom('Apparel', null),
    price: fc.oneof(fc.constantFrom(19.99, 2, 24.75, 1e21), fc.constantFrom('19.99', '2')),
    quantity: fc.oneof(fc.integer({ min: 1, max: 5 }).map(String), fc.integer({ min: 1, max: 5 })),
    item_revenue: fc.constantFrom(null, 39.98),
    item_list_index: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom('1', '2')),
    coupon: fc.constantFrom(null, 'SUMMER'),
    item_params: fc.array(
      fc.record({ key: fc.constantFrom('color', 'size', 'color', 'n'), value: valueRecord(false) }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ['item_id'] },
);

const device = fc.record(
  {
    category: fc.constantFrom('mobile', 'desktop', 'tablet'),
    mobile_brand_name: fc.constantFrom('Apple', 'Google', null),
    mobile_model_name: fc.constantFrom('iPhone', null),
    operating_system: fc.constantFrom('iOS', 'Android', 'Windows'),
    operating_system_version: fc.constantFrom('iOS 17.5', 'Windows 10'),
    language: fc.constantFrom('en-us', 'de'),
    is_limited_ad_tracking: fc.constantFrom('Yes', 'No', 'yes', 'NO', true, false, null),
    browser: fc.constantFrom('Chrome', null),
    browser_version: fc.constantFrom('125.0', null),
    web_info: fc.record(
      { browser: fc.constantFrom('Safari', null), browser_version: fc.constantFrom('17.5', null) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

const geo = fc.record(
  {
    continent: fc.constantFrom('Europe', 'Americas'),
    sub_continent: fc.constantFrom('Western Europe', 'Northern America'),
    country: fc.constantFrom('Germany', 'United States'),
    region: fc.constantFrom('Berlin', 'California', null),
    city: text,
    metro: fc.constant('(not set)'),
  },
  { requiredKeys: [] },
);

const timestamp = fc.integer({ min: 0, max: 400 * 86400 }).map((s) => BASE_TS + s * 1_000_000 + 123);

/** A row in BigQuery's JSON shape (INT64 as strings), with optional structs left out at times. */
const bqRow: fc.Arbitrary<Row> = fc
  .record(
    {
      event_date: maybe(fc.constantFrom('20240601', '20240602', '20250101', null)),
      event_timestamp: timestamp.map(String),
      event_name: fc.constantFrom('page_view', 'purchase', 'user_engagement', 'login'),
      event_params: fc.boolean().chain((all) => eventParams(all)),
      user_id: fc.constantFrom(null, 'u-1', 'u-2', ''),
      user_pseudo_id: fc.constantFrom('1001.1700000000', '1002.1700000001', 'dev-3'),
      user_properties: userProperties,
      device: device,
      geo: geo,
      traffic_source: fc.record(
        {
          name: fc.constantFrom('(organic)', 'summer'),
          medium: fc.constantFrom('organic', 'cpc'),
          source: text,
        },
        { requiredKeys: [] },
      ),
      stream_id: fc.constantFrom('1234567', '999'),
      platform: fc.constantFrom('WEB', 'web', 'Android', 'IOS', 'ios'),
      ecommerce: fc.record(
        {
          transaction_id: fc.constantFrom('T1', 'T2', null),
          purchase_revenue: fc.oneof(fc.constantFrom(49.5, 2, null), fc.constantFrom('19.99', 'NaN')),
          refund_value: fc.constantFrom(null, 5),
        },
        { requiredKeys: [] },
      ),
      items: fc.array(item, { maxLength: 3 }),
      privacy_info: fc.record(
        {
          analytics_storage: fc.constantFrom('Yes', 'No'),
          ads_storage: fc.constantFrom('Yes', 'No', 'Unset', null),
          uses_transient_token: fc.constant('No'),
        },
        { requiredKeys: [] },
      ),
      consent: fc.record(
        {
          ad_user_data: fc.constantFrom('GRANTED', 'denied', null),
          ad_personalization: fc.constantFrom('DENIED', 'granted', null),
          non_personalized_ads: fc.constantFrom(true, false, null),
        },
        { requiredKeys: [] },
      ),
    },
    {
      requiredKeys: ['event_timestamp', 'event_name', 'user_pseudo_id'],
    },
  )
  .map((r) => {
    // `consent` is an audex extension; most rows lack it.
    const out: Row = { ...r };
    if (out['consent'] !== undefined && Number(String(out['event_timestamp']).slice(-7, -6)) % 3 !== 0)
      delete out['consent'];
    return out;
  });

/** One field broken in a way both formats can carry (text where a number belongs, and so on). */
const breakage: fc.Arbitrary<(r: Row) => Row> = fc.constantFrom(
  (r: Row) => ({ ...r, event_timestamp: 'abc' }),
  (r: Row) => ({ ...r, event_timestamp: '-5' }),
  (r: Row) => ({ ...r, event_timestamp: null }),
  (r: Row) => ({ ...r, user_pseudo_id: '' }),
  (r: Row) => ({ ...r, user_pseudo_id: null }),
  (r: Row) => ({ ...r, event_name: '' }),
  (r: Row) => ({ ...r, event_date: '2024061' }),
  (r: Row) => ({ ...r, platform: 'TV' }),
  (r: Row) => ({ ...r, event_params: [{ key: 'a', value: { int_value: 'abc' } }] }),
  (r: Row) => ({ ...r, event_params: [{ key: 'a', value: { int_value: '1.5' } }] }),
  (r: Row) => ({ ...r, event_params: [{ key: 'b', value: { double_value: 'x2' } }] }),
  (r: Row) => ({ ...r, event_params: [{ key: 'ga_session_id', value: { string_value: 'x' } }] }),
  (r: Row) => ({ ...r, event_params: [{ key: 'ga_session_number', value: { int_value: '-1' } }] }),
  (r: Row) => ({ ...r, event_params: [{ key: null, value: { string_value: 'x' } }] }),
  (r: Row) => ({
    ...r,
    user_properties: [{ key: 'a', value: { string_value: 'x', set_timestamp_micros: 'no' } }],
  }),
  (r: Row) => ({ ...r, items: [{ item_id: 'S', price: 'x' }] }),
  (r: Row) => ({
    ...r,
    items: [{ item_id: 'S', item_params: [{ key: 'k', value: { int_value: 'zz' } }] }],
  }),
  (r: Row) => ({ ...r, privacy_info: { ads_storage: 'maybe' } }),
  (r: Row) => ({ ...r, device: { is_limited_ad_tracking: 'maybe' } }),
  (r: Row) => ({ ...r, ecommerce: { purchase_revenue: 'lots' } }),
  (r: Row) => ({ ...r, consent: { ad_user_data: 'maybe' } }),
);

const rows: fc.Arbitrary<Row[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: bqRow },
    { weight: 1, arbitrary: fc.tuple(bqRow, breakage).map(([r, b]) => b(r)) },
  ),
  { minLength: 1, maxLength: 60 },
);

/** Rows every run includes: the cases the two mappings used to disagree on. */
const FIXED: Row[] = [
  { event_timestamp: String(BASE_TS), event_name: 'e', user_pseudo_id: 'fixed-1', platform: 'web' },
  { event_timestamp: String(BASE_TS + 1), event_name: 'e', user_pseudo_id: 'fixed-1', platform: 'Android' },
  {
    event_timestamp: String(BASE_TS + 3_600_000_000 * 3),
    event_name: 'e',
    user_pseudo_id: 'fixed-2',
    privacy_info: { ads_storage: 'No' },
  },
  {
    event_timestamp: String(BASE_TS + 2),
    event_name: 'e',
    user_pseudo_id: 'f',
    privacy_info: { ads_storage: 'Yes' },
  },
  {
    event_timestamp: String(BASE_TS + 3),
    event_name: 'purchase',
    user_pseudo_id: 'fixed-3',
    event_params: [
      { key: 'two', value: { double_value: 2 } },
      { key: 'half', value: { double_value: 2.5 } },
      { key: 'huge', value: { double_value: 1e21 } },
      { key: 'tiny', value: { double_value: 1e-7 } },
      { key: 'small', value: { double_value: 0.000015 } },
      { key: 'n', value: { int_value: '42' } },
      { key: 'n', value: { int_value: '43' } },
      { key: 'nan', value: { double_value: 'NaN' } },
      { key: 'inf', value: { double_value: '-Infinity' } },
    ],
    items: [
      {
        item_id: 'SKU1',
        price: '24.75',
        quantity: '2',
        item_params: [
          { key: 'color', value: { string_value: 'red' } },
          { key: 'n', value: { int_value: '5' } },
          { key: 'r', value: { double_value: 2 } },
        ],
      },
    ],
    user_properties: [
      { key: 'plan', value: { string_value: 'pro', set_timestamp_micros: '1717000000000000' } },
      { key: 'level', value: { int_value: '3' } },
    ],
  },
  { event_timestamp: String(BASE_TS + 4), event_name: 'e', user_pseudo_id: 'fixed-4', event_date: null },
];

/** Broken rows every property run includes, so rejections are always compared. */
const FIXED_BAD: Row[] = [
  { event_timestamp: String(BASE_TS), event_name: 'e', user_pseudo_id: 'bad-1', platform: 'TV' },
  {
    event_timestamp: String(BASE_TS),
    event_name: 'e',
    user_pseudo_id: 'bad-2',
    event_params: [
      { key: 'ok', value: { int_value: '1' } },
      { key: 'a', value: { int_value: 'abc' } },
    ],
  },
  { event_timestamp: 'abc', event_name: 'e', user_pseudo_id: 'bad-3' },
  {
    event_timestamp: String(BASE_TS),
    event_name: 'e',
    user_pseudo_id: 'bad-5',
    event_params: [
      { key: 'ga_session_id', value: { int_value: '1717200000' } },
      { key: 'ga_session_number', value: { int_value: '-1' } },
    ],
  },
  {
    event_timestamp: String(BASE_TS),
    event_name: 'e',
    user_pseudo_id: 'bad-4',
    items: [{ item_id: 'S', price: 'x' }],
  },
];

// ---- running both paths -----------------------------------------------------------------------

interface Outcome {
  /** Stored rows in ingest order, every column but ingest_seq, as DuckDB returns them. */
  rows: Record<string, unknown>[];
  /** Rejected rows: 0-based row number → reason. */
  rejected: Map<number, string>;
}

const COLUMNS = EVENT_COLUMNS.map(([n]) => n).filter((n) => n !== 'ingest_seq');
const JSON_COLUMNS = new Set(EVENT_COLUMNS.filter(([, t]) => t === 'JSON').map(([n]) => n));

async function storedRows(store: DuckDbEventStore): Promise<Record<string, unknown>[]> {
  return store.db
    .reader()
    .all(`SELECT ${COLUMNS.map((c) => `"${c}"`).join(', ')} FROM events ORDER BY ingest_seq`);
}

async function viaJs(dir: string, ndjson: string, timeZone: string): Promise<Outcome> {
  const store = await DuckDbEventStore.open({ dataDir: join(dir, 'js'), nowMicros: () => NOW });
  try {
    const rejected = new Map<number, string>();
    const ctx = { propertyId: 1n, streamId: '', timeZone, nowMicros: NOW };
    for await (const batch of parseNdjson(createReadStream(ndjson), ctx, { batchSize: 7 })) {
      for (const e of batch.errors) rejected.set(e.line - 1, e.message);
      if (batch.events.length > 0) await store.append(batch.events);
    }
    return { rows: await storedRows(store), rejected };
  } finally {
    await store.close();
  }
}

/** The API's NDJSON path: parsing in worker threads, rows staged, then committed (ndjson-workers.ts). */
async function viaWorkers(dir: string, ndjson: string, timeZone: string): Promise<Outcome> {
  const store = await DuckDbEventStore.open({ dataDir: join(dir, 'workers'), nowMicros: () => NOW });
  try {
    const ctx = { propertyId: 1n, streamId: '', timeZone, nowMicros: NOW };
    const stage = await store.openStage();
    const r = await store.stageNdjson(stage, createReadStream(ndjson), ctx, {
      maxErrors: Number.MAX_SAFE_INTEGER,
      workers,
      chunkBytes: 2048, // several chunks even for a few rows
    });
    await store.commitStage(stage, 1n, null, () => '');
    return { rows: await storedRows(store), rejected: new Map(r.errors.map((e) => [e.line - 1, e.message])) };
  } finally {
    await store.close();
  }
}

async function viaEngine(
  dir: string,
  name: string,
  file: string,
  format: 'parquet' | 'ndjson',
  timeZone: string,
): Promise<Outcome> {
  const store = await DuckDbEventStore.open({ dataDir: join(dir, name), nowMicros: () => NOW });
  try {
    const report = await store.importFileReport(1n, file, format, timeZone);
    // The report names only the first few; read every reason with the same SQL.
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    const source = await describeSource(con, file, format);
    const all = (
      await con.runAndReadAll(buildImportSql(source).examplesSql, [file, 1_000_000])
    ).getRowObjectsJS();
    con.closeSync();
    inst.closeSync();
    assert.equal(report.rejected, all.length, `${name}: reported rejections`);
    assert.deepEqual(
      report.examples,
      all.slice(0, 5).map((e) => ({ row: Number(e.row), reason: e.reason })),
    );
    const rejected = new Map(all.map((e) => [Number(e.row), e.reason as string]));
    return { rows: await storedRows(store), rejected };
  } finally {
    await store.close();
  }
}

/** Parquet from the NDJSON rows: types inferred by read_json, or the given `columns` types. */
async function toParquet(ndjson: string, parquet: string, columns?: Record<string, string>): Promise<void> {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    // Test-only SQL: the column names and types are this file's constants.
    const typed = columns
      ? `, columns = {${Object.entries(columns)
          .map(([n, t]) => `'${n}': '${t}'`)
          .join(', ')}}`
      : ', sample_size = -1, map_inference_threshold = -1';
    await con.run(
      `COPY (SELECT * FROM read_json($1, format = 'newline_delimited'${typed})) ` +
        `TO '${parquet.replaceAll("'", "''")}' (FORMAT parquet)`,
      [ndjson],
    );
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

function assertSame(a: Outcome, b: Outcome, label: string, input: Row[]): void {
  const differing = [...new Set([...a.rejected.keys(), ...b.rejected.keys()])].filter(
    (i) => a.rejected.get(i) !== b.rejected.get(i),
  );
  assert.deepEqual(
    [...b.rejected].sort((x, y) => x[0] - y[0]),
    [...a.rejected].sort((x, y) => x[0] - y[0]),
    `${label}: rejected rows and reasons; input ${differing.map((i) => JSON.stringify(input[i])).join('\n')}`,
  );
  assert.equal(b.rows.length, a.rows.length, `${label}: stored row count`);
  const kept = input.map((_, i) => i).filter((i) => !a.rejected.has(i));
  a.rows.forEach((ra, k) => {
    const rb = b.rows[k]!;
    const where = `${label}: input row ${kept[k]} ${JSON.stringify(input[kept[k]!])}`;
    for (const c of COLUMNS) {
      if (JSON_COLUMNS.has(c)) {
        assert.deepEqual(JSON.parse(String(rb[c])), JSON.parse(String(ra[c])), `${where}: ${c} (parsed)`);
      }
      assert.deepEqual(rb[c], ra[c], `${where}: ${c}`);
    }
  });
}

const workers = new NdjsonWorkers({ size: 2 });
after(() => workers.close());

const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham', 'America/St_Johns'];

/** `engineNdjson: false` skips the engine's own NDJSON read, which fails a whole file whose
 * object fields hold other JSON types (its fixed schema; the API uses the JS reader). */
async function compare(
  input: Row[],
  timeZone: string,
  columns?: Record<string, string>,
  engineNdjson = true,
): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'audex-import-diff-'));
  try {
    const ndjson = join(dir, 'rows.ndjson');
    writeFileSync(ndjson, input.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const parquet = join(dir, 'rows.parquet');
    await toParquet(ndjson, parquet, columns);
    const js = await viaJs(dir, ndjson, timeZone);
    assert.equal(js.rows.length + js.rejected.size, input.length);
    assertSame(js, await viaWorkers(dir, ndjson, timeZone), 'ndjson in worker threads', input);
    assertSame(js, await viaEngine(dir, 'pq', parquet, 'parquet', timeZone), 'parquet', input);
    if (engineNdjson)
      assertSame(js, await viaEngine(dir, 'nd', ndjson, 'ndjson', timeZone), 'engine ndjson', input);
    return js;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('NDJSON (JS) and Parquet (engine) imports store the same events and reject the same rows', async () => {
  await fc.assert(
    fc.asyncProperty(rows, fc.constantFrom(...ZONES), async (generated, zone) => {
      const js = await compare([...FIXED, ...FIXED_BAD, ...generated], zone);
      assert.equal(js.rejected.size >= FIXED_BAD.length, true, 'the broken rows are rejected');
    }),
    {
      numRuns: Number(process.env.IMPORT_DIFF_RUNS ?? 12),
      endOnFailure: !process.env.IMPORT_DIFF_SHRINK,
      includeErrorInReport: true,
    },
  );
});

test('the fixed edge cases map as decided', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audex-import-fixed-'));
  try {
    const ndjson = join(dir, 'rows.ndjson');
    writeFileSync(ndjson, FIXED.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const parquet = join(dir, 'rows.parquet');
    await toParquet(ndjson, parquet);
    const pq = await viaEngine(dir, 'pq', parquet, 'parquet', 'America/New_York');
    assert.deepEqual([...pq.rejected], []);
    const [web, android, denied, granted, purchase, noDate] = pq.rows;
    assert.equal(web?.platform, 'WEB');
    assert.equal(android?.platform, 'ANDROID');
    assert.equal(web?.event_date, '20240531', 'no event_date: the date in the property zone');
    assert.equal(noDate?.event_date, '20240531');
    assert.deepEqual(
      [denied?.consent_ad_user_data, denied?.consent_ad_personalization],
      ['DENIED', 'DENIED'],
    );
    assert.deepEqual([granted?.consent_ad_user_data, granted?.consent_ad_personalization], [null, null]);
    assert.equal(
      purchase?.event_params,
      '{"two":{"d":2},"half":{"d":2.5},"huge":{"d":1e+21},"tiny":{"d":1e-7},"small":{"d":0.000015},"n":{"i":42},"nan":{"d":null},"inf":{"d":null}}',
    );
    assert.equal(
      purchase?.items,
      '[{"item_id":"SKU1","price":24.75,"quantity":2,"item_params":{"color":{"string_value":"red"},"n":{"int_value":5},"r":{"double_value":2}}}]',
    );
    assert.equal(
      purchase?.user_properties,
      `{"plan":{"s":"pro","t":1717000000000000},"level":{"i":3,"t":${BASE_TS + 3}}}`,
    );
    assert.equal(purchase?.ga_session_id, null, 'no sessionisation');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// With INT64 arms written as JSON integers, the Parquet file has typed columns (BIGINT/DOUBLE),
// and the engine takes its fast path (no per-entry checks when keys are distinct and the session
// params valid). The same rows must still be judged exactly as the JS path judges them.
test('typed Parquet columns (the engine fast path) agree too', async () => {
  const row = (user: string, params: Row[]): Row => ({
    event_timestamp: BASE_TS,
    event_name: 'e',
    user_pseudo_id: user,
    event_params: params,
  });
  const id = (n: number): Row => ({ key: 'ga_session_id', value: { int_value: n } });
  const num = (n: number): Row => ({ key: 'ga_session_number', value: { int_value: n } });
  const other = { key: 'page_location', value: { string_value: 'https://x.example/' } };
  const dbl = { key: 'value', value: { double_value: 2.5 } };
  const input = [
    row('ok', [id(1717200000), num(3), other, dbl]),
    row('number-negative', [id(1717200000), num(-1), other]),
    row('number-too-big', [id(1717200000), num(2 ** 31), other]),
    row('id-repeated-second-bad', [
      id(1717200000),
      num(1),
      { key: 'ga_session_id', value: { double_value: 1.5 } },
    ]),
    row('number-repeated', [id(1717200000), num(1), num(-5)]),
    row('no-session', [other, dbl]),
    row('only-number', [num(2)]),
    row('key-repeated', [
      id(1717200000),
      num(1),
      other,
      { key: 'page_location', value: { string_value: 'b' } },
    ]),
  ];
  for (const zone of ['UTC', 'Asia/Kolkata']) {
    const js = await compare(input, zone, {
      event_timestamp: 'BIGINT',
      event_name: 'VARCHAR',
      user_pseudo_id: 'VARCHAR',
      event_params:
        'STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, int_value BIGINT, float_value DOUBLE, double_value DOUBLE))[]',
    });
    assert.deepEqual(
      [...js.rejected.keys()].sort((a, b) => a - b),
      [1, 2, 3, 4],
    );
  }
});

// An object column is typed JSON by read_json when its rows disagree (an object here, a string
// there) or when it is `{}` in every row, and MAP when inferred from `{}` with DuckDB's defaults.
// Found by the property above (seed 1017445606): the engine rejected `web_info: {}` as "expected
// an object". Objects of these types are objects, and their fields are read.
test('objects typed JSON or MAP in the Parquet file agree too', async () => {
  const row = (user: string, device: unknown): Row => ({
    event_timestamp: BASE_TS,
    event_name: 'e',
    user_pseudo_id: user,
    device,
  });
  const mixed = [
    row('empty', { category: 'mobile', web_info: {} }),
    row('fields', { web_info: { browser: 'Chrome', browser_version: '131.0' } }),
    row('number-field', { web_info: { browser: 7 } }),
    row('not-object', { web_info: 'Chrome' }),
    row('array', { web_info: ['Chrome'] }),
    row('null', { web_info: null }),
  ];
  const js = await compare(mixed, 'UTC', undefined, false);
  assert.deepEqual(
    [...js.rejected].sort((a, b) => a[0] - b[0]),
    [
      [3, 'device.web_info: expected an object, got Chrome'],
      [4, 'device.web_info: expected an object, got ["Chrome"]'],
    ],
  );
  assert.deepEqual(
    js.rows.map((r) => r.device_browser),
    [null, 'Chrome', '7', null],
  );
  const onlyEmpty = [row('a', { web_info: {} }), row('b', { category: 'desktop' })];
  await compare(onlyEmpty, 'UTC');
  await compare(onlyEmpty, 'UTC', {
    event_timestamp: 'BIGINT',
    event_name: 'VARCHAR',
    user_pseudo_id: 'VARCHAR',
    device: 'STRUCT(category VARCHAR, web_info MAP(VARCHAR, JSON))',
  });
});

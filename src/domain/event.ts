// The stored event: the GA4 BigQuery-export row (docs/audiences.md §3), flattened so that
// every scalar is one column of the event store. Nested maps (event_params, user_properties, items)
// keep their typed values and are stored as JSON text (see encodeParams below).

/** A typed parameter value; exactly one arm is set, as in BigQuery's event_params.value. */
export type ParamValue = { string_value: string } | { int_value: bigint } | { double_value: number };

export type Params = Record<string, ParamValue>;

export interface UserPropertyValue {
  value: ParamValue;
  /** µs; when the property was set (MP user_properties.*.timestamp_micros), else the event time. */
  set_timestamp_micros: bigint;
}

export type EventSource = 'mp' | 'gtag' | 'import' | 'audience_trigger';

export interface StoredEvent {
  property_id: bigint;
  stream_id: string;
  platform: 'WEB' | 'ANDROID' | 'IOS';
  /** Monotonic per property-store tie-breaker; also the event's id. Assigned by the event store. */
  ingest_seq: bigint;
  event_name: string;
  /** µs since epoch, UTC. */
  event_timestamp: bigint;
  /** YYYYMMDD in the property's time zone. */
  event_date: string;
  /** µs since epoch when audex received it. */
  received_at: bigint;
  source: EventSource;

  user_pseudo_id: string;
  user_id: string | null;

  ga_session_id: bigint | null;
  ga_session_number: number | null;

  event_params: Params;
  user_properties: Record<string, UserPropertyValue>;

  device_category: string | null;
  device_operating_system: string | null;
  device_operating_system_version: string | null;
  device_browser: string | null;
  device_browser_version: string | null;
  device_language: string | null;
  device_mobile_brand_name: string | null;
  device_mobile_model_name: string | null;
  device_is_limited_ad_tracking: boolean | null;

  geo_continent: string | null;
  geo_sub_continent: string | null;
  geo_country: string | null;
  geo_country_id: string | null;
  geo_region: string | null;
  geo_city: string | null;

  traffic_source_source: string | null;
  traffic_source_medium: string | null;
  traffic_source_name: string | null;

  ecommerce_transaction_id: string | null;
  ecommerce_purchase_revenue: number | null;
  ecommerce_refund_value: number | null;

  /** Items as BigQuery has them (item_id, item_name, price, quantity, item_params...). */
  items: Record<string, unknown>[];

  consent_ad_user_data: 'GRANTED' | 'DENIED' | null;
  consent_ad_personalization: 'GRANTED' | 'DENIED' | null;
  non_personalized_ads: boolean | null;
}

/** An event before the store assigns its ingest_seq. */
export type NewEvent = Omit<StoredEvent, 'ingest_seq'>;

/** The fields that describe where an event came from and what it sold, as opposed to who and when. */
export type EventContext = Pick<
  NewEvent,
  | 'device_category'
  | 'device_operating_system'
  | 'device_operating_system_version'
  | 'device_browser'
  | 'device_browser_version'
  | 'device_language'
  | 'device_mobile_brand_name'
  | 'device_mobile_model_name'
  | 'device_is_limited_ad_tracking'
  | 'geo_continent'
  | 'geo_sub_continent'
  | 'geo_country'
  | 'geo_country_id'
  | 'geo_region'
  | 'geo_city'
  | 'traffic_source_source'
  | 'traffic_source_medium'
  | 'traffic_source_name'
  | 'ecommerce_transaction_id'
  | 'ecommerce_purchase_revenue'
  | 'ecommerce_refund_value'
  | 'items'
  | 'consent_ad_user_data'
  | 'consent_ad_personalization'
  | 'non_personalized_ads'
>;

/** No device, geo, traffic source, ecommerce, items or consent: synthetic events (audience triggers), test events. */
export function emptyEventContext(): EventContext {
  return {
    device_category: null,
    device_operating_system: null,
    device_operating_system_version: null,
    device_browser: null,
    device_browser_version: null,
    device_language: null,
    device_mobile_brand_name: null,
    device_mobile_model_name: null,
    device_is_limited_ad_tracking: null,
    geo_continent: null,
    geo_sub_continent: null,
    geo_country: null,
    geo_country_id: null,
    geo_region: null,
    geo_city: null,
    traffic_source_source: null,
    traffic_source_medium: null,
    traffic_source_name: null,
    ecommerce_transaction_id: null,
    ecommerce_purchase_revenue: null,
    ecommerce_refund_value: null,
    items: [],
    consent_ad_user_data: null,
    consent_ad_personalization: null,
    non_personalized_ads: null,
  };
}

export type EventColumnType = 'BIGINT' | 'VARCHAR' | 'INTEGER' | 'JSON' | 'BOOLEAN' | 'DOUBLE';

/**
 * The event schema: every column of the event store, in order, with its type; `nullable` columns
 * may be NULL (the others are required: a missing one fails the batch); `dimension` columns are
 * string columns an audience condition reads directly (src/audience/fields.ts names them).
 * Everything else derives from this list: EVENT_COLUMNS, the nullable set every backend's table
 * uses, and the column names the audience code may read. JSON-typed columns hold the compact
 * encodings below.
 */
export const EVENT_SCHEMA = [
  { name: 'property_id', type: 'BIGINT' },
  { name: 'stream_id', type: 'VARCHAR', dimension: true },
  { name: 'platform', type: 'VARCHAR', dimension: true },
  { name: 'ingest_seq', type: 'BIGINT' },
  { name: 'event_name', type: 'VARCHAR', dimension: true },
  { name: 'event_timestamp', type: 'BIGINT' },
  { name: 'event_date', type: 'VARCHAR' },
  { name: 'received_at', type: 'BIGINT' },
  { name: 'source', type: 'VARCHAR' },
  { name: 'user_pseudo_id', type: 'VARCHAR' },
  { name: 'user_id', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'ga_session_id', type: 'BIGINT', nullable: true },
  { name: 'ga_session_number', type: 'INTEGER', nullable: true },
  { name: 'event_params', type: 'JSON' },
  { name: 'user_properties', type: 'JSON' },
  { name: 'device_category', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_operating_system', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_operating_system_version', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_browser', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_browser_version', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_language', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_mobile_brand_name', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_mobile_model_name', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'device_is_limited_ad_tracking', type: 'BOOLEAN', nullable: true },
  { name: 'geo_continent', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'geo_sub_continent', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'geo_country', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'geo_country_id', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'geo_region', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'geo_city', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'traffic_source_source', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'traffic_source_medium', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'traffic_source_name', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'ecommerce_transaction_id', type: 'VARCHAR', nullable: true, dimension: true },
  { name: 'ecommerce_purchase_revenue', type: 'DOUBLE', nullable: true },
  { name: 'ecommerce_refund_value', type: 'DOUBLE', nullable: true },
  { name: 'items', type: 'JSON' },
  { name: 'consent_ad_user_data', type: 'VARCHAR', nullable: true },
  { name: 'consent_ad_personalization', type: 'VARCHAR', nullable: true },
  { name: 'non_personalized_ads', type: 'BOOLEAN', nullable: true },
] as const satisfies readonly {
  name: keyof StoredEvent;
  type: EventColumnType;
  nullable?: true;
  dimension?: true;
}[];

type EventSchemaColumn = (typeof EVENT_SCHEMA)[number];
export type EventColumnName = EventSchemaColumn['name'];

// Every StoredEvent field is a column (a field added to one and not the other fails to compile).
type MissingColumns = Exclude<keyof StoredEvent, EventColumnName>;
const _everyFieldIsAColumn: [MissingColumns] extends [never] ? true : MissingColumns = true;

/** Column order of the event store: [name, type]. Every backend creates its table with exactly these. */
export const EVENT_COLUMNS: readonly (readonly [EventColumnName, EventColumnType])[] = EVENT_SCHEMA.map(
  (c) => [c.name, c.type] as const,
);

/** The columns that may hold NULL. */
export const NULLABLE_EVENT_COLUMNS: ReadonlySet<string> = new Set(
  EVENT_SCHEMA.filter((c) => 'nullable' in c).map((c) => c.name),
);

/** The string columns an audience condition reads directly. */
export type DimensionColumnName = Extract<EventSchemaColumn, { dimension: true }>['name'];
export const DIMENSION_COLUMNS: ReadonlySet<string> = new Set<DimensionColumnName>(
  EVENT_SCHEMA.filter((c): c is Extract<EventSchemaColumn, { dimension: true }> => 'dimension' in c).map(
    (c) => c.name,
  ),
);

// Compact typed JSON for params: {"k":{"s":"text"}} | {"k":{"i":123}} | {"k":{"d":1.5}}.
// Integers are written as bare JSON digits (exact beyond 2^53; DuckDB reads them as BIGINT).
// In SQL: a param's string form is coalesce(p.s, p.i::VARCHAR, p.d::VARCHAR); its number is
// coalesce(p.i, p.d, TRY_CAST(p.s AS DOUBLE)).

// The encoders run for every stored event (event-store.ts), so they avoid per-call arrays and
// closures. Keys made only of [A-Za-z0-9_] (every valid GA name) need no JSON escaping and are
// written as they are; any other key goes through JSON.stringify. Output is byte-identical to
// JSON.stringify of the same structure (event.test.ts checks against a reference encoder).
const PLAIN_KEY = /^[A-Za-z0-9_]*$/;

function encodeKey(k: string): string {
  return PLAIN_KEY.test(k) ? `"${k}"` : JSON.stringify(k);
}

/** The value's arm without the closing brace: `{"s":"x"`, `{"i":1`, `{"d":1.5`. */
function encodeValueOpen(v: ParamValue): string {
  if ('string_value' in v) return '{"s":' + JSON.stringify(v.string_value);
  if ('int_value' in v) return '{"i":' + v.int_value.toString();
  // String(d) and JSON.stringify(d) print finite numbers identically.
  return '{"d":' + (Number.isFinite(v.double_value) ? String(v.double_value) : 'null');
}

export function encodeParams(params: Params): string {
  const keys = Object.keys(params);
  let out = '{';
  for (let n = 0; n < keys.length; n++) {
    const k = keys[n] as string;
    if (n > 0) out += ',';
    out += encodeKey(k) + ':' + encodeValueOpen(params[k] as ParamValue) + '}';
  }
  return out + '}';
}

export function encodeUserProperties(props: Record<string, UserPropertyValue>): string {
  const keys = Object.keys(props);
  let out = '{';
  for (let n = 0; n < keys.length; n++) {
    const k = keys[n] as string;
    const v = props[k] as UserPropertyValue;
    if (n > 0) out += ',';
    out += encodeKey(k) + ':' + encodeValueOpen(v.value) + ',"t":' + v.set_timestamp_micros.toString() + '}';
  }
  return out + '}';
}

// Integers beyond 2^53 must survive the JSON round trip, so they are re-read from the raw text.
const BIG_INT_TOKEN = /"i":(-?\d+)/g;

function decodeValue(raw: { s?: string; i?: number | string; d?: number | null }): ParamValue {
  if (raw.s !== undefined) return { string_value: raw.s };
  if (raw.i !== undefined) return { int_value: BigInt(raw.i) };
  return { double_value: raw.d ?? Number.NaN };
}

function parseWithBigInts(
  text: string,
): Record<string, { s?: string; i?: string; d?: number | null; t?: string }> {
  // Quote integer arms and the set-timestamp so JSON.parse keeps every digit.
  return JSON.parse(text.replace(BIG_INT_TOKEN, '"i":"$1"').replace(/"t":(-?\d+)/g, '"t":"$1"'));
}

export function decodeParams(text: string | null): Params {
  if (!text) return {};
  const out: Params = {};
  for (const [k, v] of Object.entries(parseWithBigInts(text))) out[k] = decodeValue(v);
  return out;
}

export function decodeUserProperties(text: string | null): Record<string, UserPropertyValue> {
  if (!text) return {};
  const out: Record<string, UserPropertyValue> = {};
  for (const [k, v] of Object.entries(parseWithBigInts(text))) {
    out[k] = { value: decodeValue(v), set_timestamp_micros: BigInt(v.t ?? 0) };
  }
  return out;
}

/**
 * The string form of a param value, as string filters compare it. Doubles print as JavaScript
 * prints them (50 not 50.0); SQL backends must render them the same way.
 */
export function paramString(v: ParamValue | undefined): string | null {
  if (!v) return null;
  if ('string_value' in v) return v.string_value;
  if ('int_value' in v) return v.int_value.toString();
  return Number.isFinite(v.double_value) ? String(v.double_value) : null;
}

/** The numeric form of a param value; strings that do not parse as numbers give null. */
export function paramNumber(v: ParamValue | undefined): number | null {
  if (!v) return null;
  if ('int_value' in v) return Number(v.int_value);
  if ('double_value' in v) return Number.isFinite(v.double_value) ? v.double_value : null;
  return parseDecimal(v.string_value);
}

/**
 * The only strings that count as numbers: plain decimals with an optional exponent, no spaces,
 * no hex, no "Infinity". SQL backends use the same pattern (NUMERIC_STRING_PATTERN) so that the
 * reference evaluator and the engines agree.
 */
export const NUMERIC_STRING_PATTERN = '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?';
const NUMERIC_STRING = new RegExp(`^(?:${NUMERIC_STRING_PATTERN})$`);

export function parseDecimal(s: string): number | null {
  if (!NUMERIC_STRING.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

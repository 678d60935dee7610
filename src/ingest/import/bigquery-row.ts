// One GA4 BigQuery export row (the NDJSON form of events_YYYYMMDD) → NewEvent.
// Hot path of bulk import: keep it allocation-light and regex-light.
//
// The mapping rules are in README.md next to this file; the Parquet path
// (src/storage/duckdb/import-sql.ts) implements the same rules with the same messages, and
// test/import-mappings.duckdb.test.ts checks that both store the same bytes.

import {
  NUMERIC_STRING_PATTERN,
  type NewEvent,
  type ParamValue,
  type Params,
  type UserPropertyValue,
} from '../../domain/event.ts';
import { ITEM_FIELDS, MAX_EVENT_TIMESTAMP } from './bigquery-fields.ts';
import { eventDate, hasOwn, setOwn, show } from '../common.ts';

export interface ImportContext {
  propertyId: bigint;
  /** Used when a row has no stream_id. */
  streamId: string;
  /** Property time zone, for rows without event_date. */
  timeZone: string;
  /** µs: becomes received_at of every imported event. */
  nowMicros: bigint;
}

export type RowResult = { event: NewEvent } | { error: string };

class RowError extends Error {}

function fail(message: string): never {
  throw new RowError(message);
}

/** show() for messages; a missing value reads as null (as in the Parquet path). */
function got(v: unknown): string {
  return v === undefined ? 'null' : show(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDigits(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  let i = s.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === n) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN_NUMBER = -(2 ** 63);
const INT64_LIMIT_NUMBER = 2 ** 63;

/** An INT64: a JSON integer or a string of digits (BigQuery writes INT64 as strings), in range; else null. */
function int64Of(v: unknown): bigint | null {
  if (typeof v === 'string') {
    if (!isDigits(v)) return null;
    const b = BigInt(v);
    return b >= INT64_MIN && b <= INT64_MAX ? b : null;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= INT64_MIN_NUMBER && v < INT64_LIMIT_NUMBER)
    return BigInt(v);
  return null;
}

function toBigInt(v: unknown, path: string): bigint {
  const b = int64Of(v);
  return b ?? fail(`${path}: expected an integer, got ${got(v)}`);
}

const NUMERIC_STRING = new RegExp(`^(?:${NUMERIC_STRING_PATTERN})$`);

/** A number: a JSON number, a decimal string, or "NaN"/"Infinity"/"-Infinity" (BigQuery's JSON). */
function toNumber(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (NUMERIC_STRING.test(v)) return Number(v);
    if (v === 'NaN') return Number.NaN;
    if (v === 'Infinity') return Number.POSITIVE_INFINITY;
    if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  }
  return fail(`${path}: expected a number, got ${got(v)}`);
}

/** A string field: text, or a number printed as JavaScript prints it. */
function optString(v: unknown, path: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return fail(`${path}: expected a string, got ${got(v)}`);
}

/** A finite number or null (non-finite numbers are not stored). */
function optFinite(v: unknown, path: string): number | null {
  if (v === null || v === undefined) return null;
  const n = toNumber(v, path);
  return Number.isFinite(n) ? n : null;
}

/** An object field (struct) or null. */
function optObject(v: unknown, path: string): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  if (isObject(v)) return v;
  return fail(`${path}: expected an object, got ${got(v)}`);
}

function optArray(v: unknown, path: string): unknown[] | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v;
  return fail(`${path}: expected an array, got ${got(v)}`);
}

/** "Yes"/"true" → true, "No"/"false" → false (any case), "Unset" → null; booleans as they are. */
function yesNo(v: unknown, path: string, what: string): boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const l = v.toLowerCase();
    if (l === 'yes' || l === 'true') return true;
    if (l === 'no' || l === 'false') return false;
    if (l === 'unset') return null;
  }
  return fail(`${path}: ${what}, got ${got(v)}`);
}

/**
 * The first non-null arm of a BigQuery value record (string_value, int_value, double_value,
 * float_value → double); only that arm is checked. Null when every arm is null.
 */
function toParamValue(v: unknown, path: string): ParamValue | null {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) return fail(`${path}: expected an object, got ${got(v)}`);
  const s = v['string_value'];
  if (s !== null && s !== undefined) {
    if (typeof s === 'string') return { string_value: s };
    return fail(`${path}.string_value: expected a string, got ${got(s)}`);
  }
  const i = v['int_value'];
  if (i !== null && i !== undefined) return { int_value: toBigInt(i, `${path}.int_value`) };
  const d = v['double_value'];
  if (d !== null && d !== undefined) return { double_value: toNumber(d, `${path}.double_value`) };
  const f = v['float_value'];
  if (f !== null && f !== undefined) return { double_value: toNumber(f, `${path}.float_value`) };
  return null;
}

/** One {key, value} entry: its key (checked) or a failure. */
function entryKey(entry: unknown, path: string): { key: string; entry: Record<string, unknown> } {
  if (!isObject(entry)) return fail(`${path}: expected {key, value}, got ${got(entry)}`);
  const key = entry['key'];
  if (typeof key !== 'string') return fail(`${path}.key: expected a string, got ${got(key)}`);
  return { key, entry };
}

/** JSON-safe form of a value record for items (int_value as a number). */
function toJsonParamValue(pv: ParamValue): Record<string, unknown> {
  if ('int_value' in pv) return { int_value: Number(pv.int_value) };
  return pv;
}

function sessionIntOf(pv: ParamValue): bigint | null {
  if ('int_value' in pv) return pv.int_value;
  if ('string_value' in pv) return int64Of(pv.string_value);
  const d = pv.double_value;
  return Number.isInteger(d) && d >= INT64_MIN_NUMBER && d < INT64_LIMIT_NUMBER ? BigInt(d) : null;
}

function convertItems(v: unknown): Record<string, unknown>[] {
  const list = optArray(v, 'items');
  if (!list) return [];
  const out: Record<string, unknown>[] = [];
  for (let j = 0; j < list.length; j++) {
    const raw: unknown = list[j];
    const path = `items[${j}]`;
    if (!isObject(raw)) return fail(`${path}: expected an object, got ${got(raw)}`);
    const item: Record<string, unknown> = {};
    for (let f = 0; f < ITEM_FIELDS.length; f++) {
      const { name, kind } = ITEM_FIELDS[f]!;
      const val = raw[name];
      if (val === null || val === undefined) continue;
      if (kind === 'string') item[name] = optString(val, `${path}.${name}`);
      else {
        const n = toNumber(val, `${path}.${name}`);
        if (Number.isFinite(n)) item[name] = n;
      }
    }
    const ipList = optArray(raw['item_params'], `${path}.item_params`);
    if (ipList) {
      const ip: Record<string, unknown> = {};
      let n = 0;
      for (let k = 0; k < ipList.length; k++) {
        const epath = `${path}.item_params[${k}]`;
        const { key, entry } = entryKey(ipList[k], epath);
        const pv = toParamValue(entry['value'], `${epath}.value`);
        if (pv && !hasOwn(ip, key)) {
          setOwn(ip, key, toJsonParamValue(pv));
          n++;
        }
      }
      if (n > 0) item['item_params'] = ip;
    }
    out.push(item);
  }
  return out;
}

function consentOf(v: unknown, path: string): 'GRANTED' | 'DENIED' | null {
  const s = optString(v, path);
  if (s === null) return null;
  const u = s.toUpperCase();
  if (u === 'GRANTED' || u === 'DENIED') return u;
  return fail(`${path}: expected GRANTED or DENIED, got ${got(v)}`);
}

// The checks run in a fixed order (the first problem is the row's reason); import-sql.ts checks
// in the same order with the same messages.
function convert(row: unknown, ctx: ImportContext): NewEvent {
  if (!isObject(row)) return fail(`expected a JSON object, got ${got(row)}`);

  const upid = optString(row['user_pseudo_id'], 'user_pseudo_id');
  if (upid === null || upid === '') return fail('missing user_pseudo_id');
  const name = optString(row['event_name'], 'event_name');
  if (name === null || name === '') return fail('missing event_name');
  const rawTs = row['event_timestamp'];
  if (rawTs === null || rawTs === undefined) return fail('missing or non-numeric event_timestamp');
  const ts = toBigInt(rawTs, 'event_timestamp');
  if (ts < 0n || ts > MAX_EVENT_TIMESTAMP) return fail(`event_timestamp: out of range, got ${got(rawTs)}`);

  const rawDate = row['event_date'];
  const givenDate = optString(rawDate, 'event_date');
  let date: string;
  if (givenDate === null) date = eventDate(ts, ctx.timeZone);
  else if (givenDate.length === 8 && isDigits(givenDate) && givenDate.charCodeAt(0) !== 45) date = givenDate;
  else return fail(`event_date: expected YYYYMMDD, got ${got(rawDate)}`);

  const rawPlatform = row['platform'];
  const p = optString(rawPlatform, 'platform');
  let platform: NewEvent['platform'] = 'WEB';
  if (p !== null) {
    const u = p.toUpperCase();
    if (u === 'WEB' || u === 'ANDROID' || u === 'IOS') platform = u;
    else return fail(`platform: expected WEB, ANDROID or IOS, got ${got(rawPlatform)}`);
  }
  const streamId = optString(row['stream_id'], 'stream_id') ?? ctx.streamId;
  const userId = optString(row['user_id'], 'user_id');

  // event_params: the first value of a key wins; session params go to their columns.
  const params: Params = {};
  let sessionId: bigint | null = null;
  let sessionNumber: number | null = null;
  let seenSessionId = false;
  let seenSessionNumber = false;
  const ep = optArray(row['event_params'], 'event_params');
  if (ep) {
    for (let k = 0; k < ep.length; k++) {
      const path = `event_params[${k}]`;
      const { key, entry } = entryKey(ep[k], path);
      const pv = toParamValue(entry['value'], `${path}.value`);
      if (!pv) continue;
      if (key === 'ga_session_id') {
        const n = sessionIntOf(pv);
        if (n === null) return fail(`${path}: ga_session_id must be an integer`);
        if (!seenSessionId) sessionId = n;
        seenSessionId = true;
      } else if (key === 'ga_session_number') {
        const n = sessionIntOf(pv);
        if (n === null) return fail(`${path}: ga_session_number must be an integer`);
        if (n < 0n || n > 2147483647n) return fail(`${path}: ga_session_number out of range`);
        if (!seenSessionNumber) sessionNumber = Number(n);
        seenSessionNumber = true;
      } else if (!hasOwn(params, key)) setOwn(params, key, pv);
    }
  }

  // user_properties
  const userProperties: Record<string, UserPropertyValue> = {};
  const up = optArray(row['user_properties'], 'user_properties');
  if (up) {
    for (let k = 0; k < up.length; k++) {
      const path = `user_properties[${k}]`;
      const { key, entry } = entryKey(up[k], path);
      const value = entry['value'];
      const pv = toParamValue(value, `${path}.value`);
      if (!pv) continue;
      const st = (value as Record<string, unknown>)['set_timestamp_micros'];
      const set = st === null || st === undefined ? ts : toBigInt(st, `${path}.value.set_timestamp_micros`);
      if (!hasOwn(userProperties, key)) setOwn(userProperties, key, { value: pv, set_timestamp_micros: set });
    }
  }

  const dev = optObject(row['device'], 'device');
  const deviceCategory = dev ? optString(dev['category'], 'device.category') : null;
  const brand = dev ? optString(dev['mobile_brand_name'], 'device.mobile_brand_name') : null;
  const model = dev ? optString(dev['mobile_model_name'], 'device.mobile_model_name') : null;
  const os = dev ? optString(dev['operating_system'], 'device.operating_system') : null;
  const osVersion = dev
    ? optString(dev['operating_system_version'], 'device.operating_system_version')
    : null;
  const language = dev ? optString(dev['language'], 'device.language') : null;
  const lat = dev
    ? yesNo(dev['is_limited_ad_tracking'], 'device.is_limited_ad_tracking', 'expected "Yes" or "No"')
    : null;
  const browser = dev ? optString(dev['browser'], 'device.browser') : null;
  const browserVersion = dev ? optString(dev['browser_version'], 'device.browser_version') : null;
  const webInfo = dev ? optObject(dev['web_info'], 'device.web_info') : null;
  const wiBrowser = webInfo ? optString(webInfo['browser'], 'device.web_info.browser') : null;
  const wiBrowserVersion = webInfo
    ? optString(webInfo['browser_version'], 'device.web_info.browser_version')
    : null;

  const geo = optObject(row['geo'], 'geo');
  const geoContinent = geo ? optString(geo['continent'], 'geo.continent') : null;
  const geoSubContinent = geo ? optString(geo['sub_continent'], 'geo.sub_continent') : null;
  const geoCountry = geo ? optString(geo['country'], 'geo.country') : null;
  const geoCountryId = geo ? optString(geo['country_id'], 'geo.country_id') : null;
  const geoRegion = geo ? optString(geo['region'], 'geo.region') : null;
  const geoCity = geo ? optString(geo['city'], 'geo.city') : null;

  const traffic = optObject(row['traffic_source'], 'traffic_source');
  const tsName = traffic ? optString(traffic['name'], 'traffic_source.name') : null;
  const tsMedium = traffic ? optString(traffic['medium'], 'traffic_source.medium') : null;
  const tsSource = traffic ? optString(traffic['source'], 'traffic_source.source') : null;

  const ec = optObject(row['ecommerce'], 'ecommerce');
  const txn = ec ? optString(ec['transaction_id'], 'ecommerce.transaction_id') : null;
  const revenue = ec ? optFinite(ec['purchase_revenue'], 'ecommerce.purchase_revenue') : null;
  const refund = ec ? optFinite(ec['refund_value'], 'ecommerce.refund_value') : null;

  const items = convertItems(row['items']);

  // privacy_info.ads_storage "No" maps like gtag's denied ad_storage (see gtag/README.md): both
  // consent columns DENIED; "Yes" is no explicit grant. Our own `consent` struct wins where set.
  const priv = optObject(row['privacy_info'], 'privacy_info');
  const ads = priv
    ? yesNo(priv['ads_storage'], 'privacy_info.ads_storage', 'expected "Yes", "No" or "Unset"')
    : null;
  const consent = optObject(row['consent'], 'consent');
  const cAdUserData = consent ? consentOf(consent['ad_user_data'], 'consent.ad_user_data') : null;
  const cAdPers = consent ? consentOf(consent['ad_personalization'], 'consent.ad_personalization') : null;
  const npa = consent
    ? yesNo(consent['non_personalized_ads'], 'consent.non_personalized_ads', 'expected a boolean')
    : null;
  const adsDenied = ads === false ? 'DENIED' : null;

  return {
    property_id: ctx.propertyId,
    stream_id: streamId,
    platform,
    event_name: name,
    event_timestamp: ts,
    event_date: date,
    received_at: ctx.nowMicros,
    source: 'import',
    user_pseudo_id: upid,
    user_id: userId === '' ? null : userId,
    ga_session_id: sessionId,
    ga_session_number: sessionNumber,
    event_params: params,
    user_properties: userProperties,
    device_category: deviceCategory,
    device_operating_system: os,
    device_operating_system_version: osVersion,
    device_browser: wiBrowser ?? browser,
    device_browser_version: wiBrowserVersion ?? browserVersion,
    device_language: language,
    device_mobile_brand_name: brand,
    device_mobile_model_name: model,
    device_is_limited_ad_tracking: lat,
    geo_continent: geoContinent,
    geo_sub_continent: geoSubContinent,
    geo_country: geoCountry,
    geo_country_id: geoCountryId,
    geo_region: geoRegion,
    geo_city: geoCity,
    traffic_source_source: tsSource,
    traffic_source_medium: tsMedium,
    traffic_source_name: tsName,
    ecommerce_transaction_id: txn,
    ecommerce_purchase_revenue: revenue,
    ecommerce_refund_value: refund,
    items,
    consent_ad_user_data: cAdUserData ?? adsDenied,
    consent_ad_personalization: cAdPers ?? adsDenied,
    non_personalized_ads: npa,
  };
}

/**
 * Converts one parsed BigQuery export row. Never throws for bad input: returns `{error}` with the
 * offending field's path (the caller adds the line number).
 */
export function bigQueryRowToEvent(row: unknown, ctx: ImportContext): RowResult {
  try {
    return { event: convert(row, ctx) };
  } catch (err) {
    if (err instanceof RowError) return { error: err.message };
    throw err;
  }
}

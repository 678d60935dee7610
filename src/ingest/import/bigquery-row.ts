// One GA4 BigQuery export row (the NDJSON form of events_YYYYMMDD) → NewEvent (spec §5).
// Hot path of bulk import: keep it allocation-light and regex-light.

import type { NewEvent, ParamValue, Params, UserPropertyValue } from '../../domain/event.ts';
import { eventDate, setOwn, show } from '../common.ts';

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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIntString(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 20) return false;
  let i = s.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === n) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** An INT64 given as a JSON number or a string of digits (BigQuery writes INT64 as strings). */
function toBigInt(v: unknown, path: string): bigint {
  if (typeof v === 'string') {
    if (isIntString(v)) return BigInt(v);
  } else if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  return fail(`${path}: expected an integer, got ${show(v)}`);
}

function toNumber(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') {
    const n = Number(v);
    if (!Number.isNaN(n) || v === 'NaN') return n;
  }
  return fail(`${path}: expected a number, got ${show(v)}`);
}

function optString(v: unknown, path: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return fail(`${path}: expected a string, got ${show(v)}`);
}

function optNumber(v: unknown, path: string): number | null {
  if (v === null || v === undefined) return null;
  return toNumber(v, path);
}

/** The populated arm of a BigQuery value record; null when every arm is null. */
function toParamValue(v: unknown, path: string): ParamValue | null {
  if (!isObject(v)) {
    if (v === null || v === undefined) return null;
    return fail(`${path}: expected an object, got ${show(v)}`);
  }
  const s = v['string_value'];
  if (s !== null && s !== undefined) {
    if (typeof s === 'string') return { string_value: s };
    return fail(`${path}.string_value: expected a string, got ${show(s)}`);
  }
  const i = v['int_value'];
  if (i !== null && i !== undefined) return { int_value: toBigInt(i, `${path}.int_value`) };
  const d = v['double_value'];
  if (d !== null && d !== undefined) return { double_value: toNumber(d, `${path}.double_value`) };
  const f = v['float_value'];
  if (f !== null && f !== undefined) return { double_value: toNumber(f, `${path}.float_value`) };
  return null;
}

/** JSON-safe form of a value record for items (int_value as a number). */
function toJsonParamValue(v: unknown, path: string): Record<string, unknown> | null {
  const pv = toParamValue(v, path);
  if (!pv) return null;
  if ('int_value' in pv) return { int_value: Number(pv.int_value) };
  return pv;
}

function sessionIdOf(pv: ParamValue, path: string): bigint {
  if ('int_value' in pv) return pv.int_value;
  if ('string_value' in pv && isIntString(pv.string_value)) return BigInt(pv.string_value);
  if ('double_value' in pv && Number.isInteger(pv.double_value)) return BigInt(pv.double_value);
  return fail(`${path}: ga_session_id must be an integer`);
}

const ITEM_NUMERIC: ReadonlySet<string> = new Set([
  'price',
  'price_in_usd',
  'quantity',
  'item_revenue',
  'item_revenue_in_usd',
  'item_refund',
  'item_refund_in_usd',
]);

function convertItems(v: unknown): Record<string, unknown>[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) return fail(`items: expected an array, got ${show(v)}`);
  const out: Record<string, unknown>[] = [];
  for (let j = 0; j < v.length; j++) {
    const raw: unknown = v[j];
    const path = `items[${j}]`;
    if (!isObject(raw)) return fail(`${path}: expected an object, got ${show(raw)}`);
    const item: Record<string, unknown> = {};
    for (const key in raw) {
      if (!Object.prototype.hasOwnProperty.call(raw, key)) continue;
      const val = raw[key];
      if (val === null || val === undefined) continue;
      if (key === 'item_params') {
        if (!Array.isArray(val)) return fail(`${path}.item_params: expected an array, got ${show(val)}`);
        const ip: Record<string, unknown> = {};
        let n = 0;
        for (let k = 0; k < val.length; k++) {
          const entry: unknown = val[k];
          const epath = `${path}.item_params[${k}]`;
          if (!isObject(entry) || typeof entry['key'] !== 'string')
            return fail(`${epath}: expected {key, value}`);
          const jv = toJsonParamValue(entry['value'], `${epath}.value`);
          if (jv) {
            setOwn(ip, entry['key'], jv);
            n++;
          }
        }
        if (n > 0) item['item_params'] = ip;
      } else if (ITEM_NUMERIC.has(key)) {
        setOwn(item, key, toNumber(val, `${path}.${key}`));
      } else if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') {
        setOwn(item, key, val);
      } else return fail(`${path}.${key}: expected a scalar, got ${show(val)}`);
    }
    out.push(item);
  }
  return out;
}

function yesNo(v: unknown, path: string): boolean | null {
  if (v === null || v === undefined) return null;
  if (v === 'Yes' || v === true) return true;
  if (v === 'No' || v === false) return false;
  return fail(`${path}: expected "Yes" or "No", got ${show(v)}`);
}

function convert(row: unknown, ctx: ImportContext): NewEvent {
  if (!isObject(row)) return fail(`expected a JSON object, got ${show(row)}`);

  const name = row['event_name'];
  if (typeof name !== 'string' || name === '')
    return fail(`event_name: expected a non-empty string, got ${show(name)}`);
  if (row['event_timestamp'] === null || row['event_timestamp'] === undefined)
    return fail('event_timestamp: required');
  const ts = toBigInt(row['event_timestamp'], 'event_timestamp');
  const upid = row['user_pseudo_id'];
  if (typeof upid !== 'string' || upid === '') {
    return fail(
      `user_pseudo_id: expected a non-empty string, got ${show(upid)} (rows without one cannot be imported)`,
    );
  }
  const rawDate = row['event_date'];
  let date: string;
  if (rawDate === null || rawDate === undefined) date = eventDate(ts, ctx.timeZone);
  else if (typeof rawDate === 'string' && rawDate.length === 8 && isIntString(rawDate)) date = rawDate;
  else return fail(`event_date: expected YYYYMMDD, got ${show(rawDate)}`);

  let platform: NewEvent['platform'] = 'WEB';
  const p = row['platform'];
  if (p === 'ANDROID' || p === 'IOS' || p === 'WEB') platform = p;
  else if (p !== null && p !== undefined)
    return fail(`platform: expected WEB, ANDROID or IOS, got ${show(p)}`);

  const sid = row['stream_id'];
  const streamId = sid === null || sid === undefined ? ctx.streamId : optString(sid, 'stream_id')!;

  // event_params
  const params: Params = {};
  let sessionId: bigint | null = null;
  let sessionNumber: number | null = null;
  const ep = row['event_params'];
  if (ep !== null && ep !== undefined) {
    if (!Array.isArray(ep)) return fail(`event_params: expected an array, got ${show(ep)}`);
    for (let k = 0; k < ep.length; k++) {
      const entry: unknown = ep[k];
      if (!isObject(entry)) return fail(`event_params[${k}]: expected {key, value}, got ${show(entry)}`);
      const key = entry['key'];
      if (typeof key !== 'string') return fail(`event_params[${k}].key: expected a string, got ${show(key)}`);
      const pv = toParamValue(entry['value'], `event_params[${k}].value`);
      if (!pv) continue;
      if (key === 'ga_session_id') sessionId = sessionIdOf(pv, `event_params[${k}]`);
      else if (key === 'ga_session_number') {
        const n = sessionIdOf(pv, `event_params[${k}]`);
        if (n < 0n || n > 2147483647n) return fail(`event_params[${k}]: ga_session_number out of range`);
        sessionNumber = Number(n);
      } else setOwn(params, key, pv);
    }
  }

  // user_properties
  const userProperties: Record<string, UserPropertyValue> = {};
  const up = row['user_properties'];
  if (up !== null && up !== undefined) {
    if (!Array.isArray(up)) return fail(`user_properties: expected an array, got ${show(up)}`);
    for (let k = 0; k < up.length; k++) {
      const entry: unknown = up[k];
      if (!isObject(entry) || typeof entry['key'] !== 'string')
        return fail(`user_properties[${k}]: expected {key, value}`);
      const value = entry['value'];
      const pv = toParamValue(value, `user_properties[${k}].value`);
      if (!pv) continue;
      const st = isObject(value) ? value['set_timestamp_micros'] : null;
      const set =
        st === null || st === undefined
          ? ts
          : toBigInt(st, `user_properties[${k}].value.set_timestamp_micros`);
      setOwn(userProperties, entry['key'], { value: pv, set_timestamp_micros: set });
    }
  }

  const device = row['device'];
  const dev = isObject(device) ? device : null;
  if (device !== null && device !== undefined && !dev)
    return fail(`device: expected an object, got ${show(device)}`);
  const webInfo = dev && isObject(dev['web_info']) ? dev['web_info'] : null;
  const geoRaw = row['geo'];
  const geo = isObject(geoRaw) ? geoRaw : null;
  if (geoRaw !== null && geoRaw !== undefined && !geo)
    return fail(`geo: expected an object, got ${show(geoRaw)}`);
  const tsRaw = row['traffic_source'];
  const traffic = isObject(tsRaw) ? tsRaw : null;
  if (tsRaw !== null && tsRaw !== undefined && !traffic)
    return fail(`traffic_source: expected an object, got ${show(tsRaw)}`);
  const ecRaw = row['ecommerce'];
  const ec = isObject(ecRaw) ? ecRaw : null;
  if (ecRaw !== null && ecRaw !== undefined && !ec)
    return fail(`ecommerce: expected an object, got ${show(ecRaw)}`);
  const privRaw = row['privacy_info'];
  const priv = isObject(privRaw) ? privRaw : null;
  // privacy_info.ads_storage "No" maps like gtag's denied ad_storage (see gtag/README.md).
  const adsDenied = priv ? yesNo(priv['ads_storage'], 'privacy_info.ads_storage') === false : false;
  const uid = row['user_id'];

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
    user_id: uid === null || uid === undefined || uid === '' ? null : optString(uid, 'user_id'),
    ga_session_id: sessionId,
    ga_session_number: sessionNumber,
    event_params: params,
    user_properties: userProperties,
    device_category: dev ? optString(dev['category'], 'device.category') : null,
    device_operating_system: dev ? optString(dev['operating_system'], 'device.operating_system') : null,
    device_operating_system_version: dev
      ? optString(dev['operating_system_version'], 'device.operating_system_version')
      : null,
    device_browser:
      webInfo?.['browser'] != null
        ? optString(webInfo['browser'], 'device.web_info.browser')
        : dev
          ? optString(dev['browser'], 'device.browser')
          : null,
    device_browser_version:
      webInfo?.['browser_version'] != null
        ? optString(webInfo['browser_version'], 'device.web_info.browser_version')
        : dev
          ? optString(dev['browser_version'], 'device.browser_version')
          : null,
    device_language: dev ? optString(dev['language'], 'device.language') : null,
    device_mobile_brand_name: dev ? optString(dev['mobile_brand_name'], 'device.mobile_brand_name') : null,
    device_mobile_model_name: dev ? optString(dev['mobile_model_name'], 'device.mobile_model_name') : null,
    device_is_limited_ad_tracking: dev
      ? yesNo(dev['is_limited_ad_tracking'], 'device.is_limited_ad_tracking')
      : null,
    geo_continent: geo ? optString(geo['continent'], 'geo.continent') : null,
    geo_sub_continent: geo ? optString(geo['sub_continent'], 'geo.sub_continent') : null,
    geo_country: geo ? optString(geo['country'], 'geo.country') : null,
    geo_country_id: geo ? optString(geo['country_id'], 'geo.country_id') : null,
    geo_region: geo ? optString(geo['region'], 'geo.region') : null,
    geo_city: geo ? optString(geo['city'], 'geo.city') : null,
    traffic_source_source: traffic ? optString(traffic['source'], 'traffic_source.source') : null,
    traffic_source_medium: traffic ? optString(traffic['medium'], 'traffic_source.medium') : null,
    traffic_source_name: traffic ? optString(traffic['name'], 'traffic_source.name') : null,
    ecommerce_transaction_id: ec ? optString(ec['transaction_id'], 'ecommerce.transaction_id') : null,
    ecommerce_purchase_revenue: ec ? optNumber(ec['purchase_revenue'], 'ecommerce.purchase_revenue') : null,
    ecommerce_refund_value: ec ? optNumber(ec['refund_value'], 'ecommerce.refund_value') : null,
    items: convertItems(row['items']),
    consent_ad_user_data: adsDenied ? 'DENIED' : null,
    consent_ad_personalization: adsDenied ? 'DENIED' : null,
    non_personalized_ads: null,
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

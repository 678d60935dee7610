// Bulk import of GA4 BigQuery-export rows (Parquet or NDJSON) with one INSERT … SELECT.
//
// The source's schema is read first (SELECT * … LIMIT 0) and the SELECT list is built from what
// the file has: a missing column or struct field becomes NULL instead of a bind error, so a
// trimmed export (no ecommerce, no privacy_info…) still loads. Every name that reaches the SQL
// text is one of our constants below; the file path and all values are bound ($1…).
//
// Mapping decisions (BigQuery shape -> events columns):
// - event_params / user_properties: list of {key, value{string_value,int_value,float_value,
//   double_value}} -> our compact JSON ({"s":…}|{"i":…}|{"d":…}); the first non-null arm in that
//   order wins; a param whose arms are all NULL is dropped. float_value counts as a double.
//   Non-finite doubles are stored as {"d":null}.
// - ga_session_id / ga_session_number come from event_params (int arm, else a numeric string)
//   and are removed from the stored params.
// - user_properties' set_timestamp_micros defaults to the row's event_timestamp.
// - event_date: the row's event_date when it is 8 digits, else the UTC date of event_timestamp.
// - device.browser(_version): device.web_info.* first (where BigQuery fills it for web), else
//   device.*. device.is_limited_ad_tracking 'Yes'/'No' (or a boolean) -> BOOLEAN.
// - consent: our own `consent{ad_user_data, ad_personalization, non_personalized_ads}` struct if
//   present (audex exports write it); else ad_personalization from privacy_info.ads_storage
//   ('Yes' -> GRANTED, 'No' -> DENIED). BigQuery has no ad_user_data equivalent.
// - platform: WEB/ANDROID/IOS (case-insensitive), anything else -> WEB. stream_id NULL -> ''.
// - items: kept as BigQuery has them (to_json of the list; NDJSON passes the raw JSON through).
// - A row lacking user_pseudo_id, event_name (NULL or '') or a numeric event_timestamp is
//   rejected: counted, and the first few reported with their 0-based row number and reason.
// - ingest_seq = base + row number in the file, so a file's rows keep file order; rejected rows
//   leave gaps.
// - NDJSON: read with a fixed schema (extra keys ignored). A line that is not JSON fails the
//   whole import (read_json has no per-line error report); src/ingest/import/ has the JS parser
//   with per-line errors for that case.

import { DuckDBListType, DuckDBStructType, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { EVENT_COLUMNS } from '../../domain/event.ts';
import { EVENTS_TABLE } from './schema.ts';
import { quoteIdent, quoteLiteral } from './sql.ts';

export type ImportFormat = 'parquet' | 'ndjson';

/** A column type tree: scalars by name, structs by field, lists by element. */
export type TypeTree =
  | { kind: 'scalar'; sqlType: string }
  | { kind: 'struct'; fields: Map<string, TypeTree> }
  | { kind: 'list'; element: TypeTree };

export interface ImportSource {
  /** FROM clause; $1 is the file path; yields the file's columns plus __row (0-based). */
  from: string;
  columns: Map<string, TypeTree>;
}

// NDJSON numbers are read as text and TRY_CAST in SQL: BigQuery's JSON export writes INT64 as
// strings ("int_value": "123"), and a typed read would fail the whole file on one odd value.
const VALUE_STRUCT =
  'STRUCT(string_value VARCHAR, int_value VARCHAR, float_value VARCHAR, double_value VARCHAR)';
const UP_VALUE_STRUCT =
  'STRUCT(string_value VARCHAR, int_value VARCHAR, float_value VARCHAR, double_value VARCHAR, set_timestamp_micros VARCHAR)';

/** The BigQuery-export columns we read from NDJSON (read_json's `columns`); required ones as text. */
const NDJSON_COLUMNS: [string, string][] = [
  ['event_date', 'VARCHAR'],
  ['event_timestamp', 'VARCHAR'],
  ['event_name', 'VARCHAR'],
  ['event_params', `STRUCT(key VARCHAR, value ${VALUE_STRUCT})[]`],
  ['user_id', 'VARCHAR'],
  ['user_pseudo_id', 'VARCHAR'],
  ['user_properties', `STRUCT(key VARCHAR, value ${UP_VALUE_STRUCT})[]`],
  [
    'device',
    'STRUCT(category VARCHAR, mobile_brand_name VARCHAR, mobile_model_name VARCHAR, operating_system VARCHAR, ' +
      'operating_system_version VARCHAR, language VARCHAR, is_limited_ad_tracking VARCHAR, browser VARCHAR, ' +
      'browser_version VARCHAR, web_info STRUCT(browser VARCHAR, browser_version VARCHAR))',
  ],
  [
    'geo',
    'STRUCT(continent VARCHAR, sub_continent VARCHAR, country VARCHAR, country_id VARCHAR, region VARCHAR, city VARCHAR)',
  ],
  ['traffic_source', 'STRUCT(name VARCHAR, medium VARCHAR, source VARCHAR)'],
  ['stream_id', 'VARCHAR'],
  ['platform', 'VARCHAR'],
  ['ecommerce', 'STRUCT(transaction_id VARCHAR, purchase_revenue VARCHAR, refund_value VARCHAR)'],
  ['items', 'JSON'],
  ['privacy_info', 'STRUCT(analytics_storage VARCHAR, ads_storage VARCHAR, uses_transient_token VARCHAR)'],
  ['consent', 'STRUCT(ad_user_data VARCHAR, ad_personalization VARCHAR, non_personalized_ads VARCHAR)'],
];

function ndjsonColumnsLiteral(): string {
  return `{${NDJSON_COLUMNS.map(([n, t]) => `${quoteIdent(n)}: ${quoteLiteral(t)}`).join(', ')}}`;
}

function toTree(t: DuckDBType): TypeTree {
  if (t instanceof DuckDBStructType) {
    const fields = new Map<string, TypeTree>();
    t.entryNames.forEach((n, i) => fields.set(n, toTree(t.entryTypes[i] as DuckDBType)));
    return { kind: 'struct', fields };
  }
  if (t instanceof DuckDBListType) return { kind: 'list', element: toTree(t.valueType) };
  return { kind: 'scalar', sqlType: t.toString() };
}

/** Reads the source's schema (no rows). Runs on the caller's connection with $1 = path. */
export async function describeSource(
  con: DuckDBConnection,
  path: string,
  format: ImportFormat,
): Promise<ImportSource> {
  const from =
    format === 'parquet'
      ? `(SELECT * EXCLUDE (file_row_number), file_row_number AS __row FROM read_parquet($1, file_row_number = true))`
      : `(SELECT *, row_number() OVER () - 1 AS __row FROM read_json($1, format = 'newline_delimited', ` +
        `columns = ${ndjsonColumnsLiteral()}))`;
  const reader = await con.runAndReadAll(`SELECT * FROM ${from} LIMIT 0`, [path]);
  const columns = new Map<string, TypeTree>();
  reader.columnNames().forEach((n, i) => columns.set(n, toTree(reader.columnType(i))));
  return { from, columns };
}

/** SQL for one path into the source, or null when the file lacks it. */
class Fields {
  constructor(private readonly root: Map<string, TypeTree>) {}

  tree(...path: string[]): TypeTree | null {
    let cur: TypeTree | undefined = this.root.get(path[0] ?? '');
    for (const p of path.slice(1)) {
      if (!cur || cur.kind !== 'struct') return null;
      cur = cur.fields.get(p);
    }
    return cur ?? null;
  }

  expr(...path: string[]): string | null {
    if (!this.tree(...path)) return null;
    return fieldPath(quoteIdent(path[0] as string), path.slice(1));
  }

  cast(type: string, ...path: string[]): string {
    const e = this.expr(...path);
    return e === null ? `NULL::${type}` : `TRY_CAST(${e} AS ${type})`;
  }
}

function fieldPath(base: string, path: string[]): string {
  return path.reduce((acc, p) => `struct_extract(${acc}, ${quoteLiteral(p)})`, base);
}

function fieldOf(tree: TypeTree | null, ...path: string[]): boolean {
  let cur = tree;
  for (const p of path) {
    if (!cur || cur.kind !== 'struct') return false;
    cur = cur.fields.get(p) ?? null;
  }
  return cur !== null;
}

/** The typed value arms of a {key, value{…}} element bound to lambda variable `p`. */
function valueArms(
  elem: TypeTree | null,
): { s: string; i: string; d: string; t: string; key: string } | null {
  if (!elem || !fieldOf(elem, 'key') || !fieldOf(elem, 'value')) return null;
  const arm = (name: string, type: string): string =>
    fieldOf(elem, 'value', name)
      ? `TRY_CAST(${fieldPath('p', ['value', name])} AS ${type})`
      : `NULL::${type}`;
  const dbl = arm('double_value', 'DOUBLE');
  const flt = arm('float_value', 'DOUBLE');
  return {
    key: `TRY_CAST(${fieldPath('p', ['key'])} AS VARCHAR)`,
    s: arm('string_value', 'VARCHAR'),
    i: arm('int_value', 'BIGINT'),
    d: `coalesce(${dbl}, ${flt})`,
    t: arm('set_timestamp_micros', 'BIGINT'),
  };
}

const SESSION_KEYS = ['ga_session_id', 'ga_session_number'];

/** '"s":…' | '"i":…' | '"d":…' without braces, NULL when every arm is NULL. */
function encodedArm(a: { s: string; i: string; d: string }): string {
  return (
    `CASE WHEN ${a.s} IS NOT NULL THEN '"s":' || to_json(${a.s}) ` +
    `WHEN ${a.i} IS NOT NULL THEN '"i":' || CAST(${a.i} AS VARCHAR) ` +
    `WHEN ${a.d} IS NOT NULL THEN '"d":' || CASE WHEN isfinite(${a.d}) THEN CAST(${a.d} AS VARCHAR) ELSE 'null' END END`
  );
}

function paramsJson(f: Fields): string {
  const list = f.expr('event_params');
  const tree = f.tree('event_params');
  const a = tree?.kind === 'list' ? valueArms(tree.element) : null;
  if (!list || !a) return `'{}'`;
  const excluded = SESSION_KEYS.map(quoteLiteral).join(', ');
  const entry = `CASE WHEN ${a.key} IS NULL OR ${a.key} IN (${excluded}) THEN NULL ELSE to_json(${a.key}) || ':{' || (${encodedArm(a)}) || '}' END`;
  return `'{' || coalesce(array_to_string(list_transform(${list}, p -> ${entry}), ','), '') || '}'`;
}

function userPropertiesJson(f: Fields, eventTs: string): string {
  const list = f.expr('user_properties');
  const tree = f.tree('user_properties');
  const a = tree?.kind === 'list' ? valueArms(tree.element) : null;
  if (!list || !a) return `'{}'`;
  const entry =
    `CASE WHEN ${a.key} IS NULL THEN NULL ELSE to_json(${a.key}) || ':{' || (${encodedArm(a)}) ` +
    `|| ',"t":' || CAST(coalesce(${a.t}, ${eventTs}) AS VARCHAR) || '}' END`;
  return `'{' || coalesce(array_to_string(list_transform(${list}, p -> ${entry}), ','), '') || '}'`;
}

/** An integer session param (int arm, else a numeric string or double), or NULL. */
function sessionParam(f: Fields, key: string, type: 'BIGINT' | 'INTEGER'): string {
  const list = f.expr('event_params');
  const tree = f.tree('event_params');
  const a = tree?.kind === 'list' ? valueArms(tree.element) : null;
  if (!list || !a) return `NULL::${type}`;
  const value = `TRY_CAST(coalesce(${a.i}, TRY_CAST(${a.s} AS BIGINT), TRY_CAST(${a.d} AS BIGINT)) AS ${type})`;
  return `list_filter(list_transform(${list}, p -> CASE WHEN ${a.key} = ${quoteLiteral(key)} THEN ${value} END), x -> x IS NOT NULL)[1]`;
}

function yesNoBool(f: Fields, ...path: string[]): string {
  const t = f.tree(...path);
  const e = f.expr(...path);
  if (!t || !e) return 'NULL::BOOLEAN';
  if (t.kind === 'scalar' && t.sqlType === 'BOOLEAN') return e;
  return `CASE lower(TRY_CAST(${e} AS VARCHAR)) WHEN 'yes' THEN true WHEN 'true' THEN true WHEN 'no' THEN false WHEN 'false' THEN false END`;
}

function consentValue(e: string): string {
  return `CASE upper(${e}) WHEN 'GRANTED' THEN 'GRANTED' WHEN 'DENIED' THEN 'DENIED' END`;
}

export interface ImportSql {
  /** $1 path -> one row {total, rejected}. Reads only the three required columns. */
  checkSql: string;
  /** $1 path, $2 limit -> rows {row, reason}. */
  examplesSql: string;
  /** $1 path, $2 property_id, $3 first ingest_seq, $4 received_at µs. */
  insertSql: string;
}

export function buildImportSql(source: ImportSource): ImportSql {
  const f = new Fields(source.columns);
  const upid = `NULLIF(${f.cast('VARCHAR', 'user_pseudo_id')}, '')`;
  const ename = `NULLIF(${f.cast('VARCHAR', 'event_name')}, '')`;
  const ets = f.cast('BIGINT', 'event_timestamp');
  const required = `SELECT __row, ${upid} AS __upid, ${ename} AS __ename, ${ets} AS __ets FROM ${source.from}`;
  const invalid = '__upid IS NULL OR __ename IS NULL OR __ets IS NULL';

  const checkSql = `SELECT count(*) AS total, count(*) FILTER (WHERE ${invalid}) AS rejected FROM (${required})`;
  const examplesSql =
    `SELECT __row AS row, concat_ws(', ', CASE WHEN __upid IS NULL THEN 'missing user_pseudo_id' END, ` +
    `CASE WHEN __ename IS NULL THEN 'missing event_name' END, ` +
    `CASE WHEN __ets IS NULL THEN 'missing or non-numeric event_timestamp' END) AS reason ` +
    `FROM (${required}) WHERE ${invalid} ORDER BY __row LIMIT $2`;

  const platform = f.cast('VARCHAR', 'platform');
  const eventDate = f.cast('VARCHAR', 'event_date');
  const adsStorage = f.cast('VARCHAR', 'privacy_info', 'ads_storage');
  const select: Record<(typeof EVENT_COLUMNS)[number][0], string> = {
    property_id: '$2::BIGINT',
    stream_id: `coalesce(${f.cast('VARCHAR', 'stream_id')}, '')`,
    platform: `CASE WHEN upper(${platform}) IN ('WEB', 'ANDROID', 'IOS') THEN upper(${platform}) ELSE 'WEB' END`,
    ingest_seq: '$3::BIGINT + __row',
    event_name: '__ename',
    event_timestamp: '__ets',
    event_date: `CASE WHEN regexp_full_match(coalesce(${eventDate}, ''), '[0-9]{8}') THEN ${eventDate} ELSE strftime(make_timestamp(__ets), '%Y%m%d') END`,
    received_at: '$4::BIGINT',
    source: `'import'`,
    user_pseudo_id: '__upid',
    user_id: f.cast('VARCHAR', 'user_id'),
    ga_session_id: sessionParam(f, 'ga_session_id', 'BIGINT'),
    ga_session_number: sessionParam(f, 'ga_session_number', 'INTEGER'),
    event_params: paramsJson(f),
    user_properties: userPropertiesJson(f, '__ets'),
    device_category: f.cast('VARCHAR', 'device', 'category'),
    device_operating_system: f.cast('VARCHAR', 'device', 'operating_system'),
    device_operating_system_version: f.cast('VARCHAR', 'device', 'operating_system_version'),
    device_browser: `coalesce(${f.cast('VARCHAR', 'device', 'web_info', 'browser')}, ${f.cast('VARCHAR', 'device', 'browser')})`,
    device_browser_version: `coalesce(${f.cast('VARCHAR', 'device', 'web_info', 'browser_version')}, ${f.cast('VARCHAR', 'device', 'browser_version')})`,
    device_language: f.cast('VARCHAR', 'device', 'language'),
    device_mobile_brand_name: f.cast('VARCHAR', 'device', 'mobile_brand_name'),
    device_mobile_model_name: f.cast('VARCHAR', 'device', 'mobile_model_name'),
    device_is_limited_ad_tracking: yesNoBool(f, 'device', 'is_limited_ad_tracking'),
    geo_continent: f.cast('VARCHAR', 'geo', 'continent'),
    geo_sub_continent: f.cast('VARCHAR', 'geo', 'sub_continent'),
    geo_country: f.cast('VARCHAR', 'geo', 'country'),
    geo_country_id: f.cast('VARCHAR', 'geo', 'country_id'),
    geo_region: f.cast('VARCHAR', 'geo', 'region'),
    geo_city: f.cast('VARCHAR', 'geo', 'city'),
    traffic_source_source: f.cast('VARCHAR', 'traffic_source', 'source'),
    traffic_source_medium: f.cast('VARCHAR', 'traffic_source', 'medium'),
    traffic_source_name: f.cast('VARCHAR', 'traffic_source', 'name'),
    ecommerce_transaction_id: f.cast('VARCHAR', 'ecommerce', 'transaction_id'),
    ecommerce_purchase_revenue: f.cast('DOUBLE', 'ecommerce', 'purchase_revenue'),
    ecommerce_refund_value: f.cast('DOUBLE', 'ecommerce', 'refund_value'),
    items: f.expr('items') === null ? `'[]'` : `coalesce(CAST(to_json(${f.expr('items')}) AS VARCHAR), '[]')`,
    consent_ad_user_data: consentValue(f.cast('VARCHAR', 'consent', 'ad_user_data')),
    consent_ad_personalization: `coalesce(${consentValue(f.cast('VARCHAR', 'consent', 'ad_personalization'))}, CASE ${adsStorage} WHEN 'Yes' THEN 'GRANTED' WHEN 'No' THEN 'DENIED' END)`,
    non_personalized_ads: yesNoBool(f, 'consent', 'non_personalized_ads'),
  };
  const names = EVENT_COLUMNS.map(([n]) => n);
  // The required fields are computed once (__upid/__ename/__ets) and reused by other columns.
  const staged = `SELECT ${upid} AS __upid, ${ename} AS __ename, ${ets} AS __ets, * FROM ${source.from}`;
  const insertSql =
    `INSERT INTO ${EVENTS_TABLE} (${names.map(quoteIdent).join(', ')})\n` +
    `SELECT ${names.map((n) => select[n]).join(',\n  ')}\n` +
    `FROM (SELECT * FROM (${staged}) WHERE NOT (${invalid}))`;
  return { checkSql, examplesSql, insertSql };
}

// The import source: which columns (and nested fields, with their types) a file has.
//
// The schema is read first (SELECT * … LIMIT 0) and the mapping is built from what the file has:
// a missing column or struct field becomes NULL instead of a bind error, so a trimmed export (no
// ecommerce, no privacy_info…) still loads.

import {
  DuckDBListLogicalType,
  DuckDBStructLogicalType,
  type DuckDBConnection,
  type DuckDBLogicalType,
} from '@duckdb/node-api';
import { join, param, sql, type Fragment } from '../../../audience/compile/sql.ts';
import { ITEM_FIELDS } from '../../../ingest/import/bigquery-fields.ts';
import { quoted, statement } from './fragments.ts';

export type ImportFormat = 'parquet' | 'ndjson';

/** A column type tree: scalars by name, structs by field, lists by element. */
export type TypeTree =
  | { kind: 'scalar'; sqlType: string }
  | { kind: 'struct'; fields: Map<string, TypeTree> }
  | { kind: 'list'; element: TypeTree };

export interface ImportSource {
  /** FROM clause; $1 is the file path; yields the file's columns plus __row (0-based). */
  from: Fragment;
  columns: Map<string, TypeTree>;
}

// NDJSON leaves are read as text and converted in SQL: BigQuery's JSON export writes INT64 as
// strings ("int_value": "123"), and a typed read would fail the whole file on one odd value.
const VALUE_STRUCT =
  'STRUCT(string_value VARCHAR, int_value VARCHAR, float_value VARCHAR, double_value VARCHAR)';
const UP_VALUE_STRUCT =
  'STRUCT(string_value VARCHAR, int_value VARCHAR, float_value VARCHAR, double_value VARCHAR, set_timestamp_micros VARCHAR)';
const ITEM_STRUCT = `STRUCT(${ITEM_FIELDS.map((f) => `${f.name} VARCHAR`).join(', ')}, item_params STRUCT(key VARCHAR, value ${VALUE_STRUCT})[])`;

/** The BigQuery-export columns we read from NDJSON (read_json's `columns`). */
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
  ['items', `${ITEM_STRUCT}[]`],
  ['privacy_info', 'STRUCT(analytics_storage VARCHAR, ads_storage VARCHAR, uses_transient_token VARCHAR)'],
  ['consent', 'STRUCT(ad_user_data VARCHAR, ad_personalization VARCHAR, non_personalized_ads VARCHAR)'],
];

function ndjsonColumns(): Fragment {
  return sql`{${join(
    NDJSON_COLUMNS.map(([n, t]) => sql`${quoted(n)}: ${param(t)}`),
    ', ',
  )}}`;
}

/** The FROM clause of a file: its columns plus __row, the 0-based row number in the file. */
export function sourceFrom(format: ImportFormat): Fragment {
  return format === 'parquet'
    ? sql`(SELECT * EXCLUDE (file_row_number), file_row_number AS __row FROM read_parquet($1, file_row_number = true))`
    : sql`(SELECT *, row_number() OVER () - 1 AS __row FROM read_json($1, format = 'newline_delimited', columns = ${ndjsonColumns()}))`;
}

/** The type tree of a column; the JSON alias (read_json's type for mixed values) is kept. */
function toTree(t: DuckDBLogicalType): TypeTree {
  if (t instanceof DuckDBStructLogicalType) {
    const fields = new Map<string, TypeTree>();
    t.entryNames().forEach((n, i) => fields.set(n, toTree(t.entryLogicalType(i))));
    return { kind: 'struct', fields };
  }
  if (t instanceof DuckDBListLogicalType) return { kind: 'list', element: toTree(t.valueType) };
  return { kind: 'scalar', sqlType: t.alias === 'JSON' ? 'JSON' : t.asType().toString() };
}

/** Reads the source's schema (no rows). Runs on the caller's connection with $1 = path. */
export async function describeSource(
  con: DuckDBConnection,
  path: string,
  format: ImportFormat,
): Promise<ImportSource> {
  const from = sourceFrom(format);
  const reader = await con.runAndReadAll(statement(sql`SELECT * FROM ${from} LIMIT 0`), [path]);
  const columns = new Map<string, TypeTree>();
  reader.columnNames().forEach((n, i) => columns.set(n, toTree(reader.columnLogicalType(i))));
  return { from, columns };
}

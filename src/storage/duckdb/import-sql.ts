// Bulk import of GA4 BigQuery-export rows (Parquet or NDJSON) with one INSERT … SELECT.
//
// The source's schema is read first (SELECT * … LIMIT 0) and the SELECT list is built from what
// the file has: a missing column or struct field becomes NULL instead of a bind error, so a
// trimmed export (no ecommerce, no privacy_info…) still loads. Every name that reaches the SQL
// text is one of our constants below; the file path, the property and its time zone are bound.
//
// The mapping is the one of src/ingest/import/bigquery-row.ts (the NDJSON path), rule for rule
// and message for message; src/ingest/import/README.md lists the rules and
// test/import-mappings.duckdb.test.ts checks that both paths store the same bytes. In short:
// - Values are read by their Parquet type: a string field accepts text and numbers (numbers
//   printed as JavaScript prints them), an INT64 field integers and digit strings, a number field
//   numbers and decimal strings (plus "NaN"/"Infinity"/"-Infinity"); anything else rejects the row
//   with `<field path>: expected …, got <value>`. The first problem in a fixed field order is the
//   reason (same order as bigquery-row.ts).
// - event_params / user_properties -> our compact JSON ({"s":…}|{"i":…}|{"d":…}); the first
//   non-null arm of string_value, int_value, double_value, float_value wins (only that arm is
//   checked); a param whose arms are all NULL is dropped; a repeated key keeps its first value.
//   Doubles are printed as JavaScript prints them (2, 2.5, 1e+21); non-finite ones as null.
// - ga_session_id / ga_session_number come from event_params (int arm, digit string or integral
//   double) and are removed from the stored params. No sessionisation: a row without
//   ga_session_id is stored without one, as in BigQuery.
// - user_properties' set_timestamp_micros defaults to the row's event_timestamp.
// - event_date: the row's event_date (8 digits); missing -> the date of event_timestamp in the
//   property's time zone (ICU `timezone`), as GA defines it.
// - platform: WEB/ANDROID/IOS in any case, stored upper-case; missing -> WEB; other -> rejected.
// - consent: our own `consent{ad_user_data, ad_personalization, non_personalized_ads}` struct
//   wins where set; else privacy_info.ads_storage "No" -> both consent columns DENIED (as gtag's
//   denied ad_storage); "Yes"/"Unset" -> not set.
// - items: the MP shape: known BigQuery item fields in BigQuery's order (strings as strings,
//   numeric ones as numbers, non-finite dropped), item_params as {key: {string_value} |
//   {int_value: number} | {double_value}}; unknown item fields are dropped.
// - ingest_seq = base + row number in the file, so a file's rows keep file order; rejected rows
//   leave gaps.
// - NDJSON: read with a fixed schema of text leaves (extra keys ignored), so JSON types are not
//   seen (a number where a string belongs is accepted). A line that is not JSON fails the whole
//   import (read_json has no per-line error report); src/ingest/import/ has the JS parser with
//   per-line errors and exact JSON types, which the API uses.

import { createHash } from 'node:crypto';
import {
  DuckDBListLogicalType,
  DuckDBStructLogicalType,
  type DuckDBConnection,
  type DuckDBLogicalType,
} from '@duckdb/node-api';
import { EVENT_COLUMNS, NUMERIC_STRING_PATTERN } from '../../domain/event.ts';
import { ITEM_FIELDS, MAX_EVENT_TIMESTAMP } from '../../ingest/import/bigquery-fields.ts';
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

function ndjsonColumnsLiteral(): string {
  return `{${NDJSON_COLUMNS.map(([n, t]) => `${quoteIdent(n)}: ${quoteLiteral(t)}`).join(', ')}}`;
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
  const from =
    format === 'parquet'
      ? `(SELECT * EXCLUDE (file_row_number), file_row_number AS __row FROM read_parquet($1, file_row_number = true))`
      : `(SELECT *, row_number() OVER () - 1 AS __row FROM read_json($1, format = 'newline_delimited', ` +
        `columns = ${ndjsonColumnsLiteral()}))`;
  const reader = await con.runAndReadAll(`SELECT * FROM ${from} LIMIT 0`, [path]);
  const columns = new Map<string, TypeTree>();
  reader.columnNames().forEach((n, i) => columns.set(n, toTree(reader.columnLogicalType(i))));
  return { from, columns };
}

// ---------------------------------------------------------------------------------------------
// Typed readers. A Node is an SQL expression with its type (null: the file lacks it).

interface Node {
  sql: string;
  tree: TypeTree | null;
}

/** A converted value: `v` (NULL when absent or invalid) and `bad` (present but invalid). */
interface Val {
  v: string;
  bad: string;
  /** The raw value as text, for messages. */
  got: string;
}

const ABSENT: Node = { sql: 'NULL', tree: null };
const INT_TYPE = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;
const FLOAT_TYPE = /^(FLOAT|DOUBLE|DECIMAL.*)$/;

function scalarType(n: Node): string | null {
  return n.tree?.kind === 'scalar' ? n.tree.sqlType : null;
}

/** A JSON-typed value (read_json's type for a field of mixed JSON types); JSON null reads as NULL. */
function isJson(n: Node): boolean {
  return scalarType(n) === 'JSON';
}

function node(sql: string, tree: TypeTree): Node {
  const n = { sql, tree };
  return isJson(n) ? { sql: `CASE WHEN json_type(${sql}) <> 'NULL' THEN ${sql} END`, tree } : n;
}

/** A MAP-typed value: what read_json infers for an object that is `{}` in every row. */
function isMap(n: Node): boolean {
  return scalarType(n)?.startsWith('MAP(') ?? false;
}

const JSON_TREE: TypeTree = { kind: 'scalar', sqlType: 'JSON' };

function child(n: Node, name: string): Node {
  // An object column typed JSON (mixed types across rows, or `{}` everywhere) or MAP: its fields
  // are read as JSON values, so they are checked as the JS path checks them.
  if (isJson(n)) return node(`json_extract(${n.sql}, ${quoteLiteral(`$.${name}`)})`, JSON_TREE);
  if (isMap(n)) return node(`CAST(map_extract(${n.sql}, ${quoteLiteral(name)})[1] AS JSON)`, JSON_TREE);
  if (!n.tree || n.tree.kind !== 'struct') return ABSENT;
  const t = n.tree.fields.get(name);
  return t ? node(`struct_extract(${n.sql}, ${quoteLiteral(name)})`, t) : ABSENT;
}

function elementOf(n: Node, variable: string): Node {
  return n.tree?.kind === 'list' ? { sql: variable, tree: n.tree.element } : ABSENT;
}

/**
 * Binds `value` to a lambda variable once: `fn(variable)` sees it without repeating the SQL.
 *
 * The variable is named after the value's text (prefix + digest), not after a counter: the same
 * file schema always gives the same SQL, and the builder keeps no state between calls. Nested
 * lambdas cannot capture each other's variable by mistake: an inner value that uses an outer
 * variable contains its name, so its text (and name) differ; an inner value with the very same
 * text gets the same name, and shadowing then binds the same value.
 */
function bind(value: string, prefix: string, fn: (v: string) => string): string {
  const variable = lambdaVariable(prefix, value);
  return `list_transform([${value}], ${variable} -> ${fn(variable)})[1]`;
}

function lambdaVariable(prefix: string, value: string): string {
  return `${prefix}_${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

/**
 * A DOUBLE printed exactly as JavaScript's String(number) prints it: integers below 1e21 without
 * a fraction, 1e+21 and 1e-7 with an exponent, NaN / Infinity / -Infinity by name.
 */
export function jsNumber(d: string): string {
  const expForm = (sv: string): string =>
    bind(
      `regexp_extract(${sv}, '^(-?)([0-9])(?:[.]([0-9]+))?e([+-][0-9]+)$', ['sg', 'a', 'b', 'e'])`,
      'jm',
      (mv) => {
        const digits = `(${mv}.a || ${mv}.b)`;
        const n = `(CAST(${mv}.e AS INTEGER) + 1)`;
        return (
          `CASE WHEN ${n} BETWEEN -5 AND 0 THEN ${mv}.sg || '0.' || repeat('0', -${n}) || ${digits} ` +
          `WHEN ${n} BETWEEN 1 AND 21 THEN CASE WHEN length(${digits}) <= ${n} ` +
          `THEN ${mv}.sg || ${digits} || repeat('0', ${n} - length(${digits})) ` +
          `ELSE ${mv}.sg || left(${digits}, ${n}) || '.' || substr(${digits}, ${n} + 1) END ` +
          `ELSE ${mv}.sg || ${mv}.a || CASE WHEN ${mv}.b <> '' THEN '.' || ${mv}.b ELSE '' END || 'e' || ` +
          `CASE WHEN ${n} - 1 < 0 THEN '-' ELSE '+' END || CAST(abs(${n} - 1) AS VARCHAR) END`
        );
      },
    );
  // The common cases (integers, plain decimals) are computed inline; only exponent forms pay
  // for binding the text to a lambda variable.
  return inlineOrBind(
    d,
    'jx',
    (xv) =>
      `CASE WHEN ${xv} IS NULL THEN NULL WHEN isnan(${xv}) THEN 'NaN' ` +
      `WHEN isinf(${xv}) THEN CASE WHEN ${xv} > 0 THEN 'Infinity' ELSE '-Infinity' END ` +
      `WHEN ${xv} = trunc(${xv}) AND abs(${xv}) <= 9007199254740992 THEN CAST(CAST(${xv} AS BIGINT) AS VARCHAR) ` +
      `WHEN abs(${xv}) >= 0.001 AND abs(${xv}) < 1e15 THEN CAST(${xv} AS VARCHAR) ` +
      `ELSE ${bind(
        `CAST(${xv} AS VARCHAR)`,
        'js',
        (sv) =>
          `CASE WHEN contains(${sv}, 'e') THEN ${expForm(sv)} WHEN ends_with(${sv}, '.0') THEN left(${sv}, -2) ELSE ${sv} END`,
      )} END`,
  );
}

/** fn(value) with a cheap value (a column, a field, a cast of one) inlined, else bound once. */
function inlineOrBind(value: string, prefix: string, fn: (v: string) => string): string {
  return CHEAP_EXPR.test(value) ? fn(`(${value})`) : bind(value, prefix, fn);
}

const CHEAP_EXPR =
  /^(CAST\()?(struct_extract\()*"?[a-z_][a-z0-9_]*"?(, '[a-z0-9_]+'\))*( AS (DOUBLE|BIGINT)\))?$/;

/** The raw value as text for a message: text as is, numbers as JavaScript prints them, else JSON. */
function gotText(n: Node): string {
  const t = scalarType(n);
  if (t === 'VARCHAR') return n.sql;
  if (t && INT_TYPE.test(t)) return `CAST(${n.sql} AS VARCHAR)`;
  if (t && FLOAT_TYPE.test(t)) return jsNumber(`CAST(${n.sql} AS DOUBLE)`);
  if (t === 'JSON')
    return (
      `CASE json_type(${n.sql}) WHEN 'VARCHAR' THEN ${n.sql} ->> '$' ` +
      `WHEN 'BIGINT' THEN ${jsNumber(`CAST(${n.sql} AS DOUBLE)`)} WHEN 'UBIGINT' THEN ${jsNumber(`CAST(${n.sql} AS DOUBLE)`)} ` +
      `WHEN 'DOUBLE' THEN ${jsNumber(`CAST(${n.sql} AS DOUBLE)`)} ELSE CAST(${n.sql} AS VARCHAR) END`
    );
  return `CAST(to_json(${n.sql}) AS VARCHAR)`;
}

const JSON_NUMBER = (sql: string): string => `json_type(${sql}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')`;

/**
 * A JSON-typed node as the scalar JSON.parse would give: its text when a JSON string, its
 * number (as DOUBLE) when a JSON number; `other` says whether anything else (objects, arrays,
 * booleans) is present.
 */
function jsonParts(n: Node): { text: string; number: string; other: string } {
  return {
    text: `CASE WHEN json_type(${n.sql}) = 'VARCHAR' THEN ${n.sql} ->> '$' END`,
    number: `CASE WHEN ${JSON_NUMBER(n.sql)} THEN CAST(${n.sql} AS DOUBLE) END`,
    other: `(${n.sql} IS NOT NULL AND json_type(${n.sql}) NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE'))`,
  };
}

/** show() of src/ingest/common.ts: at most 100 characters. */
function shown(text: string): string {
  return bind(
    `coalesce(${text}, 'null')`,
    'sh',
    (v) => `CASE WHEN length(${v}) > 100 THEN left(${v}, 97) || '...' ELSE ${v} END`,
  );
}

/** OR of boolean SQL terms, dropping constant false ones. */
function orOf(terms: string[]): string {
  const live = terms.filter((t) => t !== 'false');
  return live.length ? `(${live.join(' OR ')})` : 'false';
}

function notNull(n: Node): string {
  return n.tree ? `(${n.sql} IS NOT NULL)` : 'false';
}

/** A string: text, or (unless strict) a number printed as JavaScript does. */
function readString(n: Node, strict = false): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : 'NULL';
  if (!n.tree) return { v: 'NULL::VARCHAR', bad: 'false', got };
  if (t === 'VARCHAR') return { v: n.sql, bad: 'false', got };
  if (t === 'JSON') {
    const j = jsonParts(n);
    if (strict) return { v: j.text, bad: `(${n.sql} IS NOT NULL AND ${j.text} IS NULL)`, got };
    return { v: `coalesce(${j.text}, ${jsNumber(j.number)})`, bad: j.other, got };
  }
  if (!strict && t && INT_TYPE.test(t)) return { v: `CAST(${n.sql} AS VARCHAR)`, bad: 'false', got };
  if (!strict && t && FLOAT_TYPE.test(t))
    return { v: jsNumber(`CAST(${n.sql} AS DOUBLE)`), bad: 'false', got };
  return { v: 'NULL::VARCHAR', bad: notNull(n), got };
}

const INT64_RANGE = (x: string): string =>
  `(${x} = trunc(${x}) AND ${x} >= -9223372036854775808.0 AND ${x} < 9223372036854775808.0)`;

/** An INT64: an integer, a string of digits (optional '-') or an integral double, in range. */
function readInt(n: Node): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : 'NULL';
  if (!n.tree) return { v: 'NULL::BIGINT', bad: 'false', got };
  let v: string;
  if (t === 'BIGINT') return { v: n.sql, bad: 'false', got };
  if (t === 'JSON') {
    const j = jsonParts(n);
    v =
      `CASE WHEN regexp_full_match(${j.text}, '-?[0-9]+') THEN TRY_CAST(${j.text} AS BIGINT) ` +
      `WHEN ${INT64_RANGE(j.number)} THEN CAST(${j.number} AS BIGINT) END`;
  } else if (t && INT_TYPE.test(t)) v = `TRY_CAST(${n.sql} AS BIGINT)`;
  else if (t === 'VARCHAR')
    v = `CASE WHEN regexp_full_match(${n.sql}, '-?[0-9]+') THEN TRY_CAST(${n.sql} AS BIGINT) END`;
  else if (t && FLOAT_TYPE.test(t))
    v = inlineOrBind(
      `CAST(${n.sql} AS DOUBLE)`,
      'ix',
      (x) => `CASE WHEN ${INT64_RANGE(x)} THEN CAST(${x} AS BIGINT) END`,
    );
  else return { v: 'NULL::BIGINT', bad: notNull(n), got };
  return { v, bad: `(${n.sql} IS NOT NULL AND ${v} IS NULL)`, got };
}

/** A number: numeric types, decimal strings, "NaN", "Infinity", "-Infinity". May be non-finite. */
function readNumber(n: Node): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : 'NULL';
  if (!n.tree) return { v: 'NULL::DOUBLE', bad: 'false', got };
  let v: string;
  if (t && (INT_TYPE.test(t) || FLOAT_TYPE.test(t)))
    return { v: `CAST(${n.sql} AS DOUBLE)`, bad: 'false', got };
  const j = t === 'JSON' ? jsonParts(n) : null;
  if (t === 'VARCHAR' || j)
    v = bind(
      j ? j.text : n.sql,
      'nx',
      (x) =>
        `CASE WHEN regexp_full_match(${x}, ${quoteLiteral(NUMERIC_STRING_PATTERN)}) ` +
        `THEN coalesce(TRY_CAST(${x} AS DOUBLE), CASE WHEN starts_with(${x}, '-') THEN '-inf'::DOUBLE ELSE 'inf'::DOUBLE END) ` +
        `WHEN ${x} = 'NaN' THEN 'nan'::DOUBLE WHEN ${x} = 'Infinity' THEN 'inf'::DOUBLE ` +
        `WHEN ${x} = '-Infinity' THEN '-inf'::DOUBLE END`,
    );
  else return { v: 'NULL::DOUBLE', bad: notNull(n), got };
  if (j) v = `coalesce(${j.number}, ${v})`;
  return { v, bad: `(${n.sql} IS NOT NULL AND ${v} IS NULL)`, got };
}

/** "Yes"/"true" -> true, "No"/"false" -> false (any case), "Unset" -> NULL; a BOOLEAN as is. */
function readYesNo(n: Node): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : 'NULL';
  if (!n.tree) return { v: 'NULL::BOOLEAN', bad: 'false', got };
  if (t === 'BOOLEAN') return { v: n.sql, bad: 'false', got };
  if (t === 'JSON') {
    const text = `CASE WHEN json_type(${n.sql}) = 'VARCHAR' THEN lower(${n.sql} ->> '$') WHEN json_type(${n.sql}) = 'BOOLEAN' THEN CAST(${n.sql} AS VARCHAR) END`;
    return {
      v: `CASE ${text} WHEN 'yes' THEN true WHEN 'true' THEN true WHEN 'no' THEN false WHEN 'false' THEN false END`,
      bad: `(${n.sql} IS NOT NULL AND coalesce(${text}, '') NOT IN ('yes', 'true', 'no', 'false', 'unset'))`,
      got,
    };
  }
  if (t !== 'VARCHAR') return { v: 'NULL::BOOLEAN', bad: notNull(n), got };
  const v = `CASE lower(${n.sql}) WHEN 'yes' THEN true WHEN 'true' THEN true WHEN 'no' THEN false WHEN 'false' THEN false END`;
  return {
    v,
    bad: `(${n.sql} IS NOT NULL AND lower(${n.sql}) NOT IN ('yes', 'true', 'no', 'false', 'unset'))`,
    got,
  };
}

/** The message when `bad`, else NULL. `path` is an SQL text expression. */
function problem(bad: string, path: string, what: string, got: string | null): string {
  if (bad === 'false') return 'NULL';
  const tail =
    got === null ? quoteLiteral(`: ${what}`) : `${quoteLiteral(`: ${what}, got `)} || ${shown(got)}`;
  return `CASE WHEN ${bad} THEN ${path} || ${tail} END`;
}

function lit(s: string): string {
  return quoteLiteral(s);
}

/** A struct (object) field that is present but of another type. */
function containerProblem(n: Node, path: string, kind: 'struct' | 'list'): string {
  if (kind === 'struct') return containerProblemAt(n, lit(path));
  if (!n.tree || n.tree.kind === kind) return 'NULL';
  return problem(notNull(n), lit(path), 'expected an array', gotText(n));
}

// ---------------------------------------------------------------------------------------------
// Key/value lists (event_params, user_properties, item_params)

interface ArmSql {
  /** Which arm is set (first non-null raw arm): 1 string, 2 int, 3 double, 4 float, NULL none. */
  which: string;
  /** The first problem of the chosen arm (message), or NULL. */
  err: string;
  /** Cheap guard: true whenever `err` may be set. */
  anyBad: string;
  /** Per arm (string, int, double, float): the raw arm is not NULL. */
  present: [string, string, string, string];
  s: Val;
  i: Val;
  d: Val;
  f: Val;
}

function arms(value: Node, path: string): ArmSql {
  const sN = child(value, 'string_value');
  const iN = child(value, 'int_value');
  const dN = child(value, 'double_value');
  const fN = child(value, 'float_value');
  const s = readString(sN, true);
  const i = readInt(iN);
  const d = readNumber(dN);
  const f = readNumber(fN);
  const which =
    `CASE WHEN ${notNull(sN)} THEN 1 WHEN ${notNull(iN)} THEN 2 ` +
    `WHEN ${notNull(dN)} THEN 3 WHEN ${notNull(fN)} THEN 4 END`;
  const anyBad = orOf([s.bad, i.bad, d.bad, f.bad]);
  const err =
    anyBad === 'false'
      ? 'NULL'
      : `CASE WHEN ${notNull(sN)} THEN ${problem(s.bad, `${path} || '.string_value'`, 'expected a string', s.got)} ` +
        `WHEN ${notNull(iN)} THEN ${problem(i.bad, `${path} || '.int_value'`, 'expected an integer', i.got)} ` +
        `WHEN ${notNull(dN)} THEN ${problem(d.bad, `${path} || '.double_value'`, 'expected a number', d.got)} ` +
        `WHEN ${notNull(fN)} THEN ${problem(f.bad, `${path} || '.float_value'`, 'expected a number', f.got)} END`;
  return { which, err, anyBad, present: [notNull(sN), notNull(iN), notNull(dN), notNull(fN)], s, i, d, f };
}

function finiteOrNull(d: string): string {
  return `CASE WHEN isfinite(${d}) THEN ${jsNumber(d)} ELSE 'null' END`;
}

/** Compact event-param encoding without braces: "s":…, "i":…, "d":…; NULL when no arm. */
function compactValue(a: ArmSql): string {
  return armCase(a, [
    `'"s":' || to_json(${a.s.v})`,
    `'"i":' || CAST(${a.i.v} AS VARCHAR)`,
    `'"d":' || ${finiteOrNull(a.d.v)}`,
    `'"d":' || ${finiteOrNull(a.f.v)}`,
  ]);
}

/** CASE over the set arm (first non-null raw one) without computing `which` first. */
function armCase(a: ArmSql, results: [string, string, string, string]): string {
  const branches = a.present
    .map((cond, k) => (cond === 'false' ? null : `WHEN ${cond} THEN ${results[k]}`))
    .filter((b): b is string => b !== null);
  return branches.length ? `CASE ${branches.join(' ')} END` : 'NULL::VARCHAR';
}

/** Item-param encoding (JSON-safe): "string_value":…, "int_value":<number>, "double_value":…. */
function itemParamValue(a: ArmSql): string {
  return armCase(a, [
    `'"string_value":' || to_json(${a.s.v})`,
    `'"int_value":' || ${jsNumber(`CAST(${a.i.v} AS DOUBLE)`)}`,
    `'"double_value":' || ${finiteOrNull(a.d.v)}`,
    `'"double_value":' || ${finiteOrNull(a.f.v)}`,
  ]);
}

/** An integral session value from the chosen arm (digit string, int, integral double), or NULL. */
function sessionValue(a: ArmSql): string {
  const fromDouble = (d: string): string =>
    inlineOrBind(d, 'sx', (x) => `CASE WHEN ${INT64_RANGE(x)} THEN CAST(${x} AS BIGINT) END`);
  const [sp, ip, dp, fp] = a.present;
  const branches = [
    [sp, `CASE WHEN regexp_full_match(${a.s.v}, '-?[0-9]+') THEN TRY_CAST(${a.s.v} AS BIGINT) END`],
    [ip, a.i.v],
    [dp, fromDouble(a.d.v)],
    [fp, fromDouble(a.f.v)],
  ].filter(([cond]) => cond !== 'false');
  return branches.length
    ? `CASE ${branches.map(([cond, v]) => `WHEN ${cond} THEN ${v}`).join(' ')} END`
    : 'NULL::BIGINT';
}

/** `[k]` path text of a 1-based lambda index. */
function indexed(prefix: string, idx: string, suffix = ''): string {
  return `${lit(prefix + '[')} || CAST(${idx} - 1 AS VARCHAR) || ${lit(']' + suffix)}`;
}

interface KvContext {
  /** The entry's key (VARCHAR, NULL when missing). */
  key: string;
  /** The entry's path text for messages (SQL), with an optional suffix. */
  path: (suffix?: string) => string;
  entry: Node;
}

/** A {key, value} list with per-entry SQL over lambda variables `p` (entry) and `i` (1-based index). */
interface KvList {
  list: string;
  p: string;
  i: string;
  key: string;
  /** Which arm is set, NULL when none (the entry is skipped). */
  which: string;
  /** Some arm is set (cheaper than `which IS NOT NULL`). */
  present: string;
  /** Whether an entry's value itself can be invalid for this file's types (arm or shape problems). */
  valueCanFail: boolean;
  /** The encoded value (without the key), NULL when no arm is set. */
  enc: string;
  /** The entry's first problem, or NULL. */
  err: string;
  extra: Record<string, string>;
}

/**
 * The SQL of one {key, value} list's entries. `encode` turns the arms into the encoded value and
 * may add a problem (checked after the arm's) and extra per-entry values. Every use traverses the
 * file's list directly (no intermediate list of structs: copying nested values is what costs).
 */
function prepareKv(
  list: Node,
  vars: [string, string],
  listPath: (idx: string, suffix?: string) => string,
  encode: (
    a: ArmSql,
    ctx: KvContext,
  ) => { enc: string; extraErr?: string; extraGuard?: string; extra?: Record<string, string> },
): KvList | null {
  if (!list.tree || list.tree.kind !== 'list') return null;
  const [p, idx] = vars;
  const entry = elementOf(list, p);
  const key = readString(child(entry, 'key'), true);
  const value = child(entry, 'value');
  const a = arms(value, listPath(idx, '.value'));
  const { enc, extraErr, extraGuard, extra } = encode(a, {
    key: key.v,
    path: (suffix) => listPath(idx, suffix),
    entry,
  });
  const containerErr = containerProblemAt(value, listPath(idx, '.value'));
  // The guard is cheap and true whenever a problem may exist; messages are built only then.
  const guard = orOf([
    `${p} IS NULL`,
    `${key.v} IS NULL`,
    containerErr === 'NULL' ? 'false' : notNull(value),
    a.anyBad,
    extraErr ? (extraGuard ?? 'true') : 'false',
  ]);
  const err =
    `CASE WHEN NOT ${guard} THEN NULL WHEN ${p} IS NULL THEN ${listPath(idx)} || ': expected {key, value}, got null' ` +
    `WHEN ${key.v} IS NULL THEN ${listPath(idx, '.key')} || ': expected a string, got ' || ${shown(key.got)} ` +
    `ELSE coalesce(${containerErr}, ${a.err}${extraErr ? `, ${extraErr}` : ''}) END`;
  return {
    list: list.sql,
    p,
    i: idx,
    key: key.v,
    which: a.which,
    present: orOf(a.present),
    valueCanFail: a.anyBad !== 'false' || containerErr !== 'NULL',
    enc,
    err,
    extra: extra ?? {},
  };
}

/** The first problem of the list's entries, or NULL. */
function firstError(kv: KvList): string {
  return `list_any_value(list_transform(${kv.list}, (${kv.p}, ${kv.i}) -> ${kv.err}))`;
}

/** `extra[name]` of the first entry with a value under `key`, or NULL. */
function firstOf(kv: KvList, key: string, name: string): string {
  return `list_any_value(list_transform(${kv.list}, ${kv.p} -> CASE WHEN ${kv.key} = ${lit(key)} AND ${kv.present} THEN ${kv.extra[name]} END))`;
}

/**
 * `{"k":<wrap(enc)>,…}`: entries with a value, keys not in `excluded`, and for a repeated key
 * its first entry with a value only. Repeats are looked for only when the list's keys are not
 * all distinct (one list_unique per row; the exact pass is quadratic but rare).
 */
function objectOf(
  kv: KvList,
  wrap: (enc: string) => string,
  excluded: readonly string[] = [],
  distinct = distinctKeys(kv),
): string {
  const { list, p, i } = kv;
  const pair = `to_json(${kv.key}) || ':' || ${wrap(kv.enc)}`;
  const render = excluded.length
    ? `CASE WHEN ${kv.key} NOT IN (${excluded.map(lit).join(', ')}) THEN ${pair} END`
    : pair;
  const fast = `list_transform(${list}, ${p} -> ${render})`;
  const valued = `list_transform(${list}, ${p} -> CASE WHEN ${kv.enc} IS NOT NULL THEN ${kv.key} END)`;
  const exact = `list_transform(${list}, (${p}, ${i}) -> CASE WHEN list_position(${valued}, ${kv.key}) = ${i} THEN ${render} END)`;
  return `'{' || coalesce(array_to_string(CASE WHEN ${distinct} THEN ${fast} ELSE ${exact} END, ','), '') || '}'`;
}

/** True when every entry has a non-NULL key and no key repeats (NULL for a NULL list). */
function distinctKeys(kv: KvList): string {
  return `(list_unique(list_transform(${kv.list}, ${kv.p} -> ${kv.key})) = len(${kv.list}))`;
}

/** An object field that is present but not an object (a JSON-typed one is judged row by row). */
function containerProblemAt(n: Node, pathSql: string): string {
  if (!n.tree || n.tree.kind === 'struct' || isMap(n)) return 'NULL';
  const bad = isJson(n) ? `(${n.sql} IS NOT NULL AND json_type(${n.sql}) <> 'OBJECT')` : notNull(n);
  return problem(bad, pathSql, 'expected an object', gotText(n));
}

// ---------------------------------------------------------------------------------------------

export interface ImportSql {
  /** $1 path -> one row {total}. */
  countSql: string;
  /** $1 path, $2 limit -> rows {row, reason}. */
  examplesSql: string;
  /** $1 path, $2 property_id, $3 first ingest_seq, $4 received_at µs, $5 time zone. */
  insertSql: string;
}

export function buildImportSql(source: ImportSource): ImportSql {
  const col = (name: string): Node => {
    const t = source.columns.get(name);
    return t ? node(quoteIdent(name), t) : ABSENT;
  };
  /** Problems in check order; the first non-NULL one is the row's reason. */
  const checks: string[] = [];
  const str = (n: Node, path: string, strict = false): string => {
    const r = readString(n, strict);
    checks.push(problem(r.bad, lit(path), 'expected a string', r.got));
    return r.v;
  };

  // Required fields.
  const upid = readString(col('user_pseudo_id'));
  checks.push(
    `CASE WHEN ${upid.bad} THEN 'user_pseudo_id: expected a string, got ' || ${shown(upid.got)} ` +
      `WHEN coalesce(${upid.v}, '') = '' THEN 'missing user_pseudo_id' END`,
  );
  const ename = readString(col('event_name'));
  checks.push(
    `CASE WHEN ${ename.bad} THEN 'event_name: expected a string, got ' || ${shown(ename.got)} ` +
      `WHEN coalesce(${ename.v}, '') = '' THEN 'missing event_name' END`,
  );
  const ets = readInt(col('event_timestamp'));
  checks.push(
    `CASE WHEN ${notNull(col('event_timestamp'))} IS NOT TRUE THEN 'missing or non-numeric event_timestamp' ` +
      `WHEN ${ets.bad} THEN 'event_timestamp: expected an integer, got ' || ${shown(ets.got)} ` +
      `WHEN ${ets.v} < 0 OR ${ets.v} > ${MAX_EVENT_TIMESTAMP} THEN 'event_timestamp: out of range, got ' || ${shown(ets.got)} END`,
  );

  const eventDate = readString(col('event_date'));
  checks.push(
    `CASE WHEN ${eventDate.bad} OR length(${eventDate.v}) <> 8 OR ltrim(${eventDate.v}, '0123456789') <> '' ` +
      `THEN 'event_date: expected YYYYMMDD, got ' || ${shown(eventDate.got)} END`,
  );
  const platform = readString(col('platform'));
  checks.push(
    `CASE WHEN ${platform.bad} OR upper(${platform.v}) NOT IN ('WEB', 'ANDROID', 'IOS') ` +
      `THEN 'platform: expected WEB, ANDROID or IOS, got ' || ${shown(platform.got)} END`,
  );
  const streamId = str(col('stream_id'), 'stream_id');
  const userId = str(col('user_id'), 'user_id');

  // event_params
  const ep = col('event_params');
  checks.push(containerProblem(ep, 'event_params', 'list'));
  const epPath = (idx: string, suffix = ''): string => indexed('event_params', idx, suffix);
  const params = prepareKv(ep, ['p', 'i'], epPath, (a, ctx) => {
    const sv = sessionValue(a);
    // Only entries with a value are checked; sv is evaluated once on the valid path.
    const extraErr =
      `CASE WHEN NOT ${orOf(a.present)} THEN NULL ` +
      `WHEN ${ctx.key} = 'ga_session_id' THEN CASE WHEN ${sv} IS NULL THEN ${ctx.path()} || ': ga_session_id must be an integer' END ` +
      `WHEN ${ctx.key} = 'ga_session_number' THEN CASE WHEN ${sv} BETWEEN 0 AND 2147483647 THEN NULL ` +
      `WHEN ${sv} IS NULL THEN ${ctx.path()} || ': ga_session_number must be an integer' ` +
      `ELSE ${ctx.path()} || ': ga_session_number out of range' END END`;
    return {
      enc: compactValue(a),
      extraErr,
      extraGuard: `${ctx.key} IN ('ga_session_id', 'ga_session_number')`,
      extra: { sid: sv },
    };
  });
  if (params) {
    // Fast path: distinct non-NULL keys (so no NULL entry and one entry per session key), valid
    // session values, and arms of types that cannot fail: nothing to report. Else every entry
    // is checked in order.
    checks.push(
      params.valueCanFail
        ? firstError(params)
        : `CASE WHEN __pd AND __sid IS NOT NULL AND __sn BETWEEN 0 AND 2147483647 THEN NULL ELSE ${firstError(params)} END`,
    );
  }

  // user_properties
  const up = col('user_properties');
  checks.push(containerProblem(up, 'user_properties', 'list'));
  const upPath = (idx: string, suffix = ''): string => indexed('user_properties', idx, suffix);
  const userProps = prepareKv(up, ['u', 'ui'], upPath, (a, ctx) => {
    const t = readInt(child(child(ctx.entry, 'value'), 'set_timestamp_micros'));
    return {
      enc: `'{' || (${compactValue(a)}) || ',"t":' || CAST(coalesce(${t.v}, __ets) AS VARCHAR) || '}'`,
      extraErr: `CASE WHEN ${a.which} IS NOT NULL THEN ${problem(t.bad, ctx.path('.value.set_timestamp_micros'), 'expected an integer', t.got)} END`,
      extraGuard: t.bad,
    };
  });
  if (userProps) checks.push(firstError(userProps));

  // device, geo, traffic_source, ecommerce
  const device = col('device');
  checks.push(containerProblem(device, 'device', 'struct'));
  const devStr = (f: string): string => str(child(device, f), `device.${f}`);
  const deviceCategory = devStr('category');
  const brand = devStr('mobile_brand_name');
  const model = devStr('mobile_model_name');
  const os = devStr('operating_system');
  const osVersion = devStr('operating_system_version');
  const language = devStr('language');
  const latRead = readYesNo(child(device, 'is_limited_ad_tracking'));
  checks.push(
    problem(latRead.bad, lit('device.is_limited_ad_tracking'), 'expected "Yes" or "No"', latRead.got),
  );
  const browser = devStr('browser');
  const browserVersion = devStr('browser_version');
  const webInfo = child(device, 'web_info');
  checks.push(containerProblem(webInfo, 'device.web_info', 'struct'));
  const wiBrowser = str(child(webInfo, 'browser'), 'device.web_info.browser');
  const wiBrowserVersion = str(child(webInfo, 'browser_version'), 'device.web_info.browser_version');

  const geo = col('geo');
  checks.push(containerProblem(geo, 'geo', 'struct'));
  const geoStr = (f: string): string => str(child(geo, f), `geo.${f}`);
  const geoCols = {
    geo_continent: geoStr('continent'),
    geo_sub_continent: geoStr('sub_continent'),
    geo_country: geoStr('country'),
    geo_country_id: geoStr('country_id'),
    geo_region: geoStr('region'),
    geo_city: geoStr('city'),
  };
  const traffic = col('traffic_source');
  checks.push(containerProblem(traffic, 'traffic_source', 'struct'));
  const tsName = str(child(traffic, 'name'), 'traffic_source.name');
  const tsMedium = str(child(traffic, 'medium'), 'traffic_source.medium');
  const tsSource = str(child(traffic, 'source'), 'traffic_source.source');
  const ecommerce = col('ecommerce');
  checks.push(containerProblem(ecommerce, 'ecommerce', 'struct'));
  const txn = str(child(ecommerce, 'transaction_id'), 'ecommerce.transaction_id');
  const num = (n: Node, path: string): string => {
    const r = readNumber(n);
    checks.push(problem(r.bad, lit(path), 'expected a number', r.got));
    return `CASE WHEN isfinite(${r.v}) THEN ${r.v} END`;
  };
  const revenue = num(child(ecommerce, 'purchase_revenue'), 'ecommerce.purchase_revenue');
  const refund = num(child(ecommerce, 'refund_value'), 'ecommerce.refund_value');

  // items
  const items = col('items');
  checks.push(containerProblem(items, 'items', 'list'));
  let itemsJson: string | null = null;
  if (items.tree?.kind === 'list') {
    const q = 'q';
    const j = 'j';
    const item = elementOf(items, q);
    const itemPath = (suffix: string): string => indexed('items', j, suffix);
    const encs: string[] = [];
    const errs: string[] = [
      `CASE WHEN ${q} IS NULL THEN ${itemPath('')} || ': expected an object, got null' END`,
    ];
    if (item.tree && item.tree.kind !== 'struct') errs.push(containerProblemAt(item, itemPath('')));
    for (const f of ITEM_FIELDS) {
      const n = child(item, f.name);
      if (!n.tree) continue;
      if (f.kind === 'string') {
        const r = readString(n);
        errs.push(problem(r.bad, itemPath(`.${f.name}`), 'expected a string', r.got));
        encs.push(`CASE WHEN ${r.v} IS NOT NULL THEN ${lit(`"${f.name}":`)} || to_json(${r.v}) END`);
      } else {
        const r = readNumber(n);
        errs.push(problem(r.bad, itemPath(`.${f.name}`), 'expected a number', r.got));
        encs.push(`CASE WHEN isfinite(${r.v}) THEN ${lit(`"${f.name}":`)} || ${jsNumber(r.v)} END`);
      }
    }
    const ipNode = child(item, 'item_params');
    if (ipNode.tree) {
      errs.push(
        ipNode.tree.kind === 'list'
          ? 'NULL'
          : problem(notNull(ipNode), itemPath('.item_params'), 'expected an array', gotText(ipNode)),
      );
      const ip = prepareKv(
        ipNode,
        ['r', 'ri'],
        (idx, suffix = '') =>
          `${itemPath('.item_params')} || ${lit('[')} || CAST(${idx} - 1 AS VARCHAR) || ${lit(']' + suffix)}`,
        (a) => ({ enc: itemParamValue(a) }),
      );
      if (ip) {
        encs.push(
          bind(
            objectOf(ip, (e) => `'{' || ${e} || '}'`),
            'io',
            (o) => `CASE WHEN ${o} <> '{}' THEN '"item_params":' || ${o} END`,
          ),
        );
        errs.push(firstError(ip));
      }
    }
    const json = `'{' || array_to_string(list_filter([${encs.length ? encs.join(', ') : 'NULL::VARCHAR'}], x -> x IS NOT NULL), ',') || '}'`;
    itemsJson = `CASE WHEN len(${items.sql}) > 0 THEN '[' || array_to_string(list_transform(${items.sql}, ${q} -> ${json}), ',') || ']' END`;
    checks.push(
      `list_any_value(list_transform(${items.sql}, (${q}, ${j}) -> coalesce(${errs.filter((e) => e !== 'NULL').join(', ')})))`,
    );
  }

  // consent
  const privacy = col('privacy_info');
  checks.push(containerProblem(privacy, 'privacy_info', 'struct'));
  const ads = readYesNo(child(privacy, 'ads_storage'));
  checks.push(problem(ads.bad, lit('privacy_info.ads_storage'), 'expected "Yes", "No" or "Unset"', ads.got));
  const consent = col('consent');
  checks.push(containerProblem(consent, 'consent', 'struct'));
  const consentValue = (f: string): string => {
    const r = readString(child(consent, f));
    checks.push(
      `CASE WHEN ${r.bad} OR upper(${r.v}) NOT IN ('GRANTED', 'DENIED') ` +
        `THEN ${lit(`consent.${f}: expected GRANTED or DENIED, got `)} || ${shown(r.got)} END`,
    );
    return `upper(${r.v})`;
  };
  const cAdUserData = consentValue('ad_user_data');
  const cAdPers = consentValue('ad_personalization');
  const npaRead = readYesNo(child(consent, 'non_personalized_ads'));
  checks.push(problem(npaRead.bad, lit('consent.non_personalized_ads'), 'expected a boolean', npaRead.got));
  const adsDenied = `CASE WHEN ${ads.v} = false THEN 'DENIED' END`;

  const zoneDate = `strftime(timezone($5::VARCHAR, timezone('UTC', make_timestamp(__ets))), '%Y%m%d')`;

  const select: Record<(typeof EVENT_COLUMNS)[number][0], string> = {
    property_id: '$2::BIGINT',
    stream_id: `coalesce(${streamId}, '')`,
    platform: `coalesce(upper(${platform.v}), 'WEB')`,
    ingest_seq: '$3::BIGINT + __row',
    event_name: ename.v,
    event_timestamp: '__ets',
    event_date: `coalesce(${eventDate.v}, ${zoneDate})`,
    received_at: '$4::BIGINT',
    source: `'import'`,
    user_pseudo_id: upid.v,
    user_id: `nullif(${userId}, '')`,
    ga_session_id: params ? '__sid' : 'NULL::BIGINT',
    ga_session_number: params ? 'CAST(__sn AS INTEGER)' : 'NULL::INTEGER',
    event_params: params
      ? objectOf(params, (e) => `'{' || ${e} || '}'`, ['ga_session_id', 'ga_session_number'], '__pd')
      : `'{}'`,
    user_properties: userProps ? objectOf(userProps, (e) => e) : `'{}'`,
    device_category: deviceCategory,
    device_operating_system: os,
    device_operating_system_version: osVersion,
    device_browser: `coalesce(${wiBrowser}, ${browser})`,
    device_browser_version: `coalesce(${wiBrowserVersion}, ${browserVersion})`,
    device_language: language,
    device_mobile_brand_name: brand,
    device_mobile_model_name: model,
    device_is_limited_ad_tracking: latRead.v,
    ...geoCols,
    traffic_source_source: tsSource,
    traffic_source_medium: tsMedium,
    traffic_source_name: tsName,
    ecommerce_transaction_id: txn,
    ecommerce_purchase_revenue: revenue,
    ecommerce_refund_value: refund,
    items: itemsJson ? `coalesce(${itemsJson}, '[]')` : `'[]'`,
    consent_ad_user_data: `coalesce(${cAdUserData}, ${adsDenied})`,
    consent_ad_personalization: `coalesce(${cAdPers}, ${adsDenied})`,
    non_personalized_ads: npaRead.v,
  };
  const names = EVENT_COLUMNS.map(([n]) => n);
  const reason = `coalesce(${checks.filter((c) => c !== 'NULL').join(',\n  ')})`;
  // Stage 1: values used by several columns and checks (event_timestamp, the session params,
  // whether event_params' keys are distinct); stage 2: the reason of a rejection.
  const perRow = [`${ets.v} AS __ets`];
  if (params) {
    perRow.push(
      `${distinctKeys(params)} AS __pd`,
      `${firstOf(params, 'ga_session_id', 'sid')} AS __sid`,
      `${firstOf(params, 'ga_session_number', 'sid')} AS __sn`,
    );
  }
  const withTs = `SELECT *, ${perRow.join(', ')} FROM ${source.from}`;
  const staged = `SELECT *, ${reason} AS __reason FROM (${withTs})`;
  const countSql = `SELECT count(*) AS total FROM ${source.from}`;
  const examplesSql = `SELECT __row AS row, __reason AS reason FROM (${staged}) WHERE __reason IS NOT NULL ORDER BY __row LIMIT $2`;
  const insertSql =
    `INSERT INTO ${EVENTS_TABLE} (${names.map(quoteIdent).join(', ')})\n` +
    `SELECT ${names.map((n) => select[n]).join(',\n  ')}\n` +
    `FROM (${staged}) WHERE __reason IS NULL`;
  return { countSql, examplesSql, insertSql };
}

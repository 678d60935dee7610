// Typed readers of the import mapping: a file value (a Node: SQL plus its type) converted to what
// the mapping needs (string, INT64, number, yes/no), with the SQL that says when it is present but
// invalid and the message text of such a value. Each reader specialises on the file's type, so a
// check the type makes impossible is never written (its `bad` is NEVER).

import { param, sql, type Fragment } from '../../../audience/compile/sql.ts';
import { NUMERIC_STRING_PATTERN } from '../../../domain/event.ts';
import { NEVER, NONE, bind, inlineOrBind, jsNumber, type Node, type Val } from './fragments.ts';
import type { TypeTree } from './source.ts';

export const ABSENT: Node = { sql: sql`NULL`, tree: null };
const INT_TYPE = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;
const FLOAT_TYPE = /^(FLOAT|DOUBLE|DECIMAL.*)$/;
const JSON_TREE: TypeTree = { kind: 'scalar', sqlType: 'JSON' };

/** A constant text (a field path, a message) as an SQL string. */
export function lit(s: string): Fragment {
  return sql`${param(s)}`;
}

function scalarType(n: Node): string | null {
  return n.tree?.kind === 'scalar' ? n.tree.sqlType : null;
}

/** A JSON-typed value (read_json's type for a field of mixed JSON types); JSON null reads as NULL. */
export function isJson(n: Node): boolean {
  return scalarType(n) === 'JSON';
}

/** A MAP-typed value: what read_json infers for an object that is `{}` in every row. */
export function isMap(n: Node): boolean {
  return scalarType(n)?.startsWith('MAP(') ?? false;
}

export function node(expr: Fragment, tree: TypeTree): Node {
  const n = { sql: expr, tree };
  return isJson(n) ? { sql: sql`CASE WHEN json_type(${expr}) <> 'NULL' THEN ${expr} END`, tree } : n;
}

export function child(n: Node, name: string): Node {
  // An object column typed JSON (mixed types across rows, or `{}` everywhere) or MAP: its fields
  // are read as JSON values, so they are checked as the JS path checks them.
  if (isJson(n)) return node(sql`json_extract(${n.sql}, ${lit(`$.${name}`)})`, JSON_TREE);
  if (isMap(n)) return node(sql`CAST(map_extract(${n.sql}, ${lit(name)})[1] AS JSON)`, JSON_TREE);
  if (!n.tree || n.tree.kind !== 'struct') return ABSENT;
  const t = n.tree.fields.get(name);
  return t ? node(sql`struct_extract(${n.sql}, ${lit(name)})`, t) : ABSENT;
}

export function elementOf(n: Node, variable: Fragment): Node {
  return n.tree?.kind === 'list' ? { sql: variable, tree: n.tree.element } : ABSENT;
}

export function notNull(n: Node): Fragment {
  return n.tree ? sql`(${n.sql} IS NOT NULL)` : NEVER;
}

/** The raw value as text for a message: text as is, numbers as JavaScript prints them, else JSON. */
export function gotText(n: Node): Fragment {
  const t = scalarType(n);
  if (t === 'VARCHAR') return n.sql;
  if (t && INT_TYPE.test(t)) return sql`CAST(${n.sql} AS VARCHAR)`;
  if (t && FLOAT_TYPE.test(t)) return jsNumber(sql`CAST(${n.sql} AS DOUBLE)`);
  if (t === 'JSON') {
    const asNumber = jsNumber(sql`CAST(${n.sql} AS DOUBLE)`);
    return sql`CASE json_type(${n.sql}) WHEN 'VARCHAR' THEN ${n.sql} ->> '$' WHEN 'BIGINT' THEN ${asNumber} WHEN 'UBIGINT' THEN ${asNumber} WHEN 'DOUBLE' THEN ${asNumber} ELSE CAST(${n.sql} AS VARCHAR) END`;
  }
  return sql`CAST(to_json(${n.sql}) AS VARCHAR)`;
}

/**
 * A JSON-typed node as the scalar JSON.parse would give: its text when a JSON string, its
 * number (as DOUBLE) when a JSON number; `other` says whether anything else (objects, arrays,
 * booleans) is present.
 */
function jsonParts(n: Node): { text: Fragment; number: Fragment; other: Fragment } {
  return {
    text: sql`CASE WHEN json_type(${n.sql}) = 'VARCHAR' THEN ${n.sql} ->> '$' END`,
    number: sql`CASE WHEN json_type(${n.sql}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(${n.sql} AS DOUBLE) END`,
    other: sql`(${n.sql} IS NOT NULL AND json_type(${n.sql}) NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE'))`,
  };
}

/** show() of src/ingest/common.ts: at most 100 characters. */
export function shown(text: Fragment): Fragment {
  return bind(
    sql`coalesce(${text}, 'null')`,
    'sh',
    (v) => sql`CASE WHEN length(${v}) > 100 THEN left(${v}, 97) || '...' ELSE ${v} END`,
  );
}

/** A string: text, or (unless strict) a number printed as JavaScript does. */
export function readString(n: Node, strict = false): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : sql`NULL`;
  if (!n.tree) return { v: sql`NULL::VARCHAR`, bad: NEVER, got };
  if (t === 'VARCHAR') return { v: n.sql, bad: NEVER, got };
  if (t === 'JSON') {
    const j = jsonParts(n);
    if (strict) return { v: j.text, bad: sql`(${n.sql} IS NOT NULL AND ${j.text} IS NULL)`, got };
    return { v: sql`coalesce(${j.text}, ${jsNumber(j.number)})`, bad: j.other, got };
  }
  if (!strict && t && INT_TYPE.test(t)) return { v: sql`CAST(${n.sql} AS VARCHAR)`, bad: NEVER, got };
  if (!strict && t && FLOAT_TYPE.test(t))
    return { v: jsNumber(sql`CAST(${n.sql} AS DOUBLE)`), bad: NEVER, got };
  return { v: sql`NULL::VARCHAR`, bad: notNull(n), got };
}

export const INT64_RANGE = (x: Fragment): Fragment =>
  sql`(${x} = trunc(${x}) AND ${x} >= -9223372036854775808.0 AND ${x} < 9223372036854775808.0)`;

/** An INT64: an integer, a string of digits (optional '-') or an integral double, in range. */
export function readInt(n: Node): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : sql`NULL`;
  if (!n.tree) return { v: sql`NULL::BIGINT`, bad: NEVER, got };
  let v: Fragment;
  if (t === 'BIGINT') return { v: n.sql, bad: NEVER, got };
  if (t === 'JSON') {
    const j = jsonParts(n);
    v = sql`CASE WHEN regexp_full_match(${j.text}, '-?[0-9]+') THEN TRY_CAST(${j.text} AS BIGINT) WHEN ${INT64_RANGE(j.number)} THEN CAST(${j.number} AS BIGINT) END`;
  } else if (t && INT_TYPE.test(t)) v = sql`TRY_CAST(${n.sql} AS BIGINT)`;
  else if (t === 'VARCHAR')
    v = sql`CASE WHEN regexp_full_match(${n.sql}, '-?[0-9]+') THEN TRY_CAST(${n.sql} AS BIGINT) END`;
  else if (t && FLOAT_TYPE.test(t))
    v = inlineOrBind(
      sql`CAST(${n.sql} AS DOUBLE)`,
      'ix',
      (x) => sql`CASE WHEN ${INT64_RANGE(x)} THEN CAST(${x} AS BIGINT) END`,
    );
  else return { v: sql`NULL::BIGINT`, bad: notNull(n), got };
  return { v, bad: sql`(${n.sql} IS NOT NULL AND ${v} IS NULL)`, got };
}

/** A number: numeric types, decimal strings, "NaN", "Infinity", "-Infinity". May be non-finite. */
export function readNumber(n: Node): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : sql`NULL`;
  if (!n.tree) return { v: sql`NULL::DOUBLE`, bad: NEVER, got };
  let v: Fragment;
  if (t && (INT_TYPE.test(t) || FLOAT_TYPE.test(t)))
    return { v: sql`CAST(${n.sql} AS DOUBLE)`, bad: NEVER, got };
  const j = t === 'JSON' ? jsonParts(n) : null;
  if (t === 'VARCHAR' || j)
    v = bind(
      j ? j.text : n.sql,
      'nx',
      (x) =>
        sql`CASE WHEN regexp_full_match(${x}, ${lit(NUMERIC_STRING_PATTERN)}) THEN coalesce(TRY_CAST(${x} AS DOUBLE), CASE WHEN starts_with(${x}, '-') THEN '-inf'::DOUBLE ELSE 'inf'::DOUBLE END) WHEN ${x} = 'NaN' THEN 'nan'::DOUBLE WHEN ${x} = 'Infinity' THEN 'inf'::DOUBLE WHEN ${x} = '-Infinity' THEN '-inf'::DOUBLE END`,
    );
  else return { v: sql`NULL::DOUBLE`, bad: notNull(n), got };
  if (j) v = sql`coalesce(${j.number}, ${v})`;
  return { v, bad: sql`(${n.sql} IS NOT NULL AND ${v} IS NULL)`, got };
}

/** "Yes"/"true" -> true, "No"/"false" -> false (any case), "Unset" -> NULL; a BOOLEAN as is. */
export function readYesNo(n: Node): Val {
  const t = scalarType(n);
  const got = n.tree ? gotText(n) : sql`NULL`;
  if (!n.tree) return { v: sql`NULL::BOOLEAN`, bad: NEVER, got };
  if (t === 'BOOLEAN') return { v: n.sql, bad: NEVER, got };
  if (t === 'JSON') {
    const text = sql`CASE WHEN json_type(${n.sql}) = 'VARCHAR' THEN lower(${n.sql} ->> '$') WHEN json_type(${n.sql}) = 'BOOLEAN' THEN CAST(${n.sql} AS VARCHAR) END`;
    return {
      v: sql`CASE ${text} WHEN 'yes' THEN true WHEN 'true' THEN true WHEN 'no' THEN false WHEN 'false' THEN false END`,
      bad: sql`(${n.sql} IS NOT NULL AND coalesce(${text}, '') NOT IN ('yes', 'true', 'no', 'false', 'unset'))`,
      got,
    };
  }
  if (t !== 'VARCHAR') return { v: sql`NULL::BOOLEAN`, bad: notNull(n), got };
  const v = sql`CASE lower(${n.sql}) WHEN 'yes' THEN true WHEN 'true' THEN true WHEN 'no' THEN false WHEN 'false' THEN false END`;
  return {
    v,
    bad: sql`(${n.sql} IS NOT NULL AND lower(${n.sql}) NOT IN ('yes', 'true', 'no', 'false', 'unset'))`,
    got,
  };
}

/** The message when `bad`, else NULL. `path` is an SQL text expression. */
export function problem(bad: Fragment, path: Fragment, what: string, got: Fragment | null): Fragment {
  if (bad === NEVER) return NONE;
  const tail = got === null ? lit(`: ${what}`) : sql`${lit(`: ${what}, got `)} || ${shown(got)}`;
  return sql`CASE WHEN ${bad} THEN ${path} || ${tail} END`;
}

/** A struct (object) or list field that is present but of another type. */
export function containerProblem(n: Node, path: string, kind: 'struct' | 'list'): Fragment {
  if (kind === 'struct') return containerProblemAt(n, lit(path));
  if (!n.tree || n.tree.kind === kind) return NONE;
  return problem(notNull(n), lit(path), 'expected an array', gotText(n));
}

/** An object field that is present but not an object (a JSON-typed one is judged row by row). */
export function containerProblemAt(n: Node, pathSql: Fragment): Fragment {
  if (!n.tree || n.tree.kind === 'struct' || isMap(n)) return NONE;
  const bad = isJson(n) ? sql`(${n.sql} IS NOT NULL AND json_type(${n.sql}) <> 'OBJECT')` : notNull(n);
  return problem(bad, pathSql, 'expected an object', gotText(n));
}

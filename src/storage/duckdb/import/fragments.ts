// SQL fragments of the import mapping, on the project's fragment builder (src/audience/compile/sql.ts).
//
// The mapping's text comes only from template strings in these modules and from allow-listed
// identifiers (ident). Its own constants (field paths, messages, patterns, the NDJSON column
// types) travel as param()s and are written into the statement as escaped literals by
// `statement` below, the way the ClickHouse dialect inlines its values: DuckDB then sees them as
// constants (a regexp pattern is compiled once, not per row). What comes from outside (the file
// path, the property, the first ingest_seq, received_at, the time zone, a row limit) is never
// part of a fragment: the statements refer to it as $1…$5 and the caller binds it.

import { createHash } from 'node:crypto';
import { ident, join, render, sql, type Fragment, type SqlValue } from '../../../audience/compile/sql.ts';
import type { TypeTree } from './source.ts';
import { quoteLiteral } from '../sql.ts';

export type { Fragment } from '../../../audience/compile/sql.ts';

/** The constant `false` of a check that cannot fail (compared by identity, then dropped). */
export const NEVER = sql`false`;
/** The constant NULL of "no problem" (compared by identity, then dropped). */
export const NONE = sql`NULL`;

/** An SQL expression with its type (tree null: the file lacks it). */
export interface Node {
  sql: Fragment;
  tree: TypeTree | null;
}

/** A converted value: `v` (NULL when absent or invalid) and `bad` (present but invalid). */
export interface Val {
  v: Fragment;
  bad: Fragment;
  /** The raw value as text, for messages. */
  got: Fragment;
}

/** The statement text: the mapping's constants written as escaped literals. */
export function statement(f: Fragment): string {
  return render(f, (_index, value) => constantLiteral(value)).sql;
}

function constantLiteral(value: SqlValue): string {
  if (typeof value === 'string') return quoteLiteral(value);
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value)))
    return String(value);
  throw new TypeError(`import mapping constant of unexpected type: ${String(value)}`);
}

/** A column of the source or an allow-listed name, double-quoted. */
export function quoted(name: string): Fragment {
  return sql`"${ident(name)}"`;
}

/** OR of boolean terms, dropping the ones that cannot be true. */
export function orOf(terms: Fragment[]): Fragment {
  const live = terms.filter((t) => t !== NEVER);
  return live.length ? sql`(${join(live, ' OR ')})` : NEVER;
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
export function bind(value: Fragment, prefix: string, fn: (v: Fragment) => Fragment): Fragment {
  const variable = ident(
    `${prefix}_${createHash('sha256').update(statement(value)).digest('hex').slice(0, 16)}`,
  );
  return sql`list_transform([${value}], ${variable} -> ${fn(variable)})[1]`;
}

const CHEAP_EXPR =
  /^(CAST\()?(struct_extract\()*"?[a-z_][a-z0-9_]*"?(, '[a-z0-9_]+'\))*( AS (DOUBLE|BIGINT)\))?$/;

/** fn(value) with a cheap value (a column, a field, a cast of one) inlined, else bound once. */
export function inlineOrBind(value: Fragment, prefix: string, fn: (v: Fragment) => Fragment): Fragment {
  return CHEAP_EXPR.test(statement(value)) ? fn(sql`(${value})`) : bind(value, prefix, fn);
}

/**
 * A DOUBLE printed exactly as JavaScript's String(number) prints it: integers below 1e21 without
 * a fraction, 1e+21 and 1e-7 with an exponent, NaN / Infinity / -Infinity by name.
 */
export function jsNumber(d: Fragment): Fragment {
  const expForm = (sv: Fragment): Fragment =>
    bind(
      sql`regexp_extract(${sv}, '^(-?)([0-9])(?:[.]([0-9]+))?e([+-][0-9]+)$', ['sg', 'a', 'b', 'e'])`,
      'jm',
      (mv) => {
        const digits = sql`(${mv}.a || ${mv}.b)`;
        const n = sql`(CAST(${mv}.e AS INTEGER) + 1)`;
        return sql`CASE WHEN ${n} BETWEEN -5 AND 0 THEN ${mv}.sg || '0.' || repeat('0', -${n}) || ${digits} WHEN ${n} BETWEEN 1 AND 21 THEN CASE WHEN length(${digits}) <= ${n} THEN ${mv}.sg || ${digits} || repeat('0', ${n} - length(${digits})) ELSE ${mv}.sg || left(${digits}, ${n}) || '.' || substr(${digits}, ${n} + 1) END ELSE ${mv}.sg || ${mv}.a || CASE WHEN ${mv}.b <> '' THEN '.' || ${mv}.b ELSE '' END || 'e' || CASE WHEN ${n} - 1 < 0 THEN '-' ELSE '+' END || CAST(abs(${n} - 1) AS VARCHAR) END`;
      },
    );
  // The common cases (integers, plain decimals) are computed inline; only exponent forms pay
  // for binding the text to a lambda variable.
  return inlineOrBind(
    d,
    'jx',
    (xv) =>
      sql`CASE WHEN ${xv} IS NULL THEN NULL WHEN isnan(${xv}) THEN 'NaN' WHEN isinf(${xv}) THEN CASE WHEN ${xv} > 0 THEN 'Infinity' ELSE '-Infinity' END WHEN ${xv} = trunc(${xv}) AND abs(${xv}) <= 9007199254740992 THEN CAST(CAST(${xv} AS BIGINT) AS VARCHAR) WHEN abs(${xv}) >= 0.001 AND abs(${xv}) < 1e15 THEN CAST(${xv} AS VARCHAR) ELSE ${bind(
        sql`CAST(${xv} AS VARCHAR)`,
        'js',
        (sv) =>
          sql`CASE WHEN contains(${sv}, 'e') THEN ${expForm(sv)} WHEN ends_with(${sv}, '.0') THEN left(${sv}, -2) ELSE ${sv} END`,
      )} END`,
  );
}

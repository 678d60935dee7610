// Key/value lists of the import mapping (event_params, user_properties, item_params): BigQuery's
// {key, value{string_value, int_value, double_value, float_value}} entries, checked and encoded
// per entry inside DuckDB list lambdas.

import { sql, type Fragment } from '../../../audience/compile/sql.ts';
import { NEVER, NONE, inlineOrBind, jsNumber, orOf, type Node, type Val } from './fragments.ts';
import {
  INT64_RANGE,
  child,
  containerProblemAt,
  elementOf,
  lit,
  notNull,
  problem,
  readInt,
  readNumber,
  readString,
  shown,
} from './values.ts';

export interface ArmSql {
  /** Which arm is set (first non-null raw arm): 1 string, 2 int, 3 double, 4 float, NULL none. */
  which: Fragment;
  /** The first problem of the chosen arm (message), or NULL. */
  err: Fragment;
  /** Cheap guard: true whenever `err` may be set. */
  anyBad: Fragment;
  /** Per arm (string, int, double, float): the raw arm is not NULL. */
  present: [Fragment, Fragment, Fragment, Fragment];
  s: Val;
  i: Val;
  d: Val;
  f: Val;
}

function arms(value: Node, path: Fragment): ArmSql {
  const sN = child(value, 'string_value');
  const iN = child(value, 'int_value');
  const dN = child(value, 'double_value');
  const fN = child(value, 'float_value');
  const s = readString(sN, true);
  const i = readInt(iN);
  const d = readNumber(dN);
  const f = readNumber(fN);
  const which = sql`CASE WHEN ${notNull(sN)} THEN 1 WHEN ${notNull(iN)} THEN 2 WHEN ${notNull(dN)} THEN 3 WHEN ${notNull(fN)} THEN 4 END`;
  const anyBad = orOf([s.bad, i.bad, d.bad, f.bad]);
  const err =
    anyBad === NEVER
      ? NONE
      : sql`CASE WHEN ${notNull(sN)} THEN ${problem(s.bad, sql`${path} || '.string_value'`, 'expected a string', s.got)} WHEN ${notNull(iN)} THEN ${problem(i.bad, sql`${path} || '.int_value'`, 'expected an integer', i.got)} WHEN ${notNull(dN)} THEN ${problem(d.bad, sql`${path} || '.double_value'`, 'expected a number', d.got)} WHEN ${notNull(fN)} THEN ${problem(f.bad, sql`${path} || '.float_value'`, 'expected a number', f.got)} END`;
  return { which, err, anyBad, present: [notNull(sN), notNull(iN), notNull(dN), notNull(fN)], s, i, d, f };
}

function finiteOrNull(d: Fragment): Fragment {
  return sql`CASE WHEN isfinite(${d}) THEN ${jsNumber(d)} ELSE 'null' END`;
}

/** CASE over the set arm (first non-null raw one) without computing `which` first. */
function armCase(a: ArmSql, results: [Fragment, Fragment, Fragment, Fragment]): Fragment {
  const branches = a.present.flatMap((cond, k) =>
    cond === NEVER ? [] : [sql`WHEN ${cond} THEN ${results[k]!}`],
  );
  if (!branches.length) return sql`NULL::VARCHAR`;
  return sql`CASE ${branches.slice(1).reduce((acc, b) => sql`${acc} ${b}`, branches[0]!)} END`;
}

/** Compact event-param encoding without braces: "s":…, "i":…, "d":…; NULL when no arm. */
export function compactValue(a: ArmSql): Fragment {
  return armCase(a, [
    sql`'"s":' || to_json(${a.s.v})`,
    sql`'"i":' || CAST(${a.i.v} AS VARCHAR)`,
    sql`'"d":' || ${finiteOrNull(a.d.v)}`,
    sql`'"d":' || ${finiteOrNull(a.f.v)}`,
  ]);
}

/** Item-param encoding (JSON-safe): "string_value":…, "int_value":<number>, "double_value":…. */
export function itemParamValue(a: ArmSql): Fragment {
  return armCase(a, [
    sql`'"string_value":' || to_json(${a.s.v})`,
    sql`'"int_value":' || ${jsNumber(sql`CAST(${a.i.v} AS DOUBLE)`)}`,
    sql`'"double_value":' || ${finiteOrNull(a.d.v)}`,
    sql`'"double_value":' || ${finiteOrNull(a.f.v)}`,
  ]);
}

/** An integral session value from the chosen arm (digit string, int, integral double), or NULL. */
export function sessionValue(a: ArmSql): Fragment {
  const fromDouble = (d: Fragment): Fragment =>
    inlineOrBind(d, 'sx', (x) => sql`CASE WHEN ${INT64_RANGE(x)} THEN CAST(${x} AS BIGINT) END`);
  const [sp, ip, dp, fp] = a.present;
  const branches = (
    [
      [sp, sql`CASE WHEN regexp_full_match(${a.s.v}, '-?[0-9]+') THEN TRY_CAST(${a.s.v} AS BIGINT) END`],
      [ip, a.i.v],
      [dp, fromDouble(a.d.v)],
      [fp, fromDouble(a.f.v)],
    ] as [Fragment, Fragment][]
  )
    .filter(([cond]) => cond !== NEVER)
    .map(([cond, v]) => sql`WHEN ${cond} THEN ${v}`);
  if (!branches.length) return sql`NULL::BIGINT`;
  return sql`CASE ${branches.slice(1).reduce((acc, b) => sql`${acc} ${b}`, branches[0]!)} END`;
}

/** `prefix[k]suffix` path text of a 1-based lambda index. */
export function indexed(prefix: string, idx: Fragment, suffix = ''): Fragment {
  return sql`${lit(prefix + '[')} || CAST(${idx} - 1 AS VARCHAR) || ${lit(']' + suffix)}`;
}

export interface KvContext {
  /** The entry's key (VARCHAR, NULL when missing). */
  key: Fragment;
  /** The entry's path text for messages (SQL), with an optional suffix. */
  path: (suffix?: string) => Fragment;
  entry: Node;
}

/** A {key, value} list with per-entry SQL over lambda variables `p` (entry) and `i` (1-based index). */
export interface KvList {
  list: Fragment;
  p: Fragment;
  i: Fragment;
  key: Fragment;
  /** Which arm is set, NULL when none (the entry is skipped). */
  which: Fragment;
  /** Some arm is set (cheaper than `which IS NOT NULL`). */
  present: Fragment;
  /** Whether an entry's value itself can be invalid for this file's types (arm or shape problems). */
  valueCanFail: boolean;
  /** The encoded value (without the key), NULL when no arm is set. */
  enc: Fragment;
  /** The entry's first problem, or NULL. */
  err: Fragment;
  extra: Record<string, Fragment>;
}

/**
 * The SQL of one {key, value} list's entries. `encode` turns the arms into the encoded value and
 * may add a problem (checked after the arm's) and extra per-entry values. Every use traverses the
 * file's list directly (no intermediate list of structs: copying nested values is what costs).
 */
export function prepareKv(
  list: Node,
  vars: [Fragment, Fragment],
  listPath: (idx: Fragment, suffix?: string) => Fragment,
  encode: (
    a: ArmSql,
    ctx: KvContext,
  ) => { enc: Fragment; extraErr?: Fragment; extraGuard?: Fragment; extra?: Record<string, Fragment> },
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
    sql`${p} IS NULL`,
    sql`${key.v} IS NULL`,
    containerErr === NONE ? NEVER : notNull(value),
    a.anyBad,
    extraErr ? (extraGuard ?? sql`true`) : NEVER,
  ]);
  const rest = extraErr ? sql`${containerErr}, ${a.err}, ${extraErr}` : sql`${containerErr}, ${a.err}`;
  const err = sql`CASE WHEN NOT ${guard} THEN NULL WHEN ${p} IS NULL THEN ${listPath(idx)} || ': expected {key, value}, got null' WHEN ${key.v} IS NULL THEN ${listPath(idx, '.key')} || ': expected a string, got ' || ${shown(key.got)} ELSE coalesce(${rest}) END`;
  return {
    list: list.sql,
    p,
    i: idx,
    key: key.v,
    which: a.which,
    present: orOf(a.present),
    valueCanFail: a.anyBad !== NEVER || containerErr !== NONE,
    enc,
    err,
    extra: extra ?? {},
  };
}

/** The first problem of the list's entries, or NULL. */
export function firstError(kv: KvList): Fragment {
  return sql`list_any_value(list_transform(${kv.list}, (${kv.p}, ${kv.i}) -> ${kv.err}))`;
}

/** `extra[name]` of the first entry with a value under `key`, or NULL. */
export function firstOf(kv: KvList, key: string, name: string): Fragment {
  return sql`list_any_value(list_transform(${kv.list}, ${kv.p} -> CASE WHEN ${kv.key} = ${lit(key)} AND ${kv.present} THEN ${kv.extra[name]!} END))`;
}

/** True when every entry has a non-NULL key and no key repeats (NULL for a NULL list). */
export function distinctKeys(kv: KvList): Fragment {
  return sql`(list_unique(list_transform(${kv.list}, ${kv.p} -> ${kv.key})) = len(${kv.list}))`;
}

/**
 * `{"k":<wrap(enc)>,…}`: entries with a value, keys not in `excluded`, and for a repeated key
 * its first entry with a value only. Repeats are looked for only when the list's keys are not
 * all distinct (one list_unique per row; the exact pass is quadratic but rare).
 */
export function objectOf(
  kv: KvList,
  wrap: (enc: Fragment) => Fragment,
  excluded: readonly string[] = [],
  distinct = distinctKeys(kv),
): Fragment {
  const { list, p, i } = kv;
  const pair = sql`to_json(${kv.key}) || ':' || ${wrap(kv.enc)}`;
  const render = excluded.length
    ? sql`CASE WHEN ${kv.key} NOT IN (${excluded.map(lit).reduce((acc, x) => sql`${acc}, ${x}`)}) THEN ${pair} END`
    : pair;
  const fast = sql`list_transform(${list}, ${p} -> ${render})`;
  const valued = sql`list_transform(${list}, ${p} -> CASE WHEN ${kv.enc} IS NOT NULL THEN ${kv.key} END)`;
  const exact = sql`list_transform(${list}, (${p}, ${i}) -> CASE WHEN list_position(${valued}, ${kv.key}) = ${i} THEN ${render} END)`;
  return sql`'{' || coalesce(array_to_string(CASE WHEN ${distinct} THEN ${fast} ELSE ${exact} END, ','), '') || '}'`;
}

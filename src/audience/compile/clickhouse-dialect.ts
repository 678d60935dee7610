// The ClickHouse dialect of the compiler, for ClickHouse 18.16 (Debian's package) and later.
//
// Values: 18.16 has no server-side query parameters (they arrived in 19.x and fail here with
// "Unknown setting param_x"), so every bound value is inlined by clickhouseLiteral below, the one
// tested escaping function: the SQL text still comes only from the fragment builder (sql.ts), and a
// user's string reaches it only as an escaped literal.
//
// Hooks: the scalar hooks have 18.16 spellings (docs/audiences.md §8); typed event parameters and
// user properties are read exactly with visitParam* under an anchored RE2 pattern, and text becomes
// a double exactly (clickhouse-json.ts). 18.16 has no window functions, no JSONExtract*, no CTEs
// over subqueries and no TRUE/FALSE keywords, and the compiled forms are written for an engine that
// has them, so a hook without a faithful spelling throws DialectUnsupportedError. The audience layer
// then evaluates the audience on the hybrid plan (the reference fold over events streamed from the
// engine), so members never differ.

import { join, param, render, sql, type Fragment, type Param, type SqlValue } from './sql.ts';
import { DialectUnsupportedError, type SqlDialect } from './dialect.ts';
import { doubleOfText, jsNumberText, typedArmPath, typedArmText } from './clickhouse-json.ts';

export { DialectUnsupportedError };

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** Escapes of a ClickHouse single-quoted string: backslash escapes, so quote, backslash and NUL need them. */
function escapeString(value: string): string {
  let out = "'";
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate has no UTF-8 encoding: it would reach the server as U+FFFD, a different
      // string than the one compared in JavaScript. Pairs are copied as they are.
      const next = value.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += value[i]! + value[i + 1]!;
        i++;
        continue;
      }
      throw new TypeError('ClickHouse string literal: lone UTF-16 surrogate');
    }
    const ch = value[i]!;
    if (ch === "'") out += "\\'";
    else if (ch === '\\') out += '\\\\';
    else if (c === 0) out += '\\0';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return out + "'";
}

/** A double as its exact IEEE-754 bytes (18.16's parser rejects denormals and rounds some texts). */
function exactDouble(value: number): string {
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(value);
  return `reinterpretAsFloat64(unhex('${buf.toString('hex').toUpperCase()}'))`;
}

/**
 * A value as a ClickHouse literal: strings quoted with backslash escapes; integers (bigint, or
 * integral numbers below 2^53) as decimal digits, negative ones in parentheses; other numbers by
 * their exact bytes; booleans as 1/0; null as NULL. Throws on values it cannot write exactly.
 */
export function clickhouseLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'string') return escapeString(value);
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > UINT64_MAX)
      throw new RangeError(`integer out of the 64-bit range: ${value}`);
    return value < 0n ? `(${value.toString()})` : value.toString();
  }
  if (Number.isSafeInteger(value)) return value < 0 ? `(${String(value)})` : String(value);
  return exactDouble(value);
}

/** Marks an anti-join (a WHERE clause here): a statement may hold at most one. */
export const ANTI_JOIN_MARKER = '/* audex_anti_join */';

/** Text of a construct the dialect cannot run (see the JSON hooks); a statement containing it is not run. */
export const UNSUPPORTED_MARKER = 'audex_unsupported_';

function unsupported(what: string): never {
  throw new DialectUnsupportedError(`ClickHouse 18.16 dialect: ${what} has no single-statement spelling`);
}

export const clickhouseDialect: SqlDialect = Object.freeze({
  name: 'clickhouse' as const,
  placeholder: (_index: number, value: SqlValue) => clickhouseLiteral(value),
  // Paths are the key lists themselves (JSON text), read back by the JSON hooks.
  jsonPath: (keys: readonly string[]) => JSON.stringify(keys),
  // Typed params and user properties (`{"k":{"s"|"i"|"d":…}}`) are read exactly in 18.16
  // (clickhouse-json.ts). Items (any JSON) have no 18.16 spelling. The compiler builds some JSON
  // values it then leaves unused (every metric's inputs, for one of them), so the item hooks do
  // not throw: they write a call to a function that does not exist, and a statement whose text
  // still contains it is never run (UNSUPPORTED_MARKER; the ClickHouse engine takes the fold).
  jsonText: (json: Fragment, path: Param) => {
    const arm = typedArmPath(path);
    return arm ? typedArmText(json, arm.key, arm.arm) : sql`audex_unsupported_json(${json}, ${path})`;
  },
  jsonBigint: (json: Fragment, path: Param) => sql`audex_unsupported_json(${json}, ${path})`,
  jsonDouble: (json: Fragment, path: Param) => sql`audex_unsupported_json(${json}, ${path})`,
  jsonAny: (json: Fragment, path: Param) => sql`audex_unsupported_json(${json}, ${path})`,
  jsonHas: (json: Fragment, path: Param) => sql`audex_unsupported_json(${json}, ${path})`,
  jsonStringValue: (json: Fragment, path: Param) => sql`audex_unsupported_json(${json}, ${path})`,
  jsonNumberValue: (json: Fragment, path: Param) => sql`audex_unsupported_json(${json}, ${path})`,
  // The join form needs an ON with a time band, which 18.16 does not take (equality keys only).
  boundedPredecessorJoin: false,
  // No windows over joins: nested lambdas over the per-user arrays (clickhouse-ranges.ts), which
  // the recording dialect of clickhouse-windows.ts spells.
  pairedRangeSteps: false,
  bestOverRanges: () => unsupported('steps over a range with metrics outside the per-user arrays'),
  // A tuple orders by its first element, then its second: exact stream order without packing.
  streamPosition: (micros: Fragment, ingestSeq: Fragment) => sql`tuple(${micros}, ${ingestSeq})`,
  positionMicros: (position: Fragment) => sql`tupleElement(${position}, 1)`,
  running: () => unsupported('running aggregates (no window functions)'),
  dayRangeSum: () => unsupported('day-range sums (no window functions)'),
  sumAfter: () => unsupported('sums after a row (no window functions)'),
  // More than x rows up to this one within the span ⟺ at least k = ⌊x⌋ + 1 (the count is an
  // integer), i.e. the row k − 1 before it in stream order has a day within the span (days rise
  // with t). So per user, its rows' times and days in stream order, and the days k − 1 rows back
  // as a slice: one pass, no captured array (18.16 would copy it for every element).
  usersCountingInDays: (rows: Fragment, span: Param, moreThan: number, after: Param) => {
    // Clamped: no user holds 2^31 rows in one array. (No greatest(): clickhouse-plan.ts refuses
    // it, for positions.)
    const k = param(moreThan < 0 ? 1 : Math.min(Math.floor(moreThan) + 1, 2 ** 31));
    return sql`SELECT u FROM (SELECT u, arrayMap(__e -> __e.1, __ev) AS __t, arrayMap(__e -> toInt64(__e.3), __ev) AS __d FROM (SELECT u, arraySort(groupArray(tuple(t, q, d))) AS __ev FROM (${rows}) GROUP BY u))
WHERE arrayExists((__tt, __dd, __pd) -> __tt > ${after} AND __pd >= __dd - ${span}, arraySlice(__t, ${k}), arraySlice(__d, ${k}), arraySlice(__d, 1, if(toInt64(length(__d)) < ${k}, 0, toInt64(length(__d)) - ${k} + 1)))
ORDER BY u`;
  },
  previous: () => unsupported('lag (no window functions)'),
  sumInOrderRowsBack: () => unsupported('frames of per-row length (no window functions)'),
  distinctRowsBack: () => unsupported('frames of per-row length (no window functions)'),
  listRowsBack: () => unsupported('frames of per-row length (no window functions)'),
  // (session key, flag, msec, view) per row of the frame; per distinct key, its elements in order:
  // a flag, two views, or a running Σ msec (arrayCumSum adds left to right from 0, the
  // reference's order) that reaches 10 000 at some element (D19).
  engagementItem: (sessionKey: Fragment, flag: Fragment, msec: Fragment, view: Fragment) =>
    sql`tuple(${sessionKey}, toUInt8(ifNull(${flag}, 0)), toFloat64(ifNull(${msec}, 0)), toUInt8(ifNull(${view}, 0)))`,
  engagedSessionsInList: (list: Fragment) =>
    sql`length(arrayFilter(__k -> arrayExists(__e -> __e.1 = __k AND __e.2 = 1, ${list}) OR arraySum(arrayMap(__e -> __e.4, arrayFilter(__e -> __e.1 = __k, ${list}))) >= 2 OR arrayExists(__s -> __s >= 10000, arrayCumSum(arrayMap(__e -> __e.3, arrayFilter(__e -> __e.1 = __k, ${list})))), arrayDistinct(arrayMap(__e -> __e.1, ${list}))))`,
  next: () => unsupported('lead (no window functions)'),
  // Dynamic N-day metrics at a midnight: array lambdas over a day-tagged frame (a tuple per row).
  dayItem: (day: Fragment, value: Fragment) => sql`tuple(${day}, ${value})`,
  valuesFromDay: (list: Fragment, fromDay: Fragment) =>
    sql`arrayMap(__e -> __e.2, arrayFilter(__e -> __e.1 >= ${fromDay}, ${list}))`,
  // arraySum adds left to right from 0 (the reference's order), as for the static N-day sums.
  listSumInOrder: (list: Fragment) =>
    sql`arraySum(arrayMap(__x -> toFloat64(assumeNotNull(__x)), arrayFilter(__x -> isNotNull(__x), ${list})))`,
  // Int64, the type of the N-day count at the event (a CASE of the two needs one supertype).
  listSum: (list: Fragment) => sql`toInt64(arraySum(${list}))`,
  listDistinctCount: (list: Fragment) =>
    sql`length(arrayDistinct(arrayFilter(__x -> isNotNull(__x), ${list})))`,
  // 18.16's range() takes only a length.
  someDay: (from: Fragment, to: Fragment, body: (day: Fragment) => Fragment) =>
    sql`arrayExists(__day -> toUInt8(ifNull(${body(sql`__day`)}, 0)), arrayMap(__n -> toInt64(${from}) + toInt64(__n), range(toUInt64(if(toInt64(${to}) < toInt64(${from}), 0, toInt64(${to}) - toInt64(${from}) + 1)))))`,
  argMax: (value: Fragment, key: Fragment) => sql`argMax(${value}, ${key})`,
  boolOr: (value: Fragment) => sql`(max(toUInt8(${value})) = 1)`,
  nthSmallest: (value: Fragment, n: Param, filter: Fragment) =>
    sql`arraySort(groupArrayIf(${value}, ${filter}))[${n}]`,
  // 18.16 has no ANTI JOIN: the rows are kept by a tuple NOT IN instead, which is a WHERE clause,
  // so this is valid only where one anti-join ends a SELECT's FROM (members-sql's one-INCLUDE
  // form); the marker comment lets the engine refuse a statement with two (ANTI_JOIN_MARKER).
  // GLOBAL: on a Distributed table the set is computed once and sent to the shards.
  antiJoin: (right: Fragment, alias: Fragment, using: Fragment[]) =>
    sql`/* audex_anti_join */ WHERE (${join(using, ', ')}) GLOBAL NOT IN (SELECT ${join(using, ', ')} FROM (${right}) AS ${alias})`,
  // NULL-keeping: aggregates skip NULL arguments, a tuple of a Nullable is not itself NULL.
  argMaxKeepNull: (value: Fragment, key: Fragment) => sql`tupleElement(argMax(tuple(${value}), ${key}), 1)`,
  // toFloat64OrNull is one unit off for some texts in 18.16; doubleOfText corrects it.
  tryDouble: (value: Fragment) => doubleOfText(value),
  tryBigint: (value: Fragment) => sql`toInt64OrNull(${value})`,
  isFinite: (value: Fragment) => sql`isFinite(${value})`,
  regexFullMatch: (value: Fragment, pattern: Param) => {
    // match() is a partial match (RE2); anchoring the whole pattern makes it a full one.
    if (typeof pattern.value !== 'string') throw new TypeError('regex pattern must be a string');
    return sql`match(${value}, concat('^(?:', ${pattern}, ')$'))`;
  },
  regexGroup1: (value: Fragment, pattern: Param) => sql`extract(${value}, ${pattern})`,
  lower: (value: Fragment) => sql`lowerUTF8(${value})`,
  jsNumberText: (x: Fragment) => jsNumberText(x),
  startsWith: (value: Fragment, prefix: Param) =>
    sql`(substring(${value}, 1, length(${prefix})) = ${prefix})`,
  endsWith: (value: Fragment, suffix: Param) =>
    sql`(length(${value}) >= length(${suffix}) AND substring(${value}, length(${value}) - length(${suffix}) + 1) = ${suffix})`,
  contains: (value: Fragment, needle: Param) => sql`(position(${value}, ${needle}) > 0)`,
  localDay: (micros: Fragment, timeZone: Param) =>
    timeZone.value === 'UTC'
      ? sql`intDiv(${micros}, 86400000000)`
      : sql`toRelativeDayNum(toDateTime(intDiv(${micros}, 1000000), ${timeZone}), ${timeZone})`,
  previousInStream: () => unsupported('lag (no window functions)'),
  maxBeforeInStream: () => unsupported('running max (no window functions)'),
  maxBeforeWithinMicros: () => unsupported('range frames (no window functions)'),
  runningSumInStream: () => unsupported('running sums (no window functions)'),
  runningMaxInStream: () => unsupported('running max (no window functions)'),
  rowNumberInStream: () => unsupported('row numbers (no window functions)'),
  countBeforeWithinMicros: () => unsupported('range frames (no window functions)'),
  maxInRowsBack: () => unsupported('frames of per-row bounds (no window functions)'),
  packPair: (hi: Fragment, lo: Fragment) => sql`tuple(${hi}, ${lo})`,
  pairHigh: (pair: Fragment) => sql`tupleElement(${pair}, 1)`,
  pairLow: (pair: Fragment) => sql`tupleElement(${pair}, 2)`,
});

/** A fragment's 18.16 text with its values inlined: a key for the same expression (a column, a partition). */
export function clickhouseText(f: Fragment): string {
  return render(f, (_i, v) => clickhouseDialect.placeholder(0, v)).sql;
}

// The few places where engines spell things differently. The compiler calls only these hooks;
// a ClickHouse dialect implements the same interface ({p1:Type} placeholders, JSONExtract*,
// match(), lowerUTF8, toDate(…, tz)).

import { join, param, sql, type Fragment, type Param, type SqlValue } from './sql.ts';

/** A compiled construct a dialect cannot spell as one statement; the caller falls back. */
export class DialectUnsupportedError extends Error {
  override readonly name = 'DialectUnsupportedError';
}

/** Aggregates over the rows of a sequence step's range (RangeBest.holds); columns are per-event. */
export interface RangeAggregates {
  /** The number of rows (`col` null), or Σ of an integer column over them. */
  count(col: Fragment | null): Fragment;
  /** Some row has the flag. */
  any(flag: Fragment): Fragment;
  /** Σ of a double column's non-NULL values added left to right from 0.0 (bit-identical). */
  sumInOrder(col: Fragment): Fragment;
  /** The number of distinct session keys. */
  sessions(key: Fragment): Fragment;
  /** The sessions the rows engage, per session key over its rows in order (D19). */
  engagedSessions(key: Fragment, engaged: Fragment, msec: Fragment, view: Fragment): Fragment;
}

/**
 * A sequence step over a range with metric leaves, per row j of the user's stream
 * (sequence-pairs.ts): with `prev` (b_(k-1)), the latest prev(p) among the earlier rows p that
 * the step allows and whose range (p, j] it holds on; step 0 (`prev` null): t(j) when it holds on
 * every row up to j.
 */
export interface RangeBest {
  prev: Fragment | null;
  /** A session-scoped step: the range keeps only the rows with j's key (this column). */
  sessionKey: Fragment | null;
  /** A session-scoped sequence: p has j's (non-NULL) ga_session_id. */
  sameSession: boolean;
  /** The step's time limit: t(j) - t(p) at most this. */
  limit: Param | null;
  /** The sequence's maximum duration: t(j) - prev(p) at most this. */
  maxDuration: Param | null;
  /** immediatelyFollows: j is p's successor, or no row between breaks adjacency (columns g, gp). */
  adjacency: 'none' | 'successor' | 'groups';
  holds(agg: RangeAggregates): Fragment;
}

export interface SqlDialect {
  readonly name: 'duckdb' | 'clickhouse';
  /** Placeholder text for the index-th (1-based) parameter. */
  placeholder(index: number, value: SqlValue): string;
  /** The JSON path value (bound as a parameter) that addresses `keys` inside a JSON document. */
  jsonPath(keys: readonly string[]): string;
  /** A scalar inside JSON text as VARCHAR (strings unquoted; numbers in their stored text); NULL when absent or null. */
  jsonText(json: Fragment, path: Param): Fragment;
  /** A JSON integer as an exact BIGINT. */
  jsonBigint(json: Fragment, path: Param): Fragment;
  /** A JSON number as DOUBLE. */
  jsonDouble(json: Fragment, path: Param): Fragment;
  /** The array of JSON sub-documents at `path` (for items), as something `exists`/`any` can range over. */
  jsonAny(json: Fragment, path: Param, element: (item: Fragment) => Fragment): Fragment;
  /** TRUE when `path` exists in the JSON document, whatever its value (JSON null included). */
  jsonHas(json: Fragment, path: Param): Fragment;
  /** The JSON string at `path`, unquoted; NULL when absent or not a string. */
  jsonStringValue(json: Fragment, path: Param): Fragment;
  /** The JSON number at `path` as DOUBLE (nearest, as JavaScript's JSON.parse); NULL when absent or not a number. */
  jsonNumberValue(json: Fragment, path: Param): Fragment;
  /** RE2 full match of `value` against a bound pattern. */
  regexFullMatch(value: Fragment, pattern: Param): Fragment;
  /** Capture group 1 of a bound RE2 pattern ('' when it does not match). */
  regexGroup1(value: Fragment, pattern: Param): Fragment;
  lower(value: Fragment): Fragment;
  /** A DOUBLE as JavaScript's String(n) prints it (paramString): 50 not 50.0, 1e-7 not 1e-07. */
  jsNumberText(value: Fragment): Fragment;
  startsWith(value: Fragment, prefix: Param): Fragment;
  endsWith(value: Fragment, suffix: Param): Fragment;
  contains(value: Fragment, needle: Param): Fragment;
  /** Whole days since 1970-01-01 of a µs timestamp, in a bound IANA time zone. */
  localDay(micros: Fragment, timeZone: Param): Fragment;

  // Sequences (sequence-sql.ts; docs/audiences.md §2.3 says how an engine without window
  // functions spells each). Rows are a user's events with columns t (event_timestamp) and q
  // (ingest_seq); stream order is (t, q); `partition` is `u` or a user's session key.
  /** `value` on the previous row of the partition in stream order (NULL on the first). */
  previousInStream(value: Fragment, partition: Fragment): Fragment;
  /** max(value) over the partition's rows strictly before this one in stream order. */
  maxBeforeInStream(value: Fragment, partition: Fragment): Fragment;
  /** max(value) over the partition's rows before this one whose t is at least t - micros. */
  maxBeforeWithinMicros(value: Fragment, partition: Fragment, micros: Param): Fragment;
  /** Running sum(value) over the partition's rows up to this one in stream order. */
  runningSumInStream(value: Fragment, partition: Fragment): Fragment;
  /** Running max(value) over the partition's rows up to this one in stream order. */
  runningMaxInStream(value: Fragment, partition: Fragment): Fragment;
  /** The row's 1-based number in its partition, in stream order. */
  rowNumberInStream(partition: Fragment): Fragment;
  /** The number of the partition's rows before this one in stream order whose t is at least t - micros. */
  countBeforeWithinMicros(partition: Fragment, micros: Param): Fragment;
  /** max(value) over the partition's rows from `fromBack` rows before this one to `toBack` rows before it (per-row offsets; NULL when empty). */
  maxInRowsBack(value: Fragment, partition: Fragment, fromBack: Fragment, toBack: Fragment): Fragment;
  /**
   * True when an inner join of events with the same user's events of the preceding `C` µs (an
   * equi-join on u plus a time-band condition, then argMaxKeepNull by streamPosition per left
   * row) is cheaper than previousInStream over every event: the compiler then finds the direct
   * predecessor of "A directly followed by B within C" that way. False: previousInStream.
   */
  readonly boundedPredecessorJoin: boolean;
  /**
   * True when a sequence step over a range with metric leaves is written as a join of each
   * candidate anchor with the later events of its user, aggregated by windows partitioned by the
   * anchor (sequence-pairs.ts); false: as bestOverRanges in a layer of the chain's columns.
   */
  readonly pairedRangeSteps: boolean;
  /**
   * RangeBest's value at this row, for a dialect that runs the chain's layers over per-user arrays
   * (ClickHouse 18.16); a dialect with pairedRangeSteps writes such steps as joins instead.
   */
  bestOverRanges(spec: RangeBest): Fragment;
  /** A pair of BIGINTs (hi, lo) as one value that max() orders by hi, then lo. */
  packPair(hi: Fragment, lo: Fragment): Fragment;
  /** The hi and lo BIGINTs of a packPair value. */
  pairHigh(pair: Fragment): Fragment;
  pairLow(pair: Fragment): Fragment;

  // --- stream positions and per-user state (docs/audiences.md §8 says how ClickHouse spells them)

  /** One totally ordered value for (event_timestamp, ingest_seq), so min/max give first/last in stream order. */
  streamPosition(micros: Fragment, ingestSeq: Fragment): Fragment;
  /** The µs timestamp of a stream position. */
  positionMicros(position: Fragment): Fragment;
  /**
   * A running aggregate over the rows of `partition` in stream order (columns t, q), up to and
   * including the current row, or (`exclusive`) up to the row before it. NULL over no rows
   * (count: 0).
   */
  running(
    agg: 'bool_or' | 'sum' | 'count',
    value: Fragment,
    partition: Fragment,
    exclusive: boolean,
  ): Fragment;
  /** Σ value over the rows of `partition` whose `day` is within `days` days before this row's (inclusive), same-day rows after it included. */
  dayRangeSum(value: Fragment, partition: Fragment, day: Fragment, days: Param): Fragment;
  /** Σ value over the rows of `partition` after this one in stream order (NULL if none). */
  sumAfter(value: Fragment, partition: Fragment): Fragment;
  /**
   * The static N-day count's members (nday-sql.ts): the users (column u, sorted, once each) with a
   * row after `after` (its t) at which more than `moreThan` of their rows up to it in stream order
   * have a day d at most `span` days before its own. `rows` has the columns u, t, q, d.
   */
  usersCountingInDays(rows: Fragment, span: Param, moreThan: number, after: Param): Fragment;
  /**
   * Σ value (NULLs skipped) over the rows of `partition` from `rowsBack` rows before this one (a
   * per-row value) to this one, added one by one in stream order starting from 0.0: the reference's
   * order, so a sum of doubles is bit-identical to it (N-day sums of doubles).
   */
  sumInOrderRowsBack(value: Fragment, partition: Fragment, rowsBack: Fragment): Fragment;
  /** The number of distinct non-NULL values over the same rows as sumInOrderRowsBack (N-day sessions). */
  distinctRowsBack(value: Fragment, partition: Fragment, rowsBack: Fragment): Fragment;
  /** The list of `value` over the same rows as sumInOrderRowsBack, in stream order (N-day engaged sessions). */
  listRowsBack(value: Fragment, partition: Fragment, rowsBack: Fragment): Fragment;
  /** A struct of the per-event inputs of the engaged-session rule, as one element of listRowsBack. */
  engagementItem(sessionKey: Fragment, flag: Fragment, msec: Fragment, view: Fragment): Fragment;
  /**
   * The number of sessions engaged within a list of engagementItem (D19, per session over its
   * elements in order): a flag, two views, or a running Σ msec (from 0.0, NULLs skipped) that
   * reaches 10 000 at some element.
   */
  engagedSessionsInList(list: Fragment): Fragment;
  /** One element of a day-tagged frame list: the event's local day and a value (dynamic N-day metrics). */
  dayItem(day: Fragment, value: Fragment): Fragment;
  /** The values of the dayItem elements of `list` whose day is at least `fromDay`, in list order. */
  valuesFromDay(list: Fragment, fromDay: Fragment): Fragment;
  /** Σ of a list's non-NULL values added left to right from 0.0 (the reference's order: bit-identical). */
  listSumInOrder(list: Fragment): Fragment;
  /** Σ of a list of integers (0 when it is empty). */
  listSum(list: Fragment): Fragment;
  /** The number of distinct non-NULL values of a list. */
  listDistinctCount(list: Fragment): Fragment;
  /**
   * TRUE when `body` holds for some whole day number in [from, to] (FALSE when the range is
   * empty); `body` gets the day as a lambda variable (the midnights of a gap, D4).
   */
  someDay(from: Fragment, to: Fragment, body: (day: Fragment) => Fragment): Fragment;
  /** `value` at the previous row of `partition` in stream order, `empty` at the first row. */
  previous(value: Fragment, partition: Fragment, empty: Fragment): Fragment;
  /** `value` at the next row of `partition` in stream order, `last` at the last row. */
  next(value: Fragment, partition: Fragment, last: Fragment): Fragment;
  /** Aggregate: `value` at the row with the largest `key`. */
  argMax(value: Fragment, key: Fragment): Fragment;
  /** Aggregate: some row's boolean is true. */
  boolOr(value: Fragment): Fragment;
  /** Aggregate: the n-th smallest of `value` over the rows passing `filter` (NULL if fewer). */
  nthSmallest(value: Fragment, n: Param, filter: Fragment): Fragment;
  /** A join clause keeping the rows that have no match in `right` (a subquery) on the `using` columns. */
  antiJoin(right: Fragment, alias: Fragment, using: Fragment[]): Fragment;
  /** Aggregate: `value` at the row with the largest `key`, NULL values included. */
  argMaxKeepNull(value: Fragment, key: Fragment): Fragment;
  /** A VARCHAR as DOUBLE, NULL when it does not parse. */
  tryDouble(value: Fragment): Fragment;
  /** A VARCHAR as BIGINT, NULL when it does not parse. */
  tryBigint(value: Fragment): Fragment;
  /** A DOUBLE is neither infinite nor NaN. */
  isFinite(value: Fragment): Fragment;
}

export const duckdbDialect: SqlDialect = Object.freeze({
  name: 'duckdb' as const,
  boundedPredecessorJoin: true,
  pairedRangeSteps: true,
  bestOverRanges: () => {
    throw new DialectUnsupportedError(
      'duckdb dialect: steps over a range with metrics are joins of anchor pairs',
    );
  },
  placeholder: (index: number) => `$${index}`,
  // Quoted keys, so that any key text is addressed literally.
  jsonPath: (keys: readonly string[]) => `$${keys.map((k) => `.${JSON.stringify(k)}`).join('')}`,
  jsonText: (json: Fragment, path: Param) => sql`json_extract_string(${json}, ${path})`,
  jsonBigint: (json: Fragment, path: Param) => sql`TRY_CAST(json_extract_string(${json}, ${path}) AS BIGINT)`,
  jsonDouble: (json: Fragment, path: Param) => sql`TRY_CAST(json_extract_string(${json}, ${path}) AS DOUBLE)`,
  // A HUGEINT (timestamp << 64 | ingest_seq): one integer that min/max/arg_max order exactly.
  streamPosition: (micros: Fragment, ingestSeq: Fragment) =>
    sql`((CAST(${micros} AS HUGEINT) << 64) | ${ingestSeq})`,
  positionMicros: (position: Fragment) => sql`CAST(${position} >> 64 AS BIGINT)`,
  running: (agg: 'bool_or' | 'sum' | 'count', value: Fragment, partition: Fragment, exclusive: boolean) => {
    const frame = exclusive ? sql`1 PRECEDING` : sql`CURRENT ROW`;
    const call =
      agg === 'bool_or' ? sql`bool_or(${value})` : agg === 'sum' ? sql`sum(${value})` : sql`count(${value})`;
    return sql`${call} OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND ${frame})`;
  },
  dayRangeSum: (value: Fragment, partition: Fragment, day: Fragment, days: Param) =>
    sql`sum(${value}) OVER (PARTITION BY ${partition} ORDER BY ${day} RANGE BETWEEN ${days} PRECEDING AND CURRENT ROW)`,
  sumAfter: (value: Fragment, partition: Fragment) =>
    sql`sum(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)`,
  // The rows of the N days up to the row's day, less the same day's rows after it.
  usersCountingInDays: (rows: Fragment, span: Param, moreThan: number, after: Param) =>
    sql`SELECT DISTINCT u FROM (SELECT u, t, ${duckdbDialect.dayRangeSum(sql`1`, sql`u`, sql`d`, span)} - COALESCE(${duckdbDialect.sumAfter(sql`1`, sql`u, d`)}, 0) AS c FROM (${rows}))
WHERE t > ${after} AND c > ${param(moreThan)}
ORDER BY u`,
  // The frame's values as a list (in frame order), folded left to right: a windowed sum() would
  // add in its segment tree's order instead.
  sumInOrderRowsBack: (value: Fragment, partition: Fragment, rowsBack: Fragment) =>
    sql`list_reduce(list_filter(list(CAST(${value} AS DOUBLE)) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN ${rowsBack} PRECEDING AND CURRENT ROW), lambda __x: __x IS NOT NULL), lambda __a, __x: __a + __x, CAST(0 AS DOUBLE))`,
  distinctRowsBack: (value: Fragment, partition: Fragment, rowsBack: Fragment) =>
    sql`length(list_distinct(list(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN ${rowsBack} PRECEDING AND CURRENT ROW)))`,
  listRowsBack: (value: Fragment, partition: Fragment, rowsBack: Fragment) =>
    sql`list(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN ${rowsBack} PRECEDING AND CURRENT ROW)`,
  engagementItem: (sessionKey: Fragment, flag: Fragment, msec: Fragment, view: Fragment) =>
    sql`{'k': ${sessionKey}, 'f': COALESCE(${flag}, FALSE), 'ms': CAST(COALESCE(${msec}, 0) AS DOUBLE), 'v': (CASE WHEN ${view} THEN 1 ELSE 0 END)}`,
  // Per distinct session key, its elements in order; the running sum's maximum by a left fold of
  // (sum, max) pairs, so that the sums are the reference's (IEEE additions in stream order).
  engagedSessionsInList: (list: Fragment) =>
    sql`length(list_filter(list_distinct(list_transform(${list}, lambda __e: __e.k)), lambda __k: list_bool_or(list_transform(list_filter(${list}, lambda __e: __e.k = __k), lambda __e: __e.f)) OR list_sum(list_transform(list_filter(${list}, lambda __e: __e.k = __k), lambda __e: __e.v)) >= 2 OR list_reduce(list_transform(list_filter(${list}, lambda __e: __e.k = __k), lambda __e: {'s': __e.ms, 'm': __e.ms}), lambda __a, __e: {'s': __a.s + __e.s, 'm': greatest(__a.m, __a.s + __e.s)}, {'s': CAST(0 AS DOUBLE), 'm': CAST(0 AS DOUBLE)}).m >= 10000))`,
  dayItem: (day: Fragment, value: Fragment) => sql`{'d': ${day}, 'x': ${value}}`,
  valuesFromDay: (list: Fragment, fromDay: Fragment) =>
    sql`list_transform(list_filter(${list}, lambda __e: __e.d >= ${fromDay}), lambda __e: __e.x)`,
  listSumInOrder: (list: Fragment) =>
    sql`list_reduce(list_filter(${list}, lambda __x: __x IS NOT NULL), lambda __a, __x: __a + __x, CAST(0 AS DOUBLE))`,
  listSum: (list: Fragment) => sql`COALESCE(list_sum(${list}), 0)`,
  listDistinctCount: (list: Fragment) => sql`length(list_distinct(${list}))`,
  someDay: (from: Fragment, to: Fragment, body: (day: Fragment) => Fragment) =>
    sql`COALESCE(list_bool_or(list_transform(range(${from}, ${to} + 1), lambda __day: ${body(sql`__day`)})), FALSE)`,
  previous: (value: Fragment, partition: Fragment, empty: Fragment) =>
    sql`COALESCE(lag(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q), ${empty})`,
  next: (value: Fragment, partition: Fragment, last: Fragment) =>
    sql`COALESCE(lead(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q), ${last})`,
  argMax: (value: Fragment, key: Fragment) => sql`arg_max(${value}, ${key})`,
  boolOr: (value: Fragment) => sql`bool_or(${value})`,
  nthSmallest: (value: Fragment, n: Param, filter: Fragment) =>
    sql`(min(${value}, ${n}) FILTER (WHERE ${filter}))[${n}]`,
  antiJoin: (right: Fragment, alias: Fragment, using: Fragment[]) =>
    sql`ANTI JOIN (${right}) AS ${alias} USING (${join(using, ', ')})`,
  argMaxKeepNull: (value: Fragment, key: Fragment) => sql`arg_max_null(${value}, ${key})`,
  tryDouble: (value: Fragment) => sql`TRY_CAST(${value} AS DOUBLE)`,
  tryBigint: (value: Fragment) => sql`TRY_CAST(${value} AS BIGINT)`,
  isFinite: (value: Fragment) => sql`isfinite(${value})`,
  // TRY_CAST: a document that is not an array at `path` has no elements.
  jsonAny: (json: Fragment, path: Param, element: (item: Fragment) => Fragment) =>
    sql`COALESCE(list_bool_or(list_transform(TRY_CAST(json_extract(${json}, ${path}) AS JSON[]), lambda __it: ${element(sql`__it`)})), FALSE)`,
  jsonHas: (json: Fragment, path: Param) => sql`(json_type(${json}, ${path}) IS NOT NULL)`,
  jsonStringValue: (json: Fragment, path: Param) =>
    sql`(CASE WHEN json_type(${json}, ${path}) = 'VARCHAR' THEN json_extract_string(${json}, ${path}) END)`,
  jsonNumberValue: (json: Fragment, path: Param) =>
    sql`(CASE WHEN json_type(${json}, ${path}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(json_extract(${json}, ${path}) AS DOUBLE) END)`,
  regexFullMatch: (value: Fragment, pattern: Param) => sql`regexp_full_match(${value}, ${pattern})`,
  regexGroup1: (value: Fragment, pattern: Param) => sql`regexp_extract(${value}, ${pattern}, 1)`,
  lower: (value: Fragment) => sql`lower(${value})`,
  // Integers below 2^53 print exactly. Otherwise DuckDB's shortest round-trip digits match
  // JavaScript's, but the layout differs: DuckDB writes an exponent below 1e-4 and from about
  // 1e16 (JavaScript: below 1e-6 and from 1e21), pads the exponent to two digits, and ends
  // integral values with ".0".
  jsNumberText: (x: Fragment) => {
    const v = sql`CAST(${x} AS VARCHAR)`;
    const exp = sql`CAST(regexp_extract(${v}, ${param('e[+-]0*([0-9]+)$')}, 1) AS INTEGER)`;
    const digits = sql`replace(regexp_extract(${v}, ${param('^-?([0-9.]+)e')}, 1), '.', '')`;
    const sign = sql`(CASE WHEN ${x} < 0 THEN '-' ELSE '' END)`;
    const small = sql`regexp_full_match(${v}, ${param('-?[0-9](\\.[0-9]+)?e-0*[1-6]')})`;
    const large = sql`regexp_full_match(${v}, ${param('-?[0-9](\\.[0-9]+)?e\\+0*([0-9]|1[0-9]|20)')})`;
    return sql`CASE WHEN NOT isfinite(${x}) THEN NULL
 WHEN ${x} = trunc(${x}) AND abs(${x}) < 9007199254740992 THEN CAST(CAST(${x} AS BIGINT) AS VARCHAR)
 WHEN ${small} THEN ${sign} || '0.' || repeat('0', ${exp} - 1) || ${digits}
 WHEN ${large} THEN ${sign} || ${digits} || repeat('0', ${exp} + 1 - length(${digits}))
 ELSE regexp_replace(regexp_replace(${v}, ${param('\\.0$')}, ''), ${param('e([+-])0*([0-9])')}, ${param('e\\1\\2')}) END`;
  },
  startsWith: (value: Fragment, prefix: Param) => sql`starts_with(${value}, ${prefix})`,
  endsWith: (value: Fragment, suffix: Param) => sql`ends_with(${value}, ${suffix})`,
  contains: (value: Fragment, needle: Param) => sql`contains(${value}, ${needle})`,
  // epoch days of the wall-clock date in the zone (ICU's timezone() gives local wall time).
  // UTC (the commonest zone) by integer division, without ICU's per-row conversion.
  localDay: (micros: Fragment, timeZone: Param) =>
    timeZone.value === 'UTC'
      ? sql`(${micros} // 86400000000)`
      : sql`(CAST(timezone(${timeZone}, make_timestamptz(${micros})) AS DATE) - DATE '1970-01-01')`,
  previousInStream: (value: Fragment, partition: Fragment) =>
    sql`lag(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q)`,
  maxBeforeInStream: (value: Fragment, partition: Fragment) =>
    sql`max(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)`,
  // A RANGE frame orders by one key (t): earlier timestamps within the limit, plus the rows of the
  // same timestamp that come before this one in ingest order (greatest() skips NULLs).
  maxBeforeWithinMicros: (value: Fragment, partition: Fragment, micros: Param) =>
    sql`greatest(max(${value}) OVER (PARTITION BY ${partition} ORDER BY t RANGE BETWEEN ${micros} PRECEDING AND CURRENT ROW EXCLUDE GROUP), max(${value}) OVER (PARTITION BY ${partition}, t ORDER BY q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))`,
  runningSumInStream: (value: Fragment, partition: Fragment) =>
    sql`sum(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
  runningMaxInStream: (value: Fragment, partition: Fragment) =>
    sql`max(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
  rowNumberInStream: (partition: Fragment) =>
    sql`row_number() OVER (PARTITION BY ${partition} ORDER BY t, q)`,
  countBeforeWithinMicros: (partition: Fragment, micros: Param) =>
    sql`(count(*) OVER (PARTITION BY ${partition} ORDER BY t RANGE BETWEEN ${micros} PRECEDING AND CURRENT ROW EXCLUDE GROUP) + count(*) OVER (PARTITION BY ${partition}, t ORDER BY q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))`,
  maxInRowsBack: (value: Fragment, partition: Fragment, fromBack: Fragment, toBack: Fragment) =>
    sql`max(${value}) OVER (PARTITION BY ${partition} ORDER BY t, q ROWS BETWEEN ${fromBack} PRECEDING AND ${toBack} PRECEDING)`,
  // hi in the top 64 bits, lo shifted by 2^63 so that negative values keep their order.
  packPair: (hi: Fragment, lo: Fragment) =>
    sql`((CAST(${hi} AS HUGEINT) << 64) + (CAST(${lo} AS HUGEINT) + 9223372036854775808))`,
  pairHigh: (pair: Fragment) => sql`CAST(${pair} >> 64 AS BIGINT)`,
  pairLow: (pair: Fragment) =>
    sql`CAST((${pair} & CAST(18446744073709551615 AS HUGEINT)) - 9223372036854775808 AS BIGINT)`,
});

// A sequence step over a range with metric leaves (RangeBest, sequence-pairs.ts) over the per-user
// sorted arrays of ClickHouse 18.16: at row `__i` (the caller's arrayMap), every earlier row `__p`
// is a candidate anchor, judged with nested lambdas (which capture `__i`); the range (p, i] is
// `arraySlice(v, p + 1, i - p)` of each column (filtered to i's session key for a session-scoped
// step), aggregated as the reference does: integers by `arraySum`, doubles by `arraySum` of the
// non-NULL values (left to right from 0, bit-identical), distinct keys, the engaged-session rule.
// Step 0's range is the rows 1..i. O(n) candidates per row and O(n) per slice: O(n³) per user for
// n events in the window (18.16 has no join of a row with its own array's rows that is cheaper;
// DuckDB joins the anchor pairs instead and aggregates them with windows, O(n²)).

import { clickhouseDialect } from './clickhouse-dialect.ts';
import type { RangeAggregates, RangeBest, SqlDialect } from './dialect.ts';
import { render, sql, type Fragment } from './sql.ts';

/**
 * The step's value at row `__i`. `ordered` gives the user's array of a per-row expression (the
 * suffix names its helper column); the partition is the whole user.
 */
export function rangeElement(
  spec: RangeBest,
  ordered: (expr: Fragment, suffix: string) => Fragment,
  d: SqlDialect,
): Fragment {
  const arrays = new Map<string, Fragment>();
  const arr = (expr: Fragment): Fragment => {
    const key = render(expr, (_i, v) => clickhouseDialect.placeholder(0, v)).sql;
    let a = arrays.get(key);
    if (a === undefined) arrays.set(key, (a = ordered(expr, `r${arrays.size}`)));
    return a;
  };
  const t = arr(sql`t`);
  // The range's rows: p + 1 .. i (step 0: 1 .. i).
  const from = spec.prev === null ? sql`toInt64(1)` : sql`(toInt64(__p) + 1)`;
  const length = sql`(toInt64(__i) - ${from} + 1)`;
  const slice = (col: Fragment): Fragment => sql`arraySlice(${arr(col)}, ${from}, ${length})`;
  const key = spec.sessionKey;
  const rows = (col: Fragment): Fragment =>
    key === null
      ? slice(col)
      : sql`arrayFilter((__rv, __rk) -> __rk = ${arr(key)}[__i], ${slice(col)}, ${slice(key)})`;
  const agg: RangeAggregates = {
    count: (col) =>
      col === null ? sql`toInt64(length(${rows(sql`t`)}))` : sql`toInt64(arraySum(${rows(col)}))`,
    any: (flag) => sql`arrayExists(__ra -> ifNull(__ra, 0) = 1, ${rows(flag)})`,
    sumInOrder: (col) => d.listSumInOrder(rows(col)),
    sessions: (k) => d.listDistinctCount(rows(k)),
    engagedSessions: (k, engaged, msec, view) =>
      d.engagedSessionsInList(
        sql`arrayMap((__ek, __ef, __em, __ev) -> ${d.engagementItem(sql`__ek`, sql`__ef`, sql`__em`, sql`__ev`)}, ${rows(k)}, ${rows(engaged)}, ${rows(msec)}, ${rows(view)})`,
      ),
  };
  const holds = sql`ifNull(toUInt8(${spec.holds(agg)}), 0) = 1`;
  if (spec.prev === null) return sql`if(${holds}, ${t}[__i], NULL)`;
  const b = arr(spec.prev);
  const conds: Fragment[] = [sql`__p < __i`, sql`isNotNull(${b}[__p])`];
  if (spec.limit !== null) conds.push(sql`${t}[__i] - ${t}[__p] <= ${spec.limit}`);
  if (spec.maxDuration !== null) conds.push(sql`ifNull(${t}[__i] - ${b}[__p] <= ${spec.maxDuration}, 0) = 1`);
  if (spec.adjacency === 'successor') conds.push(sql`__p = __i - 1`);
  if (spec.adjacency === 'groups') conds.push(sql`${arr(sql`gp`)}[__i] = ${arr(sql`g`)}[__p]`);
  if (spec.sameSession) {
    const s = arr(sql`s`);
    conds.push(sql`ifNull(${s}[__p] = ${s}[__i], 0) = 1`);
  }
  conds.push(holds);
  const when = conds.reduce((acc, c) => sql`${acc} AND ${c}`);
  return sql`arrayReduce('max', arrayMap(__p -> if(${when}, ${b}[__p], NULL), arrayEnumerate(${t})))`;
}

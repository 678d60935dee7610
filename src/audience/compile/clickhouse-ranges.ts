// A sequence step over a range with metric leaves (RangeBest, sequence-pairs.ts) over the per-user
// sorted arrays of ClickHouse 18.16: at row `__i` (the caller's arrayMap), every earlier row `__p`
// is a candidate anchor, judged with nested lambdas (which capture `__i`); the range (p, i] is
// `arraySlice(v, p + 1, i - p)` of each column (filtered to i's session key for a session-scoped
// step), aggregated as the reference does: integers by `arraySum`, doubles by `arraySum` of the
// non-NULL values (left to right from 0, bit-identical), distinct keys, the engaged-session rule.
// Step 0's range is the rows 1..i. O(n) candidates per row; a count or a latched match over the
// user's rows is a difference of cumulative sums (O(1) per candidate, so O(n²) per user, as
// DuckDB's pairs), while sums of doubles (in order), sessions, engaged sessions and every
// aggregate of a session-scoped step take a slice (O(n) per candidate: O(n³) per user).

import { clickhouseText } from './clickhouse-dialect.ts';
import type { RangeAggregates, RangeBest, SqlDialect } from './dialect.ts';
import { ident, join, sql, type Fragment } from './sql.ts';

/**
 * The step's value at row `__i`. `ordered` gives the user's array of a per-row expression (the
 * suffix names its helper column); the partition is the whole user.
 */
export function rangeElement(
  spec: RangeBest,
  ordered: (expr: Fragment, suffix: string) => Fragment,
  helper: (suffix: string, array: Fragment) => Fragment,
  d: SqlDialect,
): Fragment {
  const arrays = new Map<string, Fragment>();
  const arr = (expr: Fragment): Fragment => {
    const key = clickhouseText(expr);
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
  // 18.16 copies every array a lambda captures for each of its elements, so the candidates'
  // lambda takes the arrays it reads at __p as arguments (zipped) and the values at __i as scalars
  // bound by a one-element arrayMap around it: O(n) per row instead of O(n²). Only slices (below)
  // capture whole arrays.
  const later = spec.prev !== null;
  const scalars: { name: Fragment; value: Fragment }[] = [];
  const zipped: { name: Fragment; array: Fragment }[] = [];
  const atI = (array: Fragment): Fragment => {
    if (!later) return sql`${array}[__i]`;
    const name = ident(`__ri${scalars.length}`);
    scalars.push({ name, value: sql`${array}[__i]` });
    return name;
  };
  const atP = (array: Fragment): Fragment => {
    const name = ident(`__rp${zipped.length}`);
    zipped.push({ name, array });
    return name;
  };
  // Over the user's rows (no session filter) an integer total of (p, i] is a difference of
  // cumulative sums, O(1) per candidate: counts and latched matches need no slice.
  let sums = 0;
  const total = (col: Fragment | null): Fragment => {
    const ones =
      col === null
        ? sql`arrayMap(__c -> toInt64(1), ${t})`
        : sql`arrayMap(__c -> toInt64(ifNull(__c, 0)), ${arr(col)})`;
    const cs = helper(`rs${sums++}`, sql`arrayCumSum(${ones})`);
    return later ? sql`(${atI(cs)} - ${atP(cs)})` : sql`${cs}[__i]`;
  };
  const agg: RangeAggregates = {
    count: (col) =>
      key === null
        ? total(col)
        : col === null
          ? sql`toInt64(length(${rows(sql`t`)}))`
          : sql`toInt64(arraySum(${rows(col)}))`,
    any: (flag) =>
      key === null ? sql`(${total(flag)} > 0)` : sql`arrayExists(__ra -> ifNull(__ra, 0) = 1, ${rows(flag)})`,
    sumInOrder: (col) => d.listSumInOrder(rows(col)),
    sessions: (k) => d.listDistinctCount(rows(k)),
    engagedSessions: (k, engaged, msec, view) =>
      d.engagedSessionsInList(
        sql`arrayMap((__ek, __ef, __em, __ev) -> ${d.engagementItem(sql`__ek`, sql`__ef`, sql`__em`, sql`__ev`)}, ${rows(k)}, ${rows(engaged)}, ${rows(msec)}, ${rows(view)})`,
      ),
  };
  const holds = sql`ifNull(toUInt8(${spec.holds(agg)}), 0) = 1`;
  if (!later) return sql`if(${holds}, ${t}[__i], NULL)`;
  const b = atP(arr(spec.prev!));
  const conds: Fragment[] = [sql`__p < __i`, sql`isNotNull(${b})`];
  if (spec.limit !== null || spec.maxDuration !== null) {
    const ti = atI(t);
    if (spec.limit !== null) conds.push(sql`${ti} - ${atP(t)} <= ${spec.limit}`);
    if (spec.maxDuration !== null) conds.push(sql`ifNull(${ti} - ${b} <= ${spec.maxDuration}, 0) = 1`);
  }
  if (spec.adjacency === 'successor') conds.push(sql`__p = __i - 1`);
  if (spec.adjacency === 'groups') conds.push(sql`${atI(arr(sql`gp`))} = ${atP(arr(sql`g`))}`);
  if (spec.sameSession) {
    const s = arr(sql`s`);
    conds.push(sql`ifNull(${atP(s)} = ${atI(s)}, 0) = 1`);
  }
  conds.push(holds);
  const when = conds.reduce((acc, c) => sql`${acc} AND ${c}`);
  const params = join([sql`__p`, ...zipped.map((z) => z.name)], ', ');
  const args = join([sql`arrayEnumerate(${t})`, ...zipped.map((z) => z.array)], ', ');
  const candidates = sql`arrayMap((${params}) -> if(${when}, ${b}, NULL), ${args})`;
  if (scalars.length === 0) return sql`arrayReduce('max', ${candidates})`;
  const bound = join(
    scalars.map((x) => x.name),
    ', ',
  );
  const values = join(
    scalars.map((x) => sql`[${x.value}]`),
    ', ',
  );
  return sql`arrayReduce('max', arrayMap((${bound}) -> ${candidates}, ${values})[1])`;
}

// The per-event state (events-sql.ts, docs/audiences.md §8 form 3) on ClickHouse 18.16, which has
// no window functions: one sorted array per user and column, and every stage's column an array.
//
// The compiler is the same (EventStateCompiler); only the window hooks and the statement's shape
// differ. A window hook of this dialect returns a marker column name and records the call. The
// stages then become one SELECT over the user's arrays (aliases of one SELECT may refer to each
// other in ClickHouse, so no stage is a subquery of its own: 18.16 re-analyses nested subqueries
// at every level, and a chain of per-stage GROUP BY / ARRAY JOIN took seconds to analyse):
//
//   SELECT u FROM (
//     SELECT u, <stage arrays>, <per-user values> FROM (
//       SELECT u, arrayMap(x -> x.1, arraySort((x, k) -> k, groupArray(tuple(c)), groupArray(tuple(t, q)))) AS arr_<c>, …
//       FROM <stage 0: the evaluation window's rows> GROUP BY u)) -- each column in stream order (t, q)
//   WHERE <membership>
//
// (tuple(c): groupArray skips NULLs, a tuple of a NULL is kept). A stage's plain column is
// arrayMap((<earlier columns>) -> expr, arr_<earlier columns>…), the lambda's parameters named
// after the columns. A window's value array is built the same way; with i the row's index:
// - over the user (`u`): running sum / count / bool_or from arrayCumSum of the values (NULLs as 0)
//   and of their non-NULL flags (NULL when nothing was counted, as a windowed sum); the sum of
//   doubles adds left to right in stream order, as the reference does; previous / next: v[i - 1],
//   v[i + 1]; running max: arrayReduce('max', arraySlice(v, 1, i)), O(i) per row (18.16 has no
//   running maximum); N-day counts: days are non-decreasing in stream order, so the RANGE frame
//   [day - n, day] is the slice from arrayFirstIndex(d -> d >= day - n) to the day's last row,
//   summed from the cumulative sums; N-day sums of doubles and sessions: arraySum / arrayDistinct
//   over the slice of the last c rows (arraySum adds left to right from 0, the reference's order);
// - over another partition (a session `u, s, CASE WHEN s IS NULL THEN q END`, a local day): the
//   rows are permuted into (partition key, t, q) order (arraySort of the indices), each row's
//   partition is the run [lo, hi] of equal keys around it (arrayCumSum of the key changes), the
//   same window is computed within that run (sums by arraySum of the slice: exact for doubles),
//   and the results are permuted back (the inverse permutation, again by arraySort).
// The members then come from the arrays per user: the last qualifying position, the last where A
// failed, and the exclusion (the last non-NULL value, or whether any is true).
//
// Sequence clauses: clickhouse-sequences.ts (a subclass; its chain's columns come before stage 1,
// beforeStages). Not here: stage-1 joins; the audience then takes the hybrid plan.

import type { AudienceDefinition } from '../../domain/audience.ts';
import { clickhouseDialect, clickhouseText, DialectUnsupportedError } from './clickhouse-dialect.ts';
import type { RangeBest, SqlDialect } from './dialect.ts';
import { EventStateCompiler, type StageColumn } from './events-sql.ts';
import { frameElement, frameHooks, isFrameCall, type FrameCall } from './clickhouse-frames.ts';
import { rangeElement } from './clickhouse-ranges.ts';
import { ident, join, param, sql, type Fragment, type Param } from './sql.ts';
import type { QueryContext } from './window.ts';

type WindowCall =
  | {
      kind: 'running';
      agg: 'bool_or' | 'sum' | 'count';
      value: Fragment;
      partition: Fragment;
      exclusive: boolean;
    }
  | { kind: 'previous'; value: Fragment; partition: Fragment; empty: Fragment }
  | { kind: 'next'; value: Fragment; partition: Fragment; last: Fragment }
  | { kind: 'max'; value: Fragment; partition: Fragment; exclusive: boolean }
  | { kind: 'dayRangeSum'; value: Fragment; partition: Fragment; day: Fragment; days: Param }
  | { kind: 'sumAfter'; value: Fragment; partition: Fragment }
  | {
      kind: 'rowsBack';
      agg: 'sum' | 'distinct' | 'list';
      value: Fragment;
      partition: Fragment;
      rowsBack: Fragment;
    }
  /** The exclusion aggregate of the members' SELECT: the last value by position, or any true. */
  | { kind: 'exclusion'; last: boolean; value: Fragment; partition: Fragment }
  /** The sequence compiler's time-bounded and per-row frames (clickhouse-frames.ts). */
  | FrameCall
  /** A sequence step over a range with metric leaves (clickhouse-ranges.ts); partition: u. */
  | { kind: 'ranges'; spec: RangeBest; partition: Fragment };

const MARKER = /^audex_win_\d+$/;

/** The clickhouse dialect whose window hooks record their call under a marker name. */
function recordingDialect(calls: Map<string, WindowCall>): SqlDialect {
  const record = (call: WindowCall): Fragment => {
    const name = `audex_win_${calls.size}`;
    calls.set(name, call);
    return ident(name);
  };
  return Object.freeze({
    ...clickhouseDialect,
    running: (agg: 'bool_or' | 'sum' | 'count', value: Fragment, partition: Fragment, exclusive: boolean) =>
      record({ kind: 'running', agg, value, partition, exclusive }),
    previous: (value: Fragment, partition: Fragment, empty: Fragment) =>
      record({ kind: 'previous', value, partition, empty }),
    next: (value: Fragment, partition: Fragment, last: Fragment) =>
      record({ kind: 'next', value, partition, last }),
    previousInStream: (value: Fragment, partition: Fragment) =>
      record({ kind: 'previous', value, partition, empty: sql`NULL` }),
    runningMaxInStream: (value: Fragment, partition: Fragment) =>
      record({ kind: 'max', value, partition, exclusive: false }),
    maxBeforeInStream: (value: Fragment, partition: Fragment) =>
      record({ kind: 'max', value, partition, exclusive: true }),
    runningSumInStream: (value: Fragment, partition: Fragment) =>
      record({ kind: 'running', agg: 'sum', value, partition, exclusive: false }),
    dayRangeSum: (value: Fragment, partition: Fragment, day: Fragment, days: Param) =>
      record({ kind: 'dayRangeSum', value, partition, day, days }),
    sumAfter: (value: Fragment, partition: Fragment) => record({ kind: 'sumAfter', value, partition }),
    sumInOrderRowsBack: (value: Fragment, partition: Fragment, rowsBack: Fragment) =>
      record({ kind: 'rowsBack', agg: 'sum', value, partition, rowsBack }),
    distinctRowsBack: (value: Fragment, partition: Fragment, rowsBack: Fragment) =>
      record({ kind: 'rowsBack', agg: 'distinct', value, partition, rowsBack }),
    listRowsBack: (value: Fragment, partition: Fragment, rowsBack: Fragment) =>
      record({ kind: 'rowsBack', agg: 'list', value, partition, rowsBack }),
    // Only the members' SELECT aggregates here (events-sql.ts: the exclusion).
    argMax: (value: Fragment) => record({ kind: 'exclusion', last: true, value, partition: sql`u` }),
    boolOr: (value: Fragment) => record({ kind: 'exclusion', last: false, value, partition: sql`u` }),
    ...frameHooks(record),
    bestOverRanges: (spec: RangeBest) => record({ kind: 'ranges', spec, partition: sql`u` }),
  });
}

function nameOf(c: StageColumn): string {
  return clickhouseText(c.name);
}

interface Column {
  name: string;
  /** An array expression over the user's arrays (arr_<name> is its alias). */
  array: Fragment;
  /** 0: stage 0's sorted arrays; k: stage k's columns and their helpers; 0 < l < 1: partitions. */
  level: number;
}

export class ClickHouseEventStateCompiler extends EventStateCompiler {
  /** Array columns in definition order: stage 0's, then each stage's. */
  private readonly columns: Column[] = [];
  /** The column names of the rows a stage reads (the previous stages'). */
  private carried: string[] = [];
  private perPartition = new Map<string, string>();

  protected constructor(
    private readonly calls: Map<string, WindowCall>,
    def: AudienceDefinition,
    ctx: QueryContext,
    users: Fragment | null,
  ) {
    super(recordingDialect(calls), def, ctx, users);
  }

  /** Records the stage's columns as arrays; the statement is written by membersSelect. */
  protected override stageSelect(
    k: number,
    prev: Fragment,
    cols: readonly StageColumn[],
    joins: Fragment[],
  ): Fragment {
    if (joins.length > 0)
      throw new DialectUnsupportedError('ClickHouse 18.16 dialect: joins in the per-event state');
    if (k === 1) this.startArrays();
    this.stage = k;
    const added: string[] = [];
    for (const c of cols) {
      const text = clickhouseText(c.expr);
      const call = MARKER.test(text) ? this.calls.get(text) : undefined;
      // A window inside an expression only as a column of an earlier level (clickhouse-sequences.ts).
      if (!call && (text.match(/audex_win_\d+/g) ?? []).some((w) => !this.carried.includes(w)))
        throw new DialectUnsupportedError('ClickHouse 18.16 dialect: a window inside an expression');
      const name = nameOf(c);
      this.add(name, call ? this.window(call, name) : this.arrayOf(c.expr));
      added.push(name);
    }
    this.carried.push(...added);
    return sql`SELECT * FROM ${prev}`;
  }

  /** Stage 0's columns (the event window's rows, u the group key) as sorted arrays. */
  private startArrays(): void {
    if (this.carried.length > 0) return;
    this.carried = ['s', 't', 'q', 'pos', ...this.baseColumns().map(nameOf)];
    for (const c of this.carried)
      this.columns.push({
        name: c,
        array: sql`arrayMap(__x -> __x.1, arraySort((__x, __k) -> __k, groupArray(tuple(${ident(c)})), groupArray(tuple(t, q))))`,
        level: 0,
      });
    this.beforeStages();
  }

  /** Columns computed after stage 0's arrays and before stage 1 (levels between 0.5 and 1). */
  protected beforeStages(): void {}

  /** The array of a per-row expression over stage 0's columns. */
  private arrayOf0(expr: Fragment): Fragment {
    const stage0 = ['s', 't', 'q', 'pos', ...this.baseColumns().map(nameOf)];
    return sql`arrayMap((${join(
      stage0.map((c) => ident(c)),
      ', ',
    )}) -> ${expr}, ${join(
      stage0.map((c) => ident(`arr_${c}`)),
      ', ',
    )})`;
  }

  /** The array of a per-row expression over the columns so far (u is the row's user). */
  private arrayOf(expr: Fragment): Fragment {
    const params = join(
      this.carried.map((c) => ident(c)),
      ', ',
    );
    const arrays = join(
      this.carried.map((c) => ident(`arr_${c}`)),
      ', ',
    );
    return sql`arrayMap((${params}) -> ${expr}, ${arrays})`;
  }

  /** A named helper array (a column of the statement's arrays). */
  private helper(name: string, array: Fragment, level = this.stage): Fragment {
    this.add(name, array, level);
    return ident(`arr_${name}`);
  }

  /**
   * Adds a column to the current stage's SELECT. Each stage is a subquery of its own: 18.16 expands
   * every alias into each place that names it, so chaining all stages through aliases grows the
   * query exponentially ("AST is too big"), while a subquery per helper makes 18.16 analyse the
   * nested subqueries for seconds.
   */
  private add(name: string, array: Fragment, level = this.stage): void {
    this.columns.push({ name, array, level });
  }

  /** The stage being compiled: its columns share one SELECT (their helpers are its aliases). */
  private stage = 0;

  /**
   * The rows of `partition` in (key, t, q) order: the permutation `perm` (sorted position -> row),
   * its inverse `inv`, and each sorted position's run of equal keys [lo, hi].
   */
  private partitionOf(partition: Fragment): { perm: Fragment; inv: Fragment; lo: Fragment; hi: Fragment } {
    const key = clickhouseText(partition);
    let id = this.perPartition.get(key);
    if (id === undefined) {
      id = `k${this.perPartition.size}`;
      this.perPartition.set(key, id);
      // Over stage 0's columns only (a session, a local day), each on a level of its own below
      // stage 1, so that no window expands the chain again.
      const k = this.helper(`${id}_key`, this.arrayOf0(sql`toString(tuple(${partition}))`), 0.1);
      const idx = sql`arrayEnumerate(arr_t)`;
      const perm = this.helper(
        `${id}_perm`,
        sql`arraySort(__j -> (${k}[__j], arr_t[__j], arr_q[__j]), ${idx})`,
        0.2,
      );
      this.helper(`${id}_inv`, sql`arraySort((__j, __p) -> __p, ${idx}, ${perm})`, 0.3);
      const change = this.helper(
        `${id}_new`,
        sql`arrayMap(__j -> toUInt64(__j = 1 OR ${k}[${perm}[__j]] != ${k}[${perm}[__j - 1]]), ${idx})`,
        0.3,
      );
      const group = this.helper(`${id}_grp`, sql`arrayCumSum(${change})`, 0.4);
      const starts = this.helper(
        `${id}_starts`,
        sql`arrayFilter((__j, __c) -> __c = 1, ${idx}, ${change})`,
        0.4,
      );
      this.helper(`${id}_lo`, sql`arrayMap(__g -> toInt64(${starts}[__g]), ${group})`, 0.5);
      this.helper(
        `${id}_hi`,
        sql`arrayMap(__g -> if(__g = length(${starts}), toInt64(length(arr_t)), toInt64(${starts}[__g + 1]) - 1), ${group})`,
        0.5,
      );
    }
    return {
      perm: ident(`arr_${id}_perm`),
      inv: ident(`arr_${id}_inv`),
      lo: sql`arr_${ident(`${id}_lo`)}[__i]`,
      hi: sql`arr_${ident(`${id}_hi`)}[__i]`,
    };
  }

  /** The array of a window's values, in the user's stream order. */
  private window(call: WindowCall, name: string): Fragment {
    const user = clickhouseText(call.partition) === 'u';
    const p = user ? null : this.partitionOf(call.partition);
    // Arrays read by the window, in the partition's order (the user's: as they are).
    const ordered = (expr: Fragment, suffix: string): Fragment => {
      const a = this.helper(`${name}_${suffix}`, this.arrayOf(expr));
      return p ? this.helper(`${name}_${suffix}_p`, sql`arrayMap(__j -> ${a}[__j], ${p.perm})`) : a;
    };
    const lo = p ? sql`toInt64(${p.lo})` : sql`toInt64(1)`;
    const hi = p ? sql`toInt64(${p.hi})` : sql`toInt64(length(arr_t))`;
    const element = this.element(call, name, ordered, lo, hi, user);
    const sorted = sql`arrayMap(__i -> ${element}, arrayEnumerate(arr_t))`;
    if (!p) return sorted;
    const inSorted = this.helper(`${name}_s`, sorted);
    return sql`arrayMap(__i -> ${inSorted}[${p.inv}[__i]], arrayEnumerate(arr_t))`;
  }

  /**
   * The window's value at position `__i` of the partition's order, whose run is [lo, hi].
   * `user`: the partition is the whole user (lo = 1), so cumulative sums need no subtraction.
   */
  private element(
    call: WindowCall,
    name: string,
    ordered: (expr: Fragment, suffix: string) => Fragment,
    lo: Fragment,
    hi: Fragment,
    user: boolean,
  ): Fragment {
    const cumulative = (v: Fragment): { cs: Fragment; cn: Fragment } => ({
      cs: this.helper(`${name}_cs`, sql`arrayCumSum(arrayMap(__x -> ifNull(__x, 0), ${v}))`),
      cn: this.helper(`${name}_cn`, sql`arrayCumSum(arrayMap(__x -> toUInt64(isNotNull(__x)), ${v}))`),
    });
    /**
     * Σ and count of the non-NULL values of rows a..b (a <= b + 1) of the partition order;
     * `fromStart`: a is the partition's first row.
     */
    const range = (
      v: Fragment,
      a: Fragment,
      b: Fragment,
      fromStart = false,
    ): { sum: Fragment; count: Fragment } => {
      if (user) {
        const { cs, cn } = cumulative(v);
        // From the first row: the cumulative sum itself, added left to right (exact for doubles).
        if (fromStart) return { sum: sql`${cs}[${b}]`, count: sql`${cn}[${b}]` };
        return {
          sum: sql`(${cs}[${b}] - ${cs}[${a} - 1])`,
          count: sql`(${cn}[${b}] - ${cn}[${a} - 1])`,
        };
      }
      const slice = sql`arraySlice(${v}, ${a}, ${b} - ${a} + 1)`;
      return {
        sum: sql`arraySum(arrayMap(__x -> ifNull(__x, 0), ${slice}))`,
        count: sql`arrayCount(__x -> isNotNull(__x), ${slice})`,
      };
    };
    const i = sql`toInt64(__i)`;
    if (isFrameCall(call)) return frameElement(call, ordered, lo);
    switch (call.kind) {
      case 'ranges':
        return rangeElement(
          call.spec,
          ordered,
          (suffix, array) => this.helper(`${name}_${suffix}`, array),
          clickhouseDialect,
        );
      case 'exclusion':
        throw new DialectUnsupportedError('ClickHouse 18.16 dialect: an aggregate in a stage');
      case 'running': {
        const v = ordered(call.value, 'v');
        const b = call.exclusive ? sql`(${i} - 1)` : i;
        const { sum, count } = range(v, lo, b, true);
        if (call.agg === 'count') return sql`if(${b} < ${lo}, 0, ${count})`;
        const value = call.agg === 'sum' ? sum : sql`(${sum} > 0)`;
        return sql`if(${b} < ${lo} OR ${count} = 0, NULL, ${value})`;
      }
      case 'previous': {
        const v = ordered(call.value, 'v');
        return sql`if(${i} = ${lo}, ${call.empty}, ${v}[${i} - 1])`;
      }
      case 'next': {
        const v = ordered(call.value, 'v');
        return sql`if(${i} = ${hi}, ${call.last}, ${v}[${i} + 1])`;
      }
      case 'max': {
        const v = ordered(call.value, 'v');
        return call.exclusive
          ? sql`if(${i} = ${lo}, NULL, arrayReduce('max', arraySlice(${v}, ${lo}, ${i} - ${lo})))`
          : sql`arrayReduce('max', arraySlice(${v}, ${lo}, ${i} - ${lo} + 1))`;
      }
      case 'dayRangeSum': {
        if (!user) throw new DialectUnsupportedError('ClickHouse 18.16 dialect: day ranges within a session');
        const v = ordered(call.value, 'v');
        const d = ordered(call.day, 'd');
        const a = sql`toInt64(arrayFirstIndex(__d -> __d >= ${d}[__i] - ${call.days}, ${d}))`;
        const next = sql`toInt64(arrayFirstIndex(__d -> __d > ${d}[__i], ${d}))`;
        const b = sql`if(${next} = 0, toInt64(length(${d})), ${next} - 1)`;
        const { sum, count } = range(v, a, b);
        return sql`if(${count} = 0, NULL, ${sum})`;
      }
      case 'sumAfter': {
        const v = ordered(call.value, 'v');
        const { sum, count } = range(v, sql`(${i} + 1)`, hi);
        return sql`if(${i} = ${hi} OR ${count} = 0, NULL, ${sum})`;
      }
      case 'rowsBack': {
        if (!user) throw new DialectUnsupportedError('ClickHouse 18.16 dialect: row frames within a session');
        const v = ordered(call.value, 'v');
        const back = ordered(call.rowsBack, 'b');
        // The frame's elements as they are (NULLs kept), in stream order.
        if (call.agg === 'list') return sql`arraySlice(${v}, __i - ${back}[__i], ${back}[__i] + 1)`;
        const slice = sql`arrayFilter(__x -> isNotNull(__x), arraySlice(${v}, __i - ${back}[__i], ${back}[__i] + 1))`;
        return call.agg === 'sum'
          ? sql`arraySum(arrayMap(__x -> toFloat64(assumeNotNull(__x)), ${slice}))`
          : sql`length(arrayDistinct(${slice}))`;
      }
    }
  }

  // Per user from the arrays (stream order): the last qualifying position and the last where A
  // failed, and the exclusion as the engines' aggregates give it (arg_max / argMax skip NULL
  // values: the last non-NULL value; bool_or: true when some value is; NULL when every value is
  // NULL, which keeps the user out, as NOT NULL does there).
  protected override membersSelect(
    _prev: Fragment,
    qualifies: Fragment,
    bad: Fragment,
    excluded: Fragment,
    cutoff: bigint,
  ): Fragment {
    this.startArrays();
    const flags = (f: Fragment): Fragment => this.arrayOf(sql`toUInt8(ifNull(${f}, 0))`);
    const positionsWhere = (f: Fragment): Fragment =>
      sql`arrayFilter((__p, __f) -> __f = 1, arr_pos, ${flags(f)})`;
    const finals = [
      sql`${positionsWhere(qualifies)} AS __lq`,
      sql`${positionsWhere(bad)} AS __lbad`,
      sql`${this.exclusion(excluded)} AS x`,
    ];
    const { rel, last, keepName } = this.arraysRelation();
    return sql`SELECT u FROM (SELECT u, ${join([last, ...finals], ', ')} FROM ${rel})
WHERE ${keepName} >= 0 AND length(__lq) > 0 AND (length(__lbad) = 0 OR __lbad[-1] < __lq[-1]) AND tupleElement(__lq[-1], 1) > ${param(cutoff)} AND NOT x
ORDER BY u`;
  }

  /**
   * The user's arrays, level by level (a subquery per level over the one before), and the last
   * level's keep column, which the final SELECT must read (and name in its WHERE).
   */
  private arraysRelation(): { rel: Fragment; last: Fragment; keepName: Fragment } {
    const named = (c: Column): Fragment => sql`${c.array} AS ${ident(`arr_${c.name}`)}`;
    // 18.16 does not see a column that only a lambda's body reads when it decides which columns a
    // subquery must return, and drops it ("Unknown identifier"): each level's __keep names every
    // column of the levels below outside any lambda, and the final SELECT reads the last one, so
    // no column is dropped (length() of an array costs nothing).
    let keeps = 0;
    const keep = (level: number): Fragment => {
      const cols = this.columns.filter((c) => c.level <= level);
      const lengths = cols.map((c) => sql`length(${ident(`arr_${c.name}`)})`);
      const sum = lengths.reduce((acc, x) => sql`${acc} + ${x}`, sql`0`);
      return sql`(${sum}) AS ${ident(`__keep${++keeps}`)}`;
    };
    const top = Math.max(0, ...this.columns.map((c) => c.level));
    let rel = sql`(SELECT ${join([sql`u`, ...this.columns.filter((c) => c.level === 0).map(named)], ', ')} FROM ev GROUP BY u)`;
    const levels = [...new Set(this.columns.map((c) => c.level))].filter((l) => l > 0).sort((x, y) => x - y);
    let below = 0;
    for (const level of levels) {
      const cols = this.columns.filter((c) => c.level === level).map(named);
      rel = sql`(SELECT *, ${join([keep(below), ...cols], ', ')} FROM ${rel})`;
      below = level;
    }
    const last = keep(top);
    return { rel, last, keepName: ident(`__keep${keeps}`) };
  }

  /**
   * The trigger rows (u, q) from the arrays: each user's fire flags, positions and ingest numbers,
   * unnested (ARRAY JOIN), kept where the flag is set and (`since`) from the user's first new
   * position on, joined by user (18.16 joins on keys only).
   */
  protected override triggersSelect(
    ctes: Fragment[],
    _rel: Fragment,
    fires: Fragment,
    since: Fragment | null,
  ): Fragment {
    this.startArrays();
    const flags = this.arrayOf(sql`toUInt8(ifNull(${fires}, 0))`);
    const { rel, last, keepName } = this.arraysRelation();
    let perUser = sql`SELECT u, ${last}, arr_q AS __qs, arr_pos AS __ps, ${flags} AS __fs FROM ${rel}`;
    let from = sql`__fire = 1`;
    if (since !== null) {
      perUser = sql`SELECT * FROM (${perUser}) ANY INNER JOIN (SELECT nu AS u, npos AS __npos FROM (${since})) USING (u)`;
      from = sql`__fire = 1 AND __p >= __npos`;
    }
    return sql`WITH ${join(ctes, ',\n')}
SELECT u, __q AS q FROM (${perUser}) ARRAY JOIN __qs AS __q, __ps AS __p, __fs AS __fire
WHERE ${keepName} >= 0 AND ${from}`;
  }

  /** The exclusion aggregate (recorded by argMax / boolOr) over the arrays; FALSE: none. */
  private exclusion(excluded: Fragment): Fragment {
    const text = clickhouseText(excluded);
    if (text === 'FALSE') return sql`0`;
    const call = this.calls.get(text);
    if (!call || call.kind !== 'exclusion')
      throw new DialectUnsupportedError('ClickHouse 18.16 dialect: an exclusion of another shape');
    const known = sql`arrayFilter(__x -> isNotNull(__x), ${this.arrayOf(call.value)})`;
    return call.last
      ? sql`if(length(${known}) = 0, NULL, ${known}[-1])`
      : sql`if(length(${known}) = 0, NULL, arrayExists(__x -> ifNull(__x, 0) = 1, ${known}))`;
  }
}

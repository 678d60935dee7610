// The sequence compiler's frame hooks (sequence-sql.ts: time-bounded and per-row frames) over the
// per-user sorted arrays of ClickHouse 18.16 (clickhouse-windows.ts records each call and asks
// frameElement for its value at one row). Rows are in the partition's stream order (t, q); the
// row is `i`, its partition's run starts at `lo`; t never decreases within a run.

import type { SqlDialect } from './dialect.ts';
import { sql, type Fragment, type Param } from './sql.ts';

export type FrameCall =
  /** max(value) over the run's rows before i whose t is at least t_i - micros (NULL: none). */
  | { kind: 'maxWithin'; value: Fragment; partition: Fragment; micros: Param }
  /** The number of the run's rows before i whose t is at least t_i - micros. */
  | { kind: 'countWithin'; partition: Fragment; micros: Param }
  /** i's 1-based number in its run. */
  | { kind: 'rowNumber'; partition: Fragment }
  /** max(value) over the rows fromBack..toBack before i, clipped to the run (NULL: none). */
  | { kind: 'maxRowsBack'; value: Fragment; partition: Fragment; fromBack: Fragment; toBack: Fragment };

const FRAME_KINDS = new Set(['maxWithin', 'countWithin', 'rowNumber', 'maxRowsBack']);

export function isFrameCall(call: { kind: string }): call is FrameCall {
  return FRAME_KINDS.has(call.kind);
}

/** A non-negative integer as twenty decimal digits: every UInt64 fits, and the texts order as the numbers. */
function padded(x: Fragment): Fragment {
  return sql`substring(concat('00000000000000000000', toString(${x})), length(toString(${x})) + 1, 20)`;
}

/**
 * The frame hooks of a dialect that records each call (`record` returns its marker column), and
 * the pair hooks those frames take. A pair (adjacency group g, chain start b) is a string of two
 * zero-padded decimals, which max() orders by g, then b (both non-negative: a count, and a µs
 * timestamp of the evaluation window): the compiler makes a pair NULL when b is, and 18.16 has no
 * NULL-able tuple. OrZero: 18.16 evaluates a function of a NULL-able value on the default ('')
 * under each NULL too, where toInt64 throws; those rows stay NULL.
 */
export function frameHooks(
  record: (call: FrameCall) => Fragment,
): Pick<
  SqlDialect,
  | 'maxBeforeWithinMicros'
  | 'countBeforeWithinMicros'
  | 'rowNumberInStream'
  | 'maxInRowsBack'
  | 'packPair'
  | 'pairHigh'
  | 'pairLow'
> {
  return {
    packPair: (hi: Fragment, lo: Fragment) => sql`concat(${padded(hi)}, ${padded(lo)})`,
    pairHigh: (pair: Fragment) => sql`toInt64OrZero(substring(${pair}, 1, 20))`,
    pairLow: (pair: Fragment) => sql`toInt64OrZero(substring(${pair}, 21, 20))`,
    maxBeforeWithinMicros: (value: Fragment, partition: Fragment, micros: Param) =>
      record({ kind: 'maxWithin', value, partition, micros }),
    countBeforeWithinMicros: (partition: Fragment, micros: Param) =>
      record({ kind: 'countWithin', partition, micros }),
    rowNumberInStream: (partition: Fragment) => record({ kind: 'rowNumber', partition }),
    maxInRowsBack: (value: Fragment, partition: Fragment, fromBack: Fragment, toBack: Fragment) =>
      record({ kind: 'maxRowsBack', value, partition, fromBack, toBack }),
  };
}

/**
 * The frame's value at row `__i` (the lambda parameter of the caller's arrayMap). `ordered` gives
 * the array of a per-row expression in the partition's order; `lo` is the row's run start (Int64).
 * Each is O(rows of the run before i) per row: 18.16 has no running or range frames.
 */
export function frameElement(
  call: FrameCall,
  ordered: (expr: Fragment, suffix: string) => Fragment,
  lo: Fragment,
): Fragment {
  const i = sql`toInt64(__i)`;
  /** 1-based index, within the run's rows before i, of the first at most `micros` earlier; 0: none. */
  const firstWithin = (micros: Param): Fragment => {
    const t = ordered(sql`t`, 't');
    return sql`toInt64(arrayFirstIndex(__x -> __x >= ${t}[__i] - ${micros}, arraySlice(${t}, ${lo}, ${i} - ${lo})))`;
  };
  switch (call.kind) {
    case 'rowNumber':
      return sql`(${i} - ${lo} + 1)`;
    case 'countWithin': {
      const k = firstWithin(call.micros);
      return sql`if(${k} = 0, toInt64(0), ${i} - (${lo} + ${k} - 1))`;
    }
    case 'maxWithin': {
      const v = ordered(call.value, 'v');
      const k = firstWithin(call.micros);
      const a = sql`(${lo} + ${k} - 1)`;
      return sql`if(${k} = 0, NULL, arrayReduce('max', arraySlice(${v}, ${a}, ${i} - ${a})))`;
    }
    case 'maxRowsBack': {
      const v = ordered(call.value, 'v');
      const from = sql`toInt64(ifNull(${ordered(call.fromBack, 'f')}[__i], -1))`;
      const to = sql`toInt64(ifNull(${ordered(call.toBack, 'b')}[__i], -1))`;
      // Rows max(i - from, lo) .. i - to; none when to > from, to < 0 (NULL bounds) or i - to < lo.
      const start = sql`if(${i} - ${from} < ${lo}, ${lo}, ${i} - ${from})`;
      return sql`if(${to} < 0 OR ${to} > ${from} OR ${i} - ${to} < ${lo}, NULL, arrayReduce('max', arraySlice(${v}, ${start}, ${i} - ${to} - ${start} + 1)))`;
    }
  }
}

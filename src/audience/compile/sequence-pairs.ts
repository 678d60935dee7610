// Sequence steps over a range whose leaves aggregate the range (docs/audiences.md §8.1, "A step
// over a range with metric leaves"): a metric or an eventCount over (a_(k-1), a_k], or over every
// event up to a_0 for step 0. Every other step bounds its predecessor anchor (before a group's
// latest match, within a time limit), so a running maximum over a frame of rows decides; a
// metric over the range does not (`eventCount > x` wants an early anchor, `< x` a late one, a
// revenue sum with refunds neither), so each candidate anchor is paired with the later events of
// its user and the range's aggregates are windows partitioned by the anchor:
//
// - pairs: each row p with b_(k-1) non-null, joined with the same user's later rows j while the
//   step allows them (within its time limit, within the maximum duration of p's start, and with
//   immediatelyFollows only while every event strictly between is ignored for adjacency). Those
//   conditions hold for a prefix of the later rows, so the pairs of one anchor are exactly the
//   rows of its ranges, and a window over them in stream order aggregates (p, j];
// - per leaf, over that window (and, for a session-scoped step, only the rows of j's session): a
//   latched match (`bool_or`), a count (`sum` of integers: exact), a sum of doubles (the values as
//   a list folded left to right from 0.0: the reference's order, bit-identical), distinct session
//   keys, and the engaged-session rule per session (the same list hooks as the N-day frames);
// - b_k(j) = the latest b_(k-1)(p) among the pairs where the step holds (and, in a session-scoped
//   sequence, p shares j's session), joined back to the rows.
// Step 0's range is every event up to a_0 (of a_0's session when session-scoped): the same
// aggregates over a running window of the user's (the session's) rows, no pairs.
//
// Cost: one row per (anchor, later row of its ranges), O(n²) per user in the worst case, as the
// reference fold's inner loop; sums of doubles and engaged sessions add O(range) per pair (the
// in-order fold). That is DuckDB's form (SqlDialect.pairedRangeSteps); a dialect over per-user
// arrays takes rangeBest as one column of the chain instead (ClickHouse: clickhouse-ranges.ts).

import type {
  DimensionOrMetricFilter,
  FilterExpression,
  FilterScope,
  SequenceFilter,
  SequenceStep,
} from '../../domain/audience.ts';
import { resolveField, type MetricName } from '../fields.ts';
import type { RangeAggregates, RangeBest, SqlDialect } from './dialect.ts';
import { eventCountLeaf, eventCountParts, type EventPredicateCompiler } from './leaves.ts';
import type { Flag } from './members-sql.ts';
import { and, ident, join, or, param, sql, type Fragment } from './sql.ts';
import { groupsOf } from './walk.ts';
import { EVENT_SESSION_KEY } from './window.ts';

const EVENT: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';

/** A leaf judged on one event (a latched match over a range): an event filter or a dimension. */
function isPerEventLeaf(e: FilterExpression): boolean {
  if (e.eventFilter) return eventCountLeaf(e.eventFilter) === undefined;
  const leaf = e.dimensionOrMetricFilter ?? e.notExpression?.dimensionOrMetricFilter;
  return leaf !== undefined && resolveField(leaf.fieldName, 'condition')?.kind === 'dimension';
}

/** A step over a range with a leaf that aggregates the range (a metric, an eventCount). */
export function isPairedRangeStep(st: SequenceStep): boolean {
  return st.scope !== EVENT && groupsOf(st.filterExpression).some((g) => g.some((e) => !isPerEventLeaf(e)));
}

/** One metric test of a range: the metric (with the event name an eventCount counts) and its filter. */
interface MetricTest {
  metric: MetricName;
  eventName: string | null;
  filter: DimensionOrMetricFilter;
  negated: boolean;
}

type RangeLeaf = { kind: 'latch'; flag: Fragment } | { kind: 'metrics'; tests: MetricTest[] };

export class PairedRangeStep {
  private readonly columns: Flag[] = [];
  private readonly inputs = new Map<string, Fragment>();
  private readonly groups: RangeLeaf[][];

  constructor(
    private readonly dialect: SqlDialect,
    private readonly leaf: EventPredicateCompiler,
    /** Names its columns and CTEs: c<clause>_p<step>_… */
    private readonly tag: string,
    private readonly seq: SequenceFilter,
    private readonly k: number,
    private readonly ignoreList: boolean,
  ) {
    const m = leaf.metricInputs();
    const flag = (x: Fragment): Fragment => sql`(CASE WHEN ${x} THEN 1 ELSE 0 END)`;
    const input = (key: string, expr: () => Fragment): Fragment => {
      let name = this.inputs.get(key);
      if (name === undefined) {
        name = ident(`${tag}_v${this.inputs.size}`);
        this.inputs.set(key, name);
        this.columns.push({ name, expr: expr(), names: null });
      }
      return name;
    };
    this.groups = groupsOf(this.step.filterExpression).map((g) =>
      g.map((e): RangeLeaf => {
        if (isPerEventLeaf(e)) {
          const name = ident(`${tag}_l${this.columns.length}`);
          this.columns.push({ name, expr: leaf.visitExpression(e), names: null });
          return { kind: 'latch', flag: name };
        }
        if (e.eventFilter) {
          // D9: only the eventCount leaves count (AND-ed), over events of the filter's name.
          const eventName = e.eventFilter.eventName;
          const tests = eventCountParts(e.eventFilter).map(({ filter, negated }) => ({
            metric: 'eventCount' as const,
            eventName,
            filter,
            negated,
          }));
          return { kind: 'metrics', tests };
        }
        const f = (e.dimensionOrMetricFilter ?? e.notExpression!.dimensionOrMetricFilter)!;
        const ref = resolveField(f.fieldName, 'condition');
        if (ref?.kind !== 'metric') throw new Error(`not a metric: ${f.fieldName}`);
        return {
          kind: 'metrics',
          tests: [{ metric: ref.metric, eventName: null, filter: f, negated: e.notExpression !== undefined }],
        };
      }),
    );
    // The per-event inputs of the metrics, deduplicated by what they read.
    for (const t of this.tests()) {
      switch (t.metric) {
        case 'eventCount':
          if (t.eventName !== null)
            input(`count|${t.eventName}`, () => flag(sql`event_name = ${param(t.eventName)}`));
          break;
        case 'transactions':
          input('transaction', () => flag(m.transaction));
          break;
        case 'ecommercePurchases':
          input('purchase', () => flag(m.purchase));
          break;
        case 'eventValue':
          input('value', () => m.value);
          break;
        case 'userEngagementDuration':
          input('msec', () => m.msec);
          break;
        case 'purchaseRevenue':
        case 'totalRevenue':
        case 'userLtvRevenue':
          input('revenue', () => m.revenue);
          input('refund', () => m.refund);
          break;
        case 'sessions':
          input('key', () => EVENT_SESSION_KEY);
          break;
        case 'engagedSessions':
          input('key', () => EVENT_SESSION_KEY);
          input('engaged', () => m.engagedFlag);
          input('msec', () => m.msec);
          input('view', () => m.view);
          break;
      }
    }
    if (this.step.scope === SESSION) input('key', () => EVENT_SESSION_KEY);
  }

  private get step(): SequenceStep {
    return this.seq.sequenceSteps[this.k]!;
  }

  /** The per-event columns the sequence's scan must carry. */
  scanColumns(): Flag[] {
    return this.columns;
  }

  private tests(): MetricTest[] {
    return this.groups.flatMap((g) => g.flatMap((l) => (l.kind === 'metrics' ? l.tests : [])));
  }

  private col(key: string): Fragment {
    const name = this.inputs.get(key);
    if (name === undefined) throw new Error(`no input column ${key}`);
    return name;
  }

  /** The step holds on a range whose aggregates `agg` gives (every OR-group has a true leaf). */
  private holds(agg: RangeAggregates): Fragment {
    const value = (t: MetricTest): Fragment => {
      switch (t.metric) {
        case 'eventCount':
          return agg.count(t.eventName === null ? null : this.col(`count|${t.eventName}`));
        case 'transactions':
          return agg.count(this.col('transaction'));
        case 'ecommercePurchases':
          return agg.count(this.col('purchase'));
        case 'eventValue':
          return agg.sumInOrder(this.col('value'));
        case 'userEngagementDuration':
          return sql`(${agg.sumInOrder(this.col('msec'))} / 1000)`;
        case 'purchaseRevenue':
        case 'totalRevenue':
        case 'userLtvRevenue':
          return sql`(${agg.sumInOrder(this.col('revenue'))} - ${agg.sumInOrder(this.col('refund'))})`;
        case 'sessions':
          return agg.sessions(this.col('key'));
        case 'engagedSessions':
          return agg.engagedSessions(
            this.col('key'),
            this.col('engaged'),
            this.col('msec'),
            this.col('view'),
          );
      }
    };
    const passes = (t: MetricTest): Fragment => {
      const test = sql`COALESCE(${this.leaf.visitMetricFilter(value(t), t.filter)}, FALSE)`;
      return t.negated ? sql`(NOT ${test})` : test;
    };
    const leaf = (l: RangeLeaf): Fragment =>
      l.kind === 'latch' ? agg.any(l.flag) : and(l.tests.map(passes));
    return and(this.groups.map((g) => or(g.map(leaf))));
  }

  /** DuckDB: the aggregates as windows over `over` (PARTITION BY … ORDER BY … up to this row). */
  private windowAggregates(over: Fragment): RangeAggregates {
    const d = this.dialect;
    const win = (agg: Fragment): Fragment => sql`${agg} OVER (${over})`;
    return {
      count: (col) => (col === null ? win(sql`count(*)`) : sql`COALESCE(${win(sql`sum(${col})`)}, 0)`),
      any: (flag) => sql`COALESCE(${win(sql`bool_or(${flag})`)}, FALSE)`,
      sumInOrder: (col) => d.listSumInOrder(win(sql`list(${col})`)),
      sessions: (key) => d.listDistinctCount(win(sql`list(${key})`)),
      engagedSessions: (key, engaged, msec, view) =>
        d.engagedSessionsInList(win(sql`list(${d.engagementItem(key, engaged, msec, view)})`)),
    };
  }

  /** The step as RangeBest, for a dialect that evaluates it over per-user arrays. */
  rangeBest(prev: Fragment | null): RangeBest {
    const st = this.step;
    return {
      prev,
      sessionKey: st.scope === SESSION ? this.col('key') : null,
      sameSession: prev !== null && this.seq.scope === SESSION,
      limit:
        prev === null || st.constraintDurationMicros === undefined
          ? null
          : param(st.constraintDurationMicros),
      maxDuration:
        prev === null || this.seq.sequenceMaximumDurationMicros === undefined
          ? null
          : param(this.seq.sequenceMaximumDurationMicros),
      adjacency: prev === null || !st.immediatelyFollows ? 'none' : this.ignoreList ? 'groups' : 'successor',
      holds: (agg) => this.holds(agg),
    };
  }

  /** Step 0: b0 = t where the step holds on every event up to this one (of its session). */
  firstStep(from: Fragment, rel: Fragment, b: Fragment): Fragment[] {
    const part = this.step.scope === SESSION ? sql`u, ${this.col('key')}` : sql`u`;
    const over = sql`PARTITION BY ${part} ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`;
    const holds = this.holds(this.windowAggregates(over));
    return [sql`${rel} AS (SELECT *, CASE WHEN ${holds} THEN t END AS ${b} FROM ${from})`];
  }

  /**
   * A later step: the CTEs from the rows `from` (with b_(k-1) as `prev`) to `rel`: the rows of the
   * users with some b_k, with b_k as `b` (a user without one can complete no later step, and every
   * reader of the chain keeps only rows with a non-null b). Rows are ordered by (t, q), ingest_seq
   * being unique, so no row number (a sort of every event of the window) is needed, except for
   * the direct successor of immediatelyFollows with an empty ignore list, over the anchors' users.
   */
  laterStep(from: Fragment, rel: Fragment, prev: Fragment, b: Fragment): Fragment[] {
    const n = (name: string): Fragment => ident(`${this.tag}_${name}`);
    const [users, rows, anchors, pairs, best] = [n('users'), n('rows'), n('anchors'), n('pairs'), n('best')];
    const [at, aq, as, ag, an, ab, next] = [n('at'), n('aq'), n('as'), n('ag'), n('an'), n('ab'), n('next')];
    const [bu, bq, bb] = [n('bu'), n('bq'), n('bb')];
    const st = this.step;
    const successor = st.immediatelyFollows === true && !this.ignoreList;
    const on: Fragment[] = [sql`r.u = a.u`, sql`(r.t > a.${at} OR (r.t = a.${at} AND r.q > a.${aq}))`];
    if (st.constraintDurationMicros !== undefined)
      on.push(sql`r.t - a.${at} <= ${param(st.constraintDurationMicros)}`);
    if (this.seq.sequenceMaximumDurationMicros !== undefined)
      on.push(sql`r.t - a.${ab} <= ${param(this.seq.sequenceMaximumDurationMicros)}`);
    if (st.immediatelyFollows)
      // Every event strictly between is ignored for adjacency: none breaks it (gp, the breaks
      // before j, equals p's g), or with an empty ignore list, j is p's direct successor.
      on.push(successor ? sql`r.q = a.${an}` : sql`r.gp = a.${ag}`);
    const sessionPart = st.scope === SESSION ? sql`, ${this.col('key')}` : sql``;
    const over = sql`PARTITION BY u, ${aq}${sessionPart} ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`;
    // A session-scoped sequence keeps j only in p's session (never a NULL one: its own).
    const sameSession = this.seq.scope === SESSION ? sql` AND s = ${as}` : sql``;
    const anchorCols = [
      sql`u, t AS ${at}, q AS ${aq}, s AS ${as}, ${prev} AS ${ab}`,
      ...(st.immediatelyFollows && this.ignoreList ? [sql`g AS ${ag}`] : []),
      ...(successor ? [sql`${next} AS ${an}`] : []),
    ];
    const nextCol = successor ? sql`, lead(q) OVER (PARTITION BY u ORDER BY t, q) AS ${next}` : sql``;
    return [
      sql`${users} AS (SELECT DISTINCT u AS ${n('uu')} FROM ${from} WHERE ${prev} IS NOT NULL)`,
      sql`${rows} AS (SELECT r.*${nextCol} FROM ${from} AS r JOIN ${users} AS w ON w.${n('uu')} = r.u)`,
      sql`${anchors} AS (SELECT ${join(anchorCols, ', ')} FROM ${rows} WHERE ${prev} IS NOT NULL)`,
      sql`${pairs} AS (SELECT r.*, a.${aq}, a.${as}, a.${ab} FROM ${anchors} AS a JOIN ${rows} AS r ON ${join(on, ' AND ')})`,
      sql`${best} AS (SELECT u AS ${bu}, q AS ${bq}, max(${ab}) AS ${bb} FROM (SELECT u, q, s, ${as}, ${ab}, ${this.holds(this.windowAggregates(over))} AS ${n('ok')} FROM ${pairs}) WHERE ${n('ok')}${sameSession} GROUP BY 1, 2)`,
      sql`${rel} AS (SELECT r.*, x.${bb} AS ${b} FROM ${rows} AS r JOIN (SELECT DISTINCT ${bu} AS ${n('ku')} FROM ${best}) AS k ON k.${n('ku')} = r.u LEFT JOIN ${best} AS x ON x.${bu} = r.u AND x.${bq} = r.q)`,
    ];
  }
}

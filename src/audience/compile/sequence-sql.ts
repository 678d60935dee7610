// Sequence clauses (docs/audiences.md §2.3; reference sequenceCompletions, D12) as set-based SQL:
// one pass of window functions per step over the user's events in stream order (t, q), no
// per-user fold. b_k is, on an event that can be the k-th anchor of a valid chain, the latest
// start t(a_0) of such a chain (NULL: none). Step k takes the best b_{k-1} among the earlier
// events its anchor may follow, then checks its own filter and sequenceMaximumDuration; keeping
// only the latest a_0 is exact because the other constraints do not depend on a_0.
//
// Which earlier events step k may follow:
// - any earlier one (in the same session when the sequence is WITHIN_SAME_SESSION);
// - with constraintDuration C: those at most C earlier;
// - with immediatelyFollows: those after the last event before this one whose name is not in
//   ignoreEventNamesForAdjacency (the direct predecessor among all evaluated events when that list
//   is empty, so the sequence then reads every event of the window, not only the steps' events).
//
// Engine-specific spellings (window frames, pair packing) go through SqlDialect's sequence hooks.

import type { FilterExpression, FilterScope, SequenceFilter, SequenceStep } from '../../domain/audience.ts';
import { DialectUnsupportedError, type SqlDialect } from './dialect.ts';
import { eventCountLeaf, type EventPredicateCompiler } from './leaves.ts';
import { PairedRangeStep, isPairedRangeStep } from './sequence-pairs.ts';
import { SESSION_KEY, nameFilter, namesOfFlags, namesOfGroups, type Flag } from './members-sql.ts';
import { and, ident, join, or, param, sql, type Fragment, type Param } from './sql.ts';
import { groupsOf } from './walk.ts';
import { eventWindow, type QueryContext } from './window.ts';

const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
/** 1 on an event that breaks adjacency (its name is not in ignoreEventNamesForAdjacency). */
const BREAKS = sql`CASE WHEN ig THEN 0 ELSE 1 END`;

/** The result of a sequence clause for the positions query (members-sql compileByPositions). */
export interface SequencePositions {
  /** Flags to add to the shared scan `ev` (empty when the sequence reads a scan of its own). */
  flags: Flag[];
  /** CTEs, the last named c<i> with columns (u, f, l). */
  ctes: Fragment[];
}

/** A named column of a chain layer: `expr AS name`. */
export interface ChainColumn {
  readonly name: Fragment;
  readonly expr: Fragment;
}

export class SequenceSqlCompiler {
  constructor(
    private readonly dialect: SqlDialect,
    private readonly ctx: QueryContext,
    private readonly leaf: EventPredicateCompiler,
  ) {}

  /**
   * Users with an event completing the sequence (later than `after` when given: then each user
   * once). With `after`, events that cannot belong to a chain ending after it are left out of the
   * scan when the chain's span is bounded (see spanBound).
   */
  visitSequenceUsers(seq: SequenceFilter, i: number, after: Param | null, ctes: Fragment[]): Fragment {
    if (after !== null && this.dialect.boundedPredecessorJoin && this.isDirectPair(seq))
      return this.visitDirectPair(seq, i, after, ctes);
    const flags = this.sequenceFlags(seq, i);
    const bound = after === null ? null : spanBound(seq);
    const since = bound === null ? null : param(BigInt(after!.value as bigint) - bound);
    const source = ident(`c${i}_ev`);
    ctes.push(sql`${source} AS (${this.sequenceScan(seq, flags, null, since)})`);
    const chain = this.visitSequenceChain(seq, i, flags, source, false);
    ctes.push(...chain.ctes);
    const done = sql`${chain.b} IS NOT NULL`;
    return after === null
      ? sql`SELECT u FROM ${chain.rel} WHERE ${done}`
      : sql`SELECT DISTINCT u FROM ${chain.rel} WHERE ${done} AND t > ${after}`;
  }

  /**
   * "A, directly followed by B within C": two single-event steps, the second with
   * immediatelyFollows and a time limit, and no event ignored for adjacency. The direct
   * predecessor of a B lies at most C before it, so it is found by joining each B after `after`
   * with the user's events of the C before it and taking the last of them in stream order (no
   * window over the user's whole stream: that sort of every event of the window was 2-3x the
   * join's cost at 10M events, BENCHMARKS.md). The predecessor must hold step 0, share B's
   * session when the sequence is session-scoped (never a NULL one), and start a chain no longer
   * than sequenceMaximumDuration. Only where the dialect says such a join is cheap.
   */
  private visitDirectPair(seq: SequenceFilter, i: number, after: Param, ctes: Fragment[]): Fragment {
    const d = this.dialect;
    const [first, second] = this.stepFlags(seq, i).map((f) => f[0]!.name) as [Fragment, Fragment];
    const limit = seq.sequenceSteps[1]!.constraintDurationMicros!;
    const source = ident(`c${i}_ev`);
    const cand = ident(`c${i}_cand`);
    const pred = ident(`c${i}_pred`);
    const since = param(BigInt(after.value as bigint) - limit);
    ctes.push(sql`${source} AS (${this.sequenceScan(seq, this.sequenceFlags(seq, i), null, since)})`);
    ctes.push(sql`${cand} AS (SELECT u, s, t, q FROM ${source} WHERE ${second} AND t > ${after})`);
    const at = d.streamPosition(sql`e.t`, sql`e.q`);
    const earlier = sql`e.t >= c.t - ${param(limit)} AND (e.t < c.t OR (e.t = c.t AND e.q < c.q))`;
    ctes.push(
      sql`${pred} AS (SELECT c.u AS u, c.s AS s, c.t AS t, ${d.argMaxKeepNull(sql`e.${first}`, at)} AS ph, ${d.argMaxKeepNull(sql`e.s`, at)} AS ps, ${d.argMaxKeepNull(sql`e.t`, at)} AS pt FROM ${cand} AS c JOIN ${source} AS e ON e.u = c.u AND ${earlier} GROUP BY c.u, c.s, c.t, c.q)`,
    );
    const checks: Fragment[] = [sql`COALESCE(ph, FALSE)`];
    if (seq.scope === SESSION) checks.push(sql`s = ps`);
    if (seq.sequenceMaximumDurationMicros !== undefined)
      checks.push(sql`t - pt <= ${param(seq.sequenceMaximumDurationMicros)}`);
    return sql`SELECT DISTINCT u FROM ${pred} WHERE ${and(checks)}`;
  }

  private isDirectPair(seq: SequenceFilter): boolean {
    const steps = seq.sequenceSteps;
    return (
      steps.length === 2 &&
      steps.every((st) => st.scope === EVENT) &&
      steps[1]!.immediatelyFollows === true &&
      steps[1]!.constraintDurationMicros !== undefined &&
      this.ctx.config.ignoreEventNamesForAdjacency.length === 0
    );
  }

  /**
   * The clause's first completion (f) and last completion (l) per user, as positions `pos`. A
   * sequence without immediatelyFollows reads the shared scan `ev` (which has the column pos and
   * keeps only rows matching some flag); one with it needs every event, so it reads its own scan.
   */
  visitSequence(
    seq: SequenceFilter,
    i: number,
    pos: Fragment,
    perSession = false,
    completions = false,
  ): SequencePositions {
    const flags = this.sequenceFlags(seq, i);
    const ownScan = needsAllEvents(seq);
    const ctes: Fragment[] = [];
    let source = sql`ev`;
    if (ownScan) {
      source = ident(`c${i}_ev`);
      ctes.push(sql`${source} AS (${this.sequenceScan(seq, flags, pos, null)})`);
    }
    const chain = this.visitSequenceChain(seq, i, flags, source, !ownScan);
    ctes.push(
      ...chain.ctes,
      sql`${ident(`c${i}`)} AS (SELECT u, min(pos) AS f, max(pos) AS l FROM ${chain.rel} WHERE ${chain.b} IS NOT NULL GROUP BY u)`,
    );
    if (perSession) {
      // The first completion per session (a temporary exclusion by a session-scoped sequence is
      // active from it on within that session). A NULL session is a session of its own (D3):
      // keyed (0, q), which no real session (ks, 0) shares since q >= 1. Columns are prefixed,
      // so that joining them leaves `u` unambiguous.
      const c = (name: string): Fragment => ident(`c${i}_${name}`);
      ctes.push(
        sql`${c('sess')} AS (SELECT u AS ${c('su')}, COALESCE(s, 0) AS ${c('ks')}, CASE WHEN s IS NULL THEN q ELSE 0 END AS ${c('kq')}, min(pos) AS ${c('fs')} FROM ${chain.rel} WHERE ${chain.b} IS NOT NULL GROUP BY 1, 2, 3)`,
      );
    }
    if (completions) {
      // Every completion, one row per event (positions are unique per user): the qualifying
      // events of the clause (reference `completes`), for trigger passes.
      const c = (name: string): Fragment => ident(`c${i}_${name}`);
      ctes.push(
        sql`${c('done')} AS (SELECT u AS ${c('du')}, pos AS ${c('dpos')} FROM ${chain.rel} WHERE ${chain.b} IS NOT NULL)`,
      );
    }
    return { flags: ownScan ? [] : flags, ctes };
  }

  sequenceFlags(seq: SequenceFilter, i: number): Flag[] {
    return this.stepFlags(seq, i).flat();
  }

  /**
   * Per step: a single-event step has one flag (its filter holds on the event); a step over a
   * range has one flag per OR-group, since it holds on a range when each group holds on some event
   * of it (D10: a NOT leaf holds when some event does not match, which is the same per event).
   */
  stepFlags(seq: SequenceFilter, i: number): Flag[][] {
    return seq.sequenceSteps.map((st, k) => {
      if (isPairedRangeStep(st)) return this.pairedStep(seq, i, k).scanColumns();
      const groups = groupsOf(st.filterExpression);
      // A step over one event judges a metric as the metric of {e} and an eventCount on {e}
      // (plan.ts lets metric and eventCount leaves only into such steps).
      const leaf = (e: FilterExpression): Fragment =>
        e.eventFilter && eventCountLeaf(e.eventFilter)
          ? this.leaf.visitEventCountOnEvent(e.eventFilter)
          : this.leaf.visitExpression(e);
      const group = (g: (typeof groups)[number]): Fragment => or(g.map(leaf));
      if (st.scope === EVENT)
        return [{ name: ident(`c${i}_h${k}`), expr: and(groups.map(group)), names: stepNames(groups) }];
      return groups.map((g, j) => ({
        name: ident(`c${i}_h${k}_${j}`),
        expr: group(g),
        names: namesOfGroups([g]),
      }));
    });
  }

  /**
   * The sequence's events: columns u, s, t, q (and pos), the step flags, and with
   * immediatelyFollows and a non-empty ignore list `g`, the number of events up to this one that
   * break adjacency (its adjacency group), and `gp`, the same for its predecessor. Without immediatelyFollows only rows matching
   * a step; with it also every event that breaks adjacency. `since`: only events later than it.
   */
  sequenceScan(seq: SequenceFilter, flags: Flag[], pos: Fragment | null, since: Param | null): Fragment {
    const columns = [
      sql`user_pseudo_id AS u`,
      sql`ga_session_id AS s`,
      sql`event_timestamp AS t`,
      sql`ingest_seq AS q`,
      ...(pos === null ? [] : [sql`${pos} AS pos`]),
      ...flags.map((f) => sql`${f.expr} AS ${f.name}`),
    ];
    const filters: Fragment[] = since === null ? [] : [sql`event_timestamp > ${since}`];
    const ignored = this.ctx.config.ignoreEventNamesForAdjacency;
    const anchorsAnywhere = seq.sequenceSteps.some((st) => st.scope !== EVENT);
    if (anchorsAnywhere) {
      // A step over a range can have its anchor on any event: keep them all.
      if (needsAdjacency(seq) && ignored.length > 0) columns.push(sql`${nameFilter(ignored)} AS ig`);
    } else if (!needsAllEvents(seq)) {
      const names = namesOfFlags(flags);
      filters.push(names === null ? or(flags.map((f) => f.expr)) : nameFilter(names));
    } else if (ignored.length > 0) {
      // An ignorable event that matches no step neither anchors nor breaks adjacency.
      const breaks = sql`NOT ${nameFilter(ignored)}`;
      const names = namesOfFlags(flags);
      filters.push(or([breaks, names === null ? or(flags.map((f) => f.expr)) : nameFilter(names)]));
      columns.push(sql`${nameFilter(ignored)} AS ig`);
    }
    const scan = eventWindow(this.ctx, join(columns, ', '), filters.length === 0 ? undefined : and(filters));
    if (!needsAdjacency(seq) || ignored.length === 0) return scan;
    const g = this.dialect.runningSumInStream(BREAKS, sql`u`);
    return sql`SELECT *, g - ${BREAKS} AS gp FROM (SELECT *, ${g} AS g FROM (${scan}))`;
  }

  /**
   * The chain of step CTEs over `source` (columns u, s, t, q and the step flags; `filter` keeps
   * only rows matching a step, which change no b_k otherwise). The last CTE, `rel`, has `b`
   * non-null on the events that complete the sequence.
   */
  visitSequenceChain(
    seq: SequenceFilter,
    i: number,
    flags: Flag[],
    source: Fragment,
    filter: boolean,
  ): { ctes: Fragment[]; rel: Fragment; b: Fragment } {
    const rel = (k: number): Fragment => ident(`c${i}_s${k}`);
    const where = filter ? sql` WHERE ${or(flags.map((f) => f.name))}` : sql``;
    const { steps, b } = this.layersOf(seq, i, true);
    const ctes = steps.flatMap((layers, k) => {
      const from = k === 0 ? sql`${source}${where}` : rel(k - 1);
      if (layers === null) {
        // A step over a range with metric leaves: pairs of anchors and later rows (sequence-pairs.ts).
        if (!this.dialect.pairedRangeSteps)
          throw new DialectUnsupportedError(`${this.dialect.name} dialect: joins of anchor pairs`);
        const pairs = this.pairedStep(seq, i, k);
        const bk = this.chainName(`b${k}`);
        return k === 0
          ? pairs.firstStep(from, rel(k), bk)
          : pairs.laterStep(from, rel(k), this.chainName(`b${k - 1}`), bk);
      }
      // Each layer adds its columns to the rows of the one before it.
      const body = layers.reduce<Fragment | null>((inner, cols) => {
        const named = join(
          cols.map((c) => sql`${c.expr} AS ${c.name}`),
          ', ',
        );
        return inner === null
          ? sql`SELECT *, ${named} FROM ${from}`
          : sql`SELECT *, ${named} FROM (${inner})`;
      }, null)!;
      return [sql`${rel(k)} AS (${body})`];
    });
    const last = seq.sequenceSteps.length - 1;
    return { ctes, rel: rel(last), b };
  }

  /**
   * The chain as layers of named columns, per step (step k's last layer holds b<k>): each layer's
   * columns read the rows with every earlier layer's columns (u, s, t, q, the step flags and, with
   * an ignore list, ig, g and gp). visitSequenceChain writes them as nested SELECTs; an engine
   * without window functions can evaluate them over per-user arrays (clickhouse-sequences.ts).
   */
  chainLayers(seq: SequenceFilter, i: number, prefix = ''): { steps: ChainColumn[][][]; b: Fragment } {
    this.prefix = prefix;
    try {
      const { steps, b } = this.layersOf(seq, i, false);
      return { steps: steps.map((layers) => layers!), b };
    } finally {
      this.prefix = '';
    }
  }

  /** The step over a range with metric leaves at `k` of clause `i` (isPairedRangeStep). */
  private pairedStep(seq: SequenceFilter, i: number, k: number): PairedRangeStep {
    const ignoreList = this.ctx.config.ignoreEventNamesForAdjacency.length > 0;
    return new PairedRangeStep(this.dialect, this.leaf, `c${i}_p${k}`, seq, k, ignoreList);
  }

  /** The chain's column names (b, m, x, y, lo, gm) start with it: '' in a CTE of the chain's own. */
  private prefix = '';

  private chainName(name: string): Fragment {
    return ident(`${this.prefix}${name}`);
  }

  /**
   * `deferPairs`: a step over a range with metric leaves is a null entry (visitSequenceChain writes
   * its pairs as joins); otherwise it is one layer, the dialect's bestOverRanges.
   */
  private layersOf(
    seq: SequenceFilter,
    i: number,
    deferPairs: boolean,
  ): { steps: (ChainColumn[][] | null)[]; b: Fragment } {
    const d = this.dialect;
    const paired = seq.sequenceSteps.map((st) => isPairedRangeStep(st));
    // Without deferPairs such a step is one column, the dialect's bestOverRanges.
    const best = (k: number): ChainColumn[][] | null =>
      deferPairs
        ? null
        : [
            [
              {
                name: b(k),
                expr: d.bestOverRanges(this.pairedStep(seq, i, k).rangeBest(k === 0 ? null : b(k - 1))),
              },
            ],
          ];
    const steps = this.stepFlags(seq, i);
    const b = (k: number): Fragment => this.chainName(`b${k}`);
    const first = seq.sequenceSteps[0]!;
    // Step 0 holds on its range (every event up to a_0, of a_0's session when session-scoped)
    // from the event at which each group has had a match.
    const holds0 = (): Fragment =>
      first.scope === EVENT
        ? steps[0]![0]!.name
        : and(
            steps[0]!.map(
              (f) =>
                sql`${d.runningSumInStream(sql`CASE WHEN ${f.name} THEN 1 ELSE 0 END`, partitionOf(first.scope))} > 0`,
            ),
          );
    const out: (ChainColumn[][] | null)[] = [
      paired[0] ? best(0) : [[{ name: b(0), expr: sql`CASE WHEN ${holds0()} THEN t END` }]],
    ];
    seq.sequenceSteps.forEach((st, k) => {
      if (k === 0) return;
      if (paired[k]) {
        out.push(best(k));
        return;
      }
      const m = this.chainName(`m${k}`);
      const x = this.chainName(`x${k}`);
      const follow =
        st.scope === EVENT
          ? {
              ...this.visitFollow(seq, st, k, b(k - 1), x),
              holds: [steps[k]![0]!.name],
              ys: [] as ChainColumn[],
            }
          : this.visitRangeFollow(seq, st, k, b(k - 1), x, steps[k]!);
      const checks: Fragment[] = [sql`${m} IS NOT NULL`, ...follow.checks(m)];
      if (seq.sequenceMaximumDurationMicros !== undefined)
        checks.push(sql`t - ${m} <= ${param(seq.sequenceMaximumDurationMicros)}`);
      const when =
        follow.holds.length === 0 ? and(checks) : sql`${join(follow.holds, ' AND ')} AND ${and(checks)}`;
      const layers: ChainColumn[][] = [];
      if (follow.x) layers.push([{ name: x, expr: follow.x }, ...(follow.pre ?? [])]);
      if (follow.ys.length > 0) layers.push(follow.ys);
      layers.push(
        [{ name: m, expr: follow.m }],
        [{ name: b(k), expr: sql`CASE WHEN ${when} THEN ${m} END` }],
      );
      out.push(layers);
    });
    return { steps: out, b: b(seq.sequenceSteps.length - 1) };
  }

  /**
   * A later step over the range (a_(k-1), a_k] (scope ACROSS_ALL_SESSIONS; WITHIN_SAME_SESSION: the
   * range's events in a_k's session), without immediatelyFollows. It holds at event j for an
   * earlier anchor p iff p is before the latest match of each group up to j (in j's session for a
   * session-scoped step). x = the best b_(k-1) strictly before each event, which never decreases
   * along the stream, so the best anchor for j is x at the earliest of those latest matches: per
   * group, the running maximum of x over its matches; then the least over groups.
   * With a time limit (planned only without sequenceMaximumDuration, where only the existence of a
   * chain matters, not its start): x = the time of the latest earlier event with a chain, and
   * that must be within the limit.
   */
  visitRangeFollow(
    seq: SequenceFilter,
    st: SequenceStep,
    k: number,
    prev: Fragment,
    xName: Fragment,
    groups: Flag[],
  ): {
    x?: Fragment;
    pre?: ChainColumn[];
    ys: ChainColumn[];
    m: Fragment;
    holds: Fragment[];
    checks: (m: Fragment) => Fragment[];
  } {
    const d = this.dialect;
    if (st.immediatelyFollows) return this.visitImmediateRangeFollow(seq, st, k, prev, xName, groups);
    const limit = st.constraintDurationMicros === undefined ? null : param(st.constraintDurationMicros);
    if (limit !== null && seq.sequenceMaximumDurationMicros !== undefined)
      return this.visitBoundedRangeFollow(seq, st, k, prev, xName, groups, limit);
    const value = limit === null ? prev : sql`CASE WHEN ${prev} IS NOT NULL THEN t END`;
    const x = d.maxBeforeInStream(value, partitionOf(seq.scope));
    const y = (j: number): Fragment => this.chainName(`y${k}_${j}`);
    const ys = groups.map((f, j) => ({
      name: y(j),
      expr: d.runningMaxInStream(sql`CASE WHEN ${f.name} THEN ${xName} END`, partitionOf(st.scope)),
    }));
    const names = groups.map((_, j) => y(j));
    const m =
      names.length === 1
        ? names[0]!
        : sql`CASE WHEN ${and(names.map((n) => sql`${n} IS NOT NULL`))} THEN least(${join(names, ', ')}) END`;
    return { x, ys, m, holds: [], checks: (mm) => (limit === null ? [] : [sql`t - ${mm} <= ${limit}`]) };
  }

  /**
   * A later step over a range with a time limit C in a sequence with a maximum duration: the start
   * matters, so the best b_(k-1) is taken over the anchors allowed on both sides: at or after
   * t - C (a lower bound in time) and before each group's latest match up to this event (an upper
   * bound in position). With x = the row number in the sequence's partition, `lo` = how many earlier
   * rows are within C, and y_g = the running max of x over group g's matches (in the step's
   * partition), the anchors are the rows from `lo` back to `x - least(y) + 1` back: one frame of
   * per-row bounds (O(rows in it) per event).
   */
  visitBoundedRangeFollow(
    seq: SequenceFilter,
    st: SequenceStep,
    k: number,
    prev: Fragment,
    xName: Fragment,
    groups: Flag[],
    limit: Param,
  ): {
    x: Fragment;
    pre: ChainColumn[];
    ys: ChainColumn[];
    m: Fragment;
    holds: Fragment[];
    checks: () => Fragment[];
  } {
    const d = this.dialect;
    const { part, lo, ys, toBack, inFrame } = this.anchorFrame(seq, st, k, xName, groups);
    const m = sql`CASE WHEN ${inFrame} THEN ${d.maxInRowsBack(prev, part, lo, toBack)} END`;
    return {
      x: d.rowNumberInStream(part),
      pre: [{ name: lo, expr: d.countBeforeWithinMicros(part, limit) }],
      ys,
      m,
      holds: [],
      checks: () => [],
    };
  }

  /**
   * A later step over a range that follows immediately (with a time limit and an ignore list:
   * visitBoundedImmediateRangeFollow). With
   * an empty ignore list its range is its own event: the single-event rule on the group flags.
   * Otherwise the anchor p lies in the predecessor's adjacency group gp, and before each group's
   * latest match (up to this event). When that match is this event, every candidate counts (the
   * single-event rule's best); else the match must lie in group gp, and the best start before it
   * within its adjacency group (gm, never decreasing along the group) is carried from it as the
   * pair (g, gm), whose running maximum is the latest match's.
   */
  visitImmediateRangeFollow(
    seq: SequenceFilter,
    st: SequenceStep,
    k: number,
    prev: Fragment,
    xName: Fragment,
    groups: Flag[],
  ): {
    x?: Fragment;
    pre?: ChainColumn[];
    ys: ChainColumn[];
    m: Fragment;
    holds: Fragment[];
    checks: (m: Fragment) => Fragment[];
  } {
    const d = this.dialect;
    const single = this.visitFollow(seq, st, k, prev, xName);
    if (this.ctx.config.ignoreEventNamesForAdjacency.length === 0)
      return { ...single, ys: [], holds: groups.map((f) => f.name) };
    if (st.constraintDurationMicros !== undefined)
      return this.visitBoundedImmediateRangeFollow(seq, st, k, prev, xName, groups);
    // gm: the best (g, b) pair over the earlier rows of the sequence's partition. The rows of one
    // adjacency group are consecutive there (g never decreases), so it is in this row's group g
    // exactly when one of them has a chain, and then it is (g, the best start among them): a
    // window partitioned by g, without one (whose key an engine without window functions could
    // not build from a chain column).
    const gm = this.chainName(`gm${k}`);
    const pair = sql`CASE WHEN ${prev} IS NOT NULL THEN ${d.packPair(sql`g`, prev)} END`;
    const pre = [{ name: gm, expr: d.maxBeforeInStream(pair, partitionOf(seq.scope)) }];
    const y = (j: number): Fragment => this.chainName(`y${k}_${j}`);
    const carry = (f: Flag): Fragment =>
      d.runningMaxInStream(
        sql`CASE WHEN ${f.name} AND ${d.pairHigh(gm)} = g THEN ${gm} END`,
        partitionOf(st.scope),
      );
    const ys = groups.map((f, j) => ({
      name: y(j),
      expr: sql`CASE WHEN ${f.name} THEN ${single.m} WHEN ${d.pairHigh(carry(f))} = gp THEN ${d.pairLow(carry(f))} END`,
    }));
    const names = groups.map((_, j) => y(j));
    const m =
      names.length === 1
        ? names[0]!
        : sql`CASE WHEN ${and(names.map((n) => sql`${n} IS NOT NULL`))} THEN least(${join(names, ', ')}) END`;
    return { x: single.x!, pre, ys, m, holds: [], checks: () => [] };
  }

  /**
   * A later step over a range that follows immediately with a time limit C, when some event name is
   * ignored for adjacency. Its anchor p is one of the earlier events of the predecessor's adjacency
   * group gp (in the sequence's partition), at most C earlier, and before each OR-group's latest
   * match up to this event (so that the range (p, j] holds the step). The last two bound p to a
   * frame of rows, as in visitBoundedRangeFollow: from `lo` rows back (the earlier rows within C)
   * to `x - least(y) + 1` rows back. Over that frame the best (g, b) pair is in group gp exactly
   * when some candidate of the group has a chain (earlier rows have g <= gp), and its b is then
   * the latest start: right with or without a maximum duration.
   */
  visitBoundedImmediateRangeFollow(
    seq: SequenceFilter,
    st: SequenceStep,
    k: number,
    prev: Fragment,
    xName: Fragment,
    groups: Flag[],
  ): {
    x: Fragment;
    pre: ChainColumn[];
    ys: ChainColumn[];
    m: Fragment;
    holds: Fragment[];
    checks: () => Fragment[];
  } {
    const d = this.dialect;
    const { part, lo, ys, toBack, inFrame } = this.anchorFrame(seq, st, k, xName, groups);
    const pair = sql`CASE WHEN ${prev} IS NOT NULL THEN ${d.packPair(sql`g`, prev)} END`;
    const best = d.maxInRowsBack(pair, part, lo, toBack);
    const m = sql`CASE WHEN ${inFrame} AND ${d.pairHigh(best)} = gp THEN ${d.pairLow(best)} END`;
    return {
      x: d.rowNumberInStream(part),
      pre: [{ name: lo, expr: d.countBeforeWithinMicros(part, param(st.constraintDurationMicros!)) }],
      ys,
      m,
      holds: [],
      checks: () => [],
    };
  }

  /**
   * The frame of anchors of a bounded range step (visitBoundedRangeFollow): the rows from `lo`
   * back (the earlier rows within the time limit, column lo<k>) to `toBack` rows back (before each
   * group's latest match, the running maxima y<k>_<j> of x); `inFrame` says the frame exists.
   */
  private anchorFrame(
    seq: SequenceFilter,
    st: SequenceStep,
    k: number,
    xName: Fragment,
    groups: Flag[],
  ): { part: Fragment; lo: Fragment; ys: ChainColumn[]; toBack: Fragment; inFrame: Fragment } {
    const lo = this.chainName(`lo${k}`);
    const y = (j: number): Fragment => this.chainName(`y${k}_${j}`);
    const ys = groups.map((f, j) => ({
      name: y(j),
      expr: this.dialect.runningMaxInStream(
        sql`CASE WHEN ${f.name} THEN ${xName} END`,
        partitionOf(st.scope),
      ),
    }));
    const names = groups.map((_, j) => y(j));
    const upper = names.length === 1 ? names[0]! : sql`least(${join(names, ', ')})`;
    const toBack = sql`(${xName} - ${upper} + 1)`;
    const inFrame = sql`${and(names.map((n) => sql`${n} IS NOT NULL`))} AND ${toBack} <= ${lo}`;
    return { part: partitionOf(seq.scope), lo, ys, toBack, inFrame };
  }

  /**
   * Step k's candidate b_{k-1} (`m`, the best over the earlier events it may follow) and the
   * checks on it beyond non-nullness; `x`, when given, is computed first as the column `xName`.
   */
  visitFollow(
    seq: SequenceFilter,
    st: SequenceStep,
    k: number,
    prev: Fragment,
    xName: Fragment,
  ): { x?: Fragment; m: Fragment; checks: (m: Fragment) => Fragment[] } {
    const d = this.dialect;
    const sameSession = seq.scope === SESSION;
    const part = sameSession ? sql`u, ${SESSION_KEY}` : sql`u`;
    const limit = st.constraintDurationMicros === undefined ? null : param(st.constraintDurationMicros);
    if (st.immediatelyFollows && this.ctx.config.ignoreEventNamesForAdjacency.length === 0) {
      // The direct predecessor among all the user's events: in the same session when required
      // (a NULL session is never shared), and at most C earlier.
      const pre = (x: Fragment): Fragment => d.previousInStream(x, sql`u`);
      const ok: Fragment[] = [];
      if (sameSession) ok.push(sql`s = ${pre(sql`s`)}`);
      if (limit !== null) ok.push(sql`t - ${pre(sql`t`)} <= ${limit}`);
      const m = ok.length === 0 ? pre(prev) : sql`CASE WHEN ${and(ok)} THEN ${pre(prev)} END`;
      return { m, checks: () => [] };
    }
    if (st.immediatelyFollows) {
      // Candidates: the earlier events (same session, within C) of the predecessor's adjacency
      // group gp. Earlier events have a group <= gp, so the best (group, b) pair over them is in
      // group gp exactly when some candidate has a chain; its b is then the best one.
      const pair = sql`CASE WHEN ${prev} IS NOT NULL THEN ${d.packPair(sql`g`, prev)} END`;
      const best =
        limit === null ? d.maxBeforeInStream(pair, part) : d.maxBeforeWithinMicros(pair, part, limit);
      return {
        x: best,
        m: sql`CASE WHEN ${d.pairHigh(xName)} = gp THEN ${d.pairLow(xName)} END`,
        checks: () => [],
      };
    }
    if (limit !== null && k === 1) {
      // b0 is the event's own time, so the best earlier anchor is simply the latest one.
      return { m: d.maxBeforeInStream(prev, part), checks: (m) => [sql`t - ${m} <= ${limit}`] };
    }
    if (limit !== null) return { m: d.maxBeforeWithinMicros(prev, part, limit), checks: () => [] };
    return { m: d.maxBeforeInStream(prev, part), checks: () => [] };
  }
}

/**
 * The adjacency columns of a scan with immediatelyFollows and a non-empty ignore list (as
 * sequenceScan writes them): `ig` over the event, then the layers of `g` (the events up to this one
 * that break adjacency) and `gp` (the same before it).
 */
export function adjacencyColumns(
  dialect: SqlDialect,
  ignored: string[],
): { ig: ChainColumn; layers: ChainColumn[][] } {
  return {
    ig: { name: sql`ig`, expr: nameFilter(ignored) },
    layers: [
      [{ name: sql`g`, expr: dialect.runningSumInStream(BREAKS, sql`u`) }],
      [{ name: sql`gp`, expr: sql`g - ${BREAKS}` }],
    ],
  };
}

/** Some step after the first must follow its predecessor immediately. */
export function needsAdjacency(seq: SequenceFilter): boolean {
  return seq.sequenceSteps.some((st, k) => k > 0 && st.immediatelyFollows);
}

/**
 * The scan must hold more than the steps' events: every event that breaks adjacency, or every
 * event at all when a step is over a range (its anchor can be any event).
 */
export function needsAllEvents(seq: SequenceFilter): boolean {
  return needsAdjacency(seq) || seq.sequenceSteps.some((st) => st.scope !== EVENT);
}

/** The rows a scope's windows range over: the user's events, or those of the event's session. */
function partitionOf(scope: FilterScope): Fragment {
  return scope === SESSION ? sql`u, ${SESSION_KEY}` : sql`u`;
}

/**
 * An upper bound on t(a_k) - t(a_0) for every valid chain, or null: sequenceMaximumDuration, or
 * else the sum of the step time limits when every later step has one. A chain ending after `after`
 * then starts after `after - bound`, and events before that cannot change whether it exists (the
 * anchors and every event between them are later), so the scan leaves them out. Only when step 0
 * is a single event (its range would otherwise reach back to the start of the window).
 */
export function spanBound(seq: SequenceFilter): bigint | null {
  const [first, ...rest] = seq.sequenceSteps;
  if (first === undefined || first.scope !== EVENT) return null;
  if (seq.sequenceMaximumDurationMicros !== undefined) return seq.sequenceMaximumDurationMicros;
  let sum = 0n;
  for (const st of rest) {
    if (st.constraintDurationMicros === undefined) return null;
    sum += st.constraintDurationMicros;
  }
  return sum;
}

/**
 * The event names one of which a single-event step's event must have (null: any): a group of
 * plain event filters. An eventCount leaf can hold on an event of another name (`eventCount < 1`),
 * so a group holding one names nothing.
 */
function stepNames(groups: FilterExpression[][]): string[] | null {
  return namesOfGroups(
    groups.filter((g) => g.every((e) => !e.eventFilter || !eventCountLeaf(e.eventFilter))),
  );
}

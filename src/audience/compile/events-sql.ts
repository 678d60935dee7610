// The general 'sql' path: the reference evaluator's per-user fold (evaluate.ts, D14) as one
// set-based statement. Each event row gets, through running window aggregates over the user's
// (or the session's) stream order (event_timestamp, ingest_seq), the truth values that the fold
// computes after that event: every leaf, every clause's holds / qualifies / active-unit value,
// A (every INCLUDE clause holds), Q (the event qualifies the audience) and X (excluded). Then,
// per user:
//
//   member at asOf  <=>  lastQ exists, t(lastQ) > asOf - duration,
//                        A held at every instant after lastQ, and not excluded at asOf
//                        (temporary: X at the last instant; permanent: X at some event).
//
// Instants are the events and the local midnights at which a dynamic N-day leaf can lapse (D4).
// Between two events only those leaves change, at the midnights where a day leaves their window.
// A dynamic N-day dimension only goes from true to false there, so when it is the only kind, A and
// X are monotone over the gap: each row also gets A and X at the *end* of its gap (the next event's
// day, or asOf's day for the last row), which is false exactly when some midnight of the gap makes
// them false. A dynamic N-day metric can go either way (a count below x starts to hold, a NOT of
// `= 3` fails between 5 and 1), so with one, A (and a permanent X) are judged at every midnight of
// the gap: the days after the event's, up to the gap's end or N days on (after N days the event's
// window is empty and nothing changes any more), each leaf's value there from the frame of the
// window's rows tagged with their days (someDay, valuesFromDay). The value at the gap's end of row
// k-1 is also the clause's value just before event k (the reference's holds(k-1, t_k)).
//
// Window functions cannot nest, so values carry a level: a value of level L is available in
// every stage after stage L; a running aggregate over a value of level L is a named column of
// stage L + 1. Stage 0 (`ev`) reads the event window once and materialises the per-event inputs;
// sequence clauses keep their own CTEs over `ev` (columns u, f, l) and are joined in stage 1.

import type {
  AudienceDefinition,
  DimensionOrMetricFilter,
  FilterClause,
  FilterExpression,
  FilterScope,
} from '../../domain/audience.ts';
import { resolveField, type MetricName } from '../fields.ts';
import type { SqlDialect } from './dialect.ts';
import { EventPredicateCompiler, eventCountLeaf, eventCountParts, type MetricInputs } from './leaves.ts';
import { MembersSqlCompiler } from './members-sql.ts';
import { and, ident, join, or, param, sql, type Fragment } from './sql.ts';
import { groupsOf } from './walk.ts';
import { EVENT_SESSION_KEY, MICROS_PER_DAY, eventWindow, type QueryContext } from './window.ts';

const EVENT: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS: FilterScope = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

/** A SQL value over the stage rows; available in every stage after `level`. */
interface Value {
  expr: Fragment;
  level: number;
}

/** A named column of a stage: `expr AS name`. */
export interface StageColumn {
  readonly name: Fragment;
  readonly expr: Fragment;
}

/** The set a running aggregate covers: the user's events so far, or the session's. */
type Unit = 'user' | 'session';

interface MetricPart {
  metric: MetricName;
  /** eventCount inside an eventFilter counts only events with this name. */
  eventName: string | null;
  negated: boolean;
  filter: DimensionOrMetricFilter;
  isStatic: boolean;
  /** inAnyNDayPeriod (across all sessions only, D11). */
  nDays: number | null;
}

/** The reference's leaf kinds (reference leaves.ts), with their SQL per-event predicates. */
type Leaf =
  | { kind: 'event'; match: Value }
  | { kind: 'dim'; match: Value; negated: boolean; isStatic: boolean; nDays: number | null }
  | { kind: 'metric'; part: MetricPart }
  | { kind: 'count'; eventName: string; parts: MetricPart[] };

/** A clause's per-event values. `active`: the temporary-exclusion unit is met at this event. */
interface ClauseValues {
  holds: Value;
  qualifies: Value;
  active: Value | null;
  /** `holds` / `active` at the end of this event's gap (the same unless a dynamic N-day leaf is in the clause). */
  holdsEnd?: Value;
  activeEnd?: Value | null;
  /**
   * A clause with a dynamic N-day metric leaf: `holds` (= `active`) at the midnight starting a
   * later local day of the event's gap, and the largest N of its dynamic N-day leaves.
   */
  holdsAt?: (day: Value) => Value;
  lapseDays?: number;
}

/** The audience's per-event values (EventStateCompiler.state). */
interface AudienceValues {
  /** A fails at this event or at a midnight of its gap. */
  bad: Value;
  /** The event qualifies the audience. */
  Q: Value;
  /** Excluded at this event (temporary: the unit is met; permanent: some EXCLUDE clause holds). */
  X: Value;
  /** Temporary: excluded at the end of the event's gap. */
  Xend: Value;
  /** Permanent, with a dynamic N-day metric in an EXCLUDE clause: some EXCLUDE clause holds at a midnight of the gap. */
  Xgap: Value | null;
  temporary: boolean;
  excludes: number;
}

/** When an across-sessions leaf is judged: at its event, or at the start of a later local day of its gap. */
type Judged = 'event' | Value;

/** Why an audience is not (yet) compiled by this path; null when it is. */
export function eventStateUnsupported(def: AudienceDefinition): string | null {
  for (const c of def.filterClauses) {
    if (c.sequenceFilter) {
      continue; // the sequence compiler decides (plan.ts)
    }
    const f = c.simpleFilter!;
    for (const e of leavesOf(f.filterExpression)) {
      const why = leafUnsupported(e, f.scope);
      if (why) return why;
    }
  }
  return null;
}

function leavesOf(e: FilterExpression): FilterExpression[] {
  return groupsOf(e).flat();
}

/**
 * Every metric has an N-day form (N_DAY_METRICS); a metric added to the grammar without one
 * would take the fold until it gets one. Static N-day leaves need no instants but events; dynamic
 * ones are judged at the midnights of each gap as well (see the header).
 */
function nDayUnsupported(f: DimensionOrMetricFilter, metric: MetricName | null): string | null {
  if (f.inAnyNDayPeriod === undefined) return null;
  if (metric !== null && !N_DAY_METRICS.has(metric)) return `inAnyNDayPeriod of ${metric}`;
  return null;
}

/**
 * Static N-day metrics: counts (window-subtractable in integers), sums of doubles (folded in
 * stream order over the window's rows, bit-identical to the reference), sessions (distinct
 * session keys over those rows) and engaged sessions (the engaged-session rule applied per session
 * to its events among those rows, which is what the window keeps of it).
 */
const N_DAY_METRICS: ReadonlySet<MetricName> = new Set([
  'eventCount',
  'transactions',
  'ecommercePurchases',
  'eventValue',
  'userEngagementDuration',
  'purchaseRevenue',
  'totalRevenue',
  'userLtvRevenue',
  'sessions',
  'engagedSessions',
]);
const N_DAY_COUNTS: ReadonlySet<MetricName> = new Set(['eventCount', 'transactions', 'ecommercePurchases']);

function leafUnsupported(e: FilterExpression, scope: FilterScope): string | null {
  const leaf = e.dimensionOrMetricFilter ?? e.notExpression?.dimensionOrMetricFilter;
  if (leaf) {
    const ref = resolveField(leaf.fieldName, 'condition');
    if (scope === ACROSS) return nDayUnsupported(leaf, ref?.kind === 'metric' ? ref.metric : null);
    return null;
  }
  const f = e.eventFilter;
  if (!f) return 'empty leaf';
  for (const p of f.eventParameterFilterExpression?.andGroup?.filterExpressions ?? []) {
    const x = p.dimensionOrMetricFilter ?? p.notExpression?.dimensionOrMetricFilter;
    if (!x) continue;
    if (x.fieldName === 'eventCount' && scope === ACROSS) {
      const why = nDayUnsupported(x, 'eventCount');
      if (why) return why;
    }
  }
  return null;
}

export class EventStateCompiler {
  private readonly leaf: EventPredicateCompiler;
  private readonly m: MetricInputs;
  /** Stage-0 columns (named, over the raw event columns). */
  private readonly base: StageColumn[] = [];
  /** Named window columns of stages 1, 2, … (index = stage - 1). */
  private readonly stages: StageColumn[][] = [];
  private readonly joins: Fragment[] = [];
  private readonly ctes: Fragment[] = [];
  private readonly memo = new Map<string, Value>();
  private n = 0;

  /** `users`: a subquery of user_pseudo_ids; only their events are read (the others are not members). */
  constructor(
    protected readonly dialect: SqlDialect,
    private readonly def: AudienceDefinition,
    private readonly ctx: QueryContext,
    private readonly users: Fragment | null = null,
  ) {
    this.leaf = new EventPredicateCompiler(dialect);
    this.m = this.leaf.metricInputs();
  }

  /**
   * A condition on the events of the window beyond the users (null: every event): for a subclass
   * that knows the other events change no member. Read after the clauses are visited.
   */
  protected scanFilter(): Fragment | null {
    return null;
  }

  /** The members as of ctx.asOfMicros (see the header). */
  compile(): Fragment {
    const st = this.state();
    const cutoff = this.ctx.asOfMicros - BigInt(this.def.membershipDurationDays) * MICROS_PER_DAY;
    const { Q, X, Xend, Xgap } = st;
    const excluded =
      st.excludes === 0
        ? sql`FALSE`
        : st.temporary
          ? this.dialect.argMax(Xend.expr, sql`pos`)
          : this.dialect.boolOr(Xgap ? sql`(${X.expr} OR ${Xgap.expr})` : X.expr);
    return sql`WITH ${join(st.ctes, ',\n')}
${this.membersSelect(st.rel, Q.expr, st.bad.expr, excluded, cutoff)}`;
  }

  /** Stage k (>= 1): the rows of `prev` with the stage's columns added (`joins`: stage 1's). */
  protected stageSelect(
    k: number,
    prev: Fragment,
    cols: readonly StageColumn[],
    joins: Fragment[],
  ): Fragment {
    const joined = joins.length > 0 ? sql`\n${join(joins, '\n')}` : sql``;
    const star = k === 1 ? sql`ev.*` : sql`*`;
    const named = cols.map((c) => sql`${c.expr} AS ${c.name}`);
    const select = cols.length === 0 ? star : sql`${star}, ${join(named, ', ')}`;
    return sql`SELECT ${select} FROM ${prev}${joined}`;
  }

  /**
   * The members from the last stage's rows: the last qualifying event (`qualifies`), the last
   * where A failed (`bad`), the exclusion (`excluded`, an aggregate) per user.
   */
  protected membersSelect(
    prev: Fragment,
    qualifies: Fragment,
    bad: Fragment,
    excluded: Fragment,
    cutoff: bigint,
  ): Fragment {
    const perUser = sql`SELECT u, max(pos) FILTER (WHERE ${qualifies}) AS lq, max(pos) FILTER (WHERE ${bad}) AS lbad, ${excluded} AS x FROM ${prev} GROUP BY u`;
    return sql`SELECT u FROM (${perUser})
WHERE lq IS NOT NULL AND (lbad IS NULL OR lbad < lq) AND ${this.dialect.positionMicros(sql`lq`)} > ${param(cutoff)} AND NOT x
ORDER BY u`;
  }

  /** The stage-0 columns, in order (stage 0 also has u, s, t, q, pos and sequence flags). */
  protected baseColumns(): readonly StageColumn[] {
    return this.base;
  }

  /**
   * The trigger events (docs/audiences.md §2.7; reference evaluateUser, D17) as rows (u, q): the
   * qualifying events at or after createTime after which the user is a member (not excluded), and
   * for AUDIENCE_JOINED only those where the user was not a member just before. "Member just
   * before event e" is the fold's state at the previous instant: a qualifying event before e (the
   * latest, lqb) less than the duration before e, no failure of A after it (at an event or a gap's
   * end: lbadb < lqb) and not excluded then (temporary: X at the previous row's gap end; permanent:
   * X at some earlier event). Sequence clauses qualify at each completion (c<i>_done).
   * `since`: a relation (nu, npos); only events at or after npos of their user are returned.
   * `fromSeq`: only qualifying events ingested after it.
   */
  compileTriggers(opts: { since: Fragment | null; fromSeq: bigint | null }): Fragment {
    this.completions = true;
    const trigger = this.def.eventTrigger;
    if (!trigger) throw new Error('compileTriggers: the audience has no eventTrigger');
    const d = this.dialect;
    const extra: Value[] = [];
    const st = this.state((s) => {
      const { bad, Q, X, Xend, Xgap } = s;
      // Stream positions as the row number (a running count) and the time: ClickHouse's position
      // is a tuple, which cannot be NULL there. The latest qualifying row before this one has
      // the largest row number and, times never decreasing in stream order, the largest time.
      const rn = this.running('count', this.constant(1), 'user');
      const lvl = Math.max(bad.level, Q.level, X.level, Xend.level, Xgap?.level ?? 0, rn.level) + 1;
      const lqb = this.named(lvl, d.maxBeforeInStream(sql`CASE WHEN ${Q.expr} THEN ${rn.expr} END`, sql`u`));
      const lqbTime = this.named(lvl, d.maxBeforeInStream(sql`CASE WHEN ${Q.expr} THEN t END`, sql`u`));
      const lbadb = this.named(
        lvl,
        d.maxBeforeInStream(sql`CASE WHEN ${bad.expr} THEN ${rn.expr} END`, sql`u`),
      );
      const none = s.excludes === 0;
      // Permanent: excluded before this event at an earlier event or a midnight of an earlier
      // gap; after it, also at this event (the midnights of its own gap come later). (Each window
      // is a column of its own: the ClickHouse form takes no window inside an expression.)
      const everBefore = Xgap ? sql`(${X.expr} OR ${Xgap.expr})` : X.expr;
      const earlier = (): Value => {
        const w = this.named(lvl, d.running('bool_or', everBefore, sql`u`, true));
        return { expr: sql`COALESCE(${w.expr}, FALSE)`, level: lvl };
      };
      const xBefore = none
        ? this.constant(false)
        : s.temporary
          ? this.named(lvl, d.previous(Xend.expr, sql`u`, sql`FALSE`))
          : earlier();
      const xAfter = none ? this.constant(false) : s.temporary ? X : this.any([X, xBefore]);
      extra.push(lqb, lqbTime, lbadb, xBefore, xAfter);
    });
    const [lqb, lqbTime, lbadb, xBefore, xAfter] = extra as [Value, Value, Value, Value, Value];
    const duration = BigInt(this.def.membershipDurationDays) * MICROS_PER_DAY;
    const fires: Fragment[] = [
      st.Q.expr,
      sql`t >= ${param(this.ctx.config.createTimeMicros)}`,
      sql`NOT ${xAfter.expr}`,
    ];
    if (opts.fromSeq !== null) fires.push(sql`q > ${param(opts.fromSeq)}`);
    if (trigger.logCondition === 'AUDIENCE_JOINED') {
      // Never NULL (ClickHouse 18.16's AND / OR / NOT give NULL when an argument is NULL).
      const memberBefore = and([
        sql`${lqb.expr} IS NOT NULL`,
        sql`(${lbadb.expr} IS NULL OR COALESCE(${lbadb.expr} < ${lqb.expr}, FALSE))`,
        sql`NOT ${xBefore.expr}`,
        sql`COALESCE(t - ${lqbTime.expr} < ${param(duration)}, FALSE)`,
      ]);
      fires.push(sql`NOT (${memberBefore})`);
    }
    return this.triggersSelect(st.ctes, st.rel, and(fires), opts.since);
  }

  /**
   * The trigger rows (u, q) of compileTriggers: the events of `rel` where `fires` holds, from the
   * user's first new position on (`since`: a relation (nu, npos)).
   */
  protected triggersSelect(
    ctes: Fragment[],
    rel: Fragment,
    fires: Fragment,
    since: Fragment | null,
  ): Fragment {
    const from = since === null ? rel : sql`${rel} JOIN (${since}) AS nf ON nf.nu = u AND pos >= nf.npos`;
    return sql`WITH ${join(ctes, ',\n')}
SELECT u, q FROM ${from} WHERE ${fires}`;
  }

  /** Whether sequence clauses also give every completion (trigger passes). */
  private completions = false;

  /**
   * The per-event state: the CTEs (the last one, `rel`, has every value as a column) and the
   * audience's values. `more` may add named columns from the values (they get a stage of their own).
   */
  private state(more?: (s: AudienceValues) => void): AudienceValues & { ctes: Fragment[]; rel: Fragment } {
    const seqCompiler = new MembersSqlCompiler(this.dialect, this.def, this.ctx, true);
    const seqFlags: Fragment[] = [];
    const clauses = this.def.filterClauses.map((c, i) => this.visitClause(c, i, seqCompiler, seqFlags));
    const includes = clauses.filter((_, i) => this.def.filterClauses[i]!.clauseType === 'INCLUDE');
    const excludes = clauses.filter((_, i) => this.def.filterClauses[i]!.clauseType === 'EXCLUDE');
    const temporary = this.def.exclusionDurationMode !== 'EXCLUDE_PERMANENTLY';
    const A = this.all(includes.map((c) => c.holds));
    const Q = this.all([A, this.any(includes.map((c) => c.qualifies))]);
    const X = this.any(excludes.map((c) => (temporary ? c.active! : c.holds)));
    // At the end of the event's gap (header): A must still hold there, and a temporary exclusion
    // is judged at asOf by the last row's gap end. Where only dynamic N-day dimensions lapse, a
    // permanent X at a midnight implies X at the event before it (monotone), so the events
    // suffice; a dynamic N-day metric needs every midnight of the gap (someMidnight).
    const Aend = includes.some((c) => c.holdsEnd) ? this.all(includes.map((c) => c.holdsEnd ?? c.holds)) : A;
    const Xend =
      temporary && excludes.some((c) => c.activeEnd)
        ? this.any(excludes.map((c) => c.activeEnd ?? c.active!))
        : X;
    // A row whose gap fails counts as failing at its own position: at lastQ itself A holds, so
    // lbad = lastQ then means a midnight after it.
    const bad = includes.some((c) => c.holdsAt)
      ? this.any([this.not(A), this.someMidnight(includes, (a) => this.not(this.all(a)))])
      : Aend === A
        ? this.not(A)
        : this.not(this.all([A, Aend]));
    const Xgap =
      !temporary && excludes.some((c) => c.holdsAt) ? this.someMidnight(excludes, (x) => this.any(x)) : null;
    const values: AudienceValues = { bad, Q, X, Xend, Xgap, temporary, excludes: excludes.length };
    more?.(values);
    const top = Math.max(bad.level, Q.level, X.level, Xend.level, Xgap?.level ?? 0, 0, this.stages.length);

    const pos = this.dialect.streamPosition(sql`event_timestamp`, sql`ingest_seq`);
    const filters = [
      this.users === null ? null : sql`user_pseudo_id IN (${this.users})`,
      this.scanFilter(),
    ].filter((f): f is Fragment => f !== null);
    const ev = eventWindow(
      this.ctx,
      join(
        [
          sql`user_pseudo_id AS u`,
          sql`ga_session_id AS s`,
          sql`event_timestamp AS t`,
          sql`ingest_seq AS q`,
          sql`${pos} AS pos`,
          ...seqFlags,
          ...this.base.map((c) => sql`${c.expr} AS ${c.name}`),
        ],
        ', ',
      ),
      filters.length === 0 ? undefined : and(filters),
    );
    const ctes: Fragment[] = [sql`ev AS (${ev})`, ...this.ctes];
    let prev = sql`ev`;
    for (let k = 1; k <= top; k++) {
      const name = ident(`e${k}`);
      const joins = k === 1 ? this.joins : [];
      ctes.push(sql`${name} AS (${this.stageSelect(k, prev, this.stages[k - 1] ?? [], joins)})`);
      prev = name;
    }
    return { ctes, rel: prev, ...values };
  }

  /**
   * Some midnight of the event's gap at which `test` holds over the clauses' values there: the
   * days after the event's, up to the gap's end and at most the largest lapse N on (after that
   * every window is empty, as at the gap's end). Clauses without a dynamic N-day metric keep their
   * value at the gap's end there: only dynamic N-day dimensions change, and only from true to
   * false, so a failure at some midnight is a failure at the end too.
   */
  private someMidnight(clauses: readonly ClauseValues[], test: (values: Value[]) => Value): Value {
    const day = this.day();
    const end = this.gapEndDay();
    const n = Math.max(...clauses.map((c) => c.lapseDays ?? 0));
    // (No least(): the ClickHouse plan refuses it, for the stream positions it would compare.)
    const last = sql`${day.expr} + ${param(n)}`;
    const to = sql`(CASE WHEN ${end.expr} < ${last} THEN ${end.expr} ELSE ${last} END)`;
    let level = Math.max(day.level, end.level);
    const some = this.dialect.someDay(sql`${day.expr} + 1`, to, (d) => {
      const at: Value = { expr: d, level: 0 };
      const v = test(clauses.map((c) => (c.holdsAt ? c.holdsAt(at) : (c.holdsEnd ?? c.holds))));
      level = Math.max(level, v.level);
      return v.expr;
    });
    // Most gaps hold no midnight (the next event is on the same day): no list to build there.
    return { expr: sql`(CASE WHEN ${end.expr} > ${day.expr} THEN ${some} ELSE FALSE END)`, level };
  }

  // --- clauses ------------------------------------------------------------------------------

  visitClause(c: FilterClause, i: number, seq: MembersSqlCompiler, seqFlags: Fragment[]): ClauseValues {
    if (c.sequenceFilter) {
      // The sequence compiler's contract: a CTE c<i> (u, f, l) over `ev`; a sequence holds from
      // its first completion (static), and its last completion stands for its qualifying events
      // (an earlier one can only be the audience's last qualifying event if A held at every event
      // after it, and then the last completion qualifies too).
      const sessionExclusion =
        c.clauseType === 'EXCLUDE' &&
        this.def.exclusionDurationMode !== 'EXCLUDE_PERMANENTLY' &&
        c.sequenceFilter.scope === SESSION;
      const out = seq.visitSequence(c.sequenceFilter, i, sessionExclusion, this.completions);
      for (const f of out.flags) seqFlags.push(sql`${f.expr} AS ${f.name}`);
      if (out.kind === 'cte') this.ctes.push(...out.ctes);
      const rel = ident(`c${i}`);
      this.joins.push(sql`LEFT JOIN ${rel} USING (u)`);
      const f: Value = { expr: sql`${rel}.f`, level: 0 };
      const l: Value = { expr: sql`${rel}.l`, level: 0 };
      // Joined columns exist from stage 1 on: name them there.
      const first = this.named(1, sql`${f.expr}`);
      const last = this.named(1, sql`${l.expr}`);
      const holds = { expr: sql`COALESCE(pos >= ${first.expr}, FALSE)`, level: 1 };
      let qualifies: Value = { expr: sql`COALESCE(pos = ${last.expr}, FALSE)`, level: 1 };
      if (this.completions) {
        // Trigger passes need every qualifying event: every completion (reference `completes`).
        const cd = (name: string): Fragment => ident(`c${i}_${name}`);
        this.joins.push(sql`LEFT JOIN ${cd('done')} ON ${cd('du')} = u AND ${cd('dpos')} = pos`);
        qualifies = this.named(1, sql`(${cd('dpos')} IS NOT NULL)`);
      }
      if (sessionExclusion) {
        // Active at an event once a chain has completed in its session (the current unit), at or
        // before it.
        const cs = (name: string): Fragment => ident(`c${i}_${name}`);
        this.joins.push(
          sql`LEFT JOIN ${cs('sess')} ON ${cs('su')} = u AND ${cs('ks')} = COALESCE(s, 0) AND ${cs('kq')} = (CASE WHEN s IS NULL THEN q ELSE 0 END)`,
        );
        const fs = this.named(1, sql`${cs('fs')}`);
        return { holds, qualifies, active: { expr: sql`COALESCE(pos >= ${fs.expr}, FALSE)`, level: 1 } };
      }
      const active =
        c.sequenceFilter.scope === EVENT ? qualifies : c.sequenceFilter.scope === ACROSS ? holds : null;
      return { holds, qualifies, active };
    }
    const f = c.simpleFilter!;
    const groups = groupsOf(f.filterExpression).map((g) => g.map((e) => this.compileLeaf(e, f.scope)));
    switch (f.scope) {
      case EVENT: {
        const sat = this.all(groups.map((g) => this.any(g.map((l) => this.eventUnitHolds(l)))));
        return { holds: this.running('bool_or', sat, 'user'), qualifies: sat, active: sat };
      }
      case SESSION: {
        const unitSat = this.all(groups.map((g) => this.any(g.map((l) => this.unitHolds(l, 'session')))));
        const sessionSat = this.running('bool_or', unitSat, 'session');
        const before = this.previous(sessionSat, 'session', false);
        const positive = this.any(groups.flat().map((l) => this.positive(l, 'session')));
        const qualifies = this.all([sessionSat, this.any([this.not(before), positive])]);
        return { holds: this.running('bool_or', sessionSat, 'user'), qualifies, active: sessionSat };
      }
      case ACROSS: {
        const holdsAt = (at: Judged): Value =>
          this.all(groups.map((g) => this.any(g.map((l) => this.acrossHolds(l, at)))));
        const H = holdsAt('event');
        const lapse = Math.max(0, ...groups.flat().map(dynamicNDays));
        const swings = groups.flat().some(isDynamicNDayMetric);
        const lapses = lapse > 0;
        const Hend = lapses ? holdsAt(this.gapEndDay()) : H;
        // Before the first event: the value of H with no events (only dynamic metric leaves can hold).
        // Before a later event: the previous row's value at its gap end (this event's day).
        const empty = groups.every((g) => g.some((l) => this.holdsOnNoEvents(l)));
        const before = this.previous(Hend, 'user', empty);
        const positive = this.any(groups.flat().map((l) => this.positive(l, 'user')));
        const qualifies = this.all([H, this.any([this.not(before), positive])]);
        if (!lapses) return { holds: H, qualifies, active: H };
        const values = { holds: H, qualifies, active: H, holdsEnd: Hend, activeEnd: Hend };
        return swings ? { ...values, holdsAt, lapseDays: lapse } : values;
      }
    }
    throw new Error(`unsupported scope: ${String(f.scope)}`);
  }

  // --- leaves -------------------------------------------------------------------------------

  compileLeaf(e: FilterExpression, scope: FilterScope): Leaf {
    if (e.eventFilter) {
      const ef = e.eventFilter;
      if (eventCountLeaf(ef)) {
        const parts = eventCountParts(ef).map(({ filter, negated }) =>
          this.metricPart(filter, negated, 'eventCount', ef.eventName, scope),
        );
        return { kind: 'count', eventName: ef.eventName, parts };
      }
      return { kind: 'event', match: this.baseValue(this.leaf.visitEventFilter(ef)) };
    }
    const negated = e.notExpression !== undefined;
    const f = (e.dimensionOrMetricFilter ?? e.notExpression?.dimensionOrMetricFilter)!;
    const ref = resolveField(f.fieldName, 'condition');
    if (ref?.kind === 'metric')
      return { kind: 'metric', part: this.metricPart(f, negated, ref.metric, null, scope) };
    const match = this.baseValue(this.leaf.visitExpression({ dimensionOrMetricFilter: f }));
    // D11: atAnyPointInTime only matters across all sessions.
    const isStatic = scope !== ACROSS || f.atAnyPointInTime;
    return { kind: 'dim', match, negated, isStatic, nDays: isStatic ? null : (f.inAnyNDayPeriod ?? null) };
  }

  metricPart(
    filter: DimensionOrMetricFilter,
    negated: boolean,
    metric: MetricName,
    eventName: string | null,
    scope: FilterScope,
  ): MetricPart {
    const across = scope === ACROSS;
    return {
      metric,
      eventName,
      negated,
      filter,
      isStatic: !across || filter.atAnyPointInTime,
      nDays: across ? (filter.inAnyNDayPeriod ?? null) : null,
    };
  }

  /** The leaf on a one-event unit (WITHIN_SAME_EVENT, D10). */
  eventUnitHolds(l: Leaf): Value {
    switch (l.kind) {
      case 'event':
        return l.match;
      case 'dim':
        return l.negated ? this.not(l.match) : l.match;
      case 'metric':
        return this.passes(l.part, this.baseValue(this.leaf.metricOfEvent(l.part.metric)));
      case 'count':
        return this.all(
          l.parts.map((p) =>
            this.passes(
              p,
              this.baseValue(sql`(CASE WHEN event_name = ${param(l.eventName)} THEN 1 ELSE 0 END)`),
            ),
          ),
        );
    }
  }

  /** The leaf on the unit's events so far (D10: latched matches, metrics of the whole prefix). */
  unitHolds(l: Leaf, unit: Unit): Value {
    switch (l.kind) {
      case 'event':
        return this.running('bool_or', l.match, unit);
      case 'dim':
        return this.running('bool_or', l.negated ? this.not(l.match) : l.match, unit);
      case 'metric':
        return this.passes(l.part, this.metricValue(l.part, unit));
      case 'count':
        return this.all(l.parts.map((p) => this.passes(p, this.metricValue(p, unit))));
    }
  }

  /**
   * ACROSS_ALL_SESSIONS (D10 table): static leaves latch, dynamic ones take the latest value, dynamic
   * N-day dimensions the latest matching day within the window, dynamic N-day metrics the window's
   * aggregate. `at`: at the event, or at the midnight starting a later day of its gap (only
   * dynamic N-day leaves differ there).
   */
  acrossHolds(l: Leaf, at: Judged): Value {
    const part = (p: MetricPart): Value => {
      if (p.nDays !== null && !p.isStatic && at !== 'event') {
        // At the event's own day the value is the event's (no list to filter).
        const day = this.day();
        const point = this.metricValue(p, 'user');
        const later = this.nDayValueAt(p, p.nDays, at);
        return this.passes(p, {
          expr: sql`(CASE WHEN ${at.expr} = ${day.expr} THEN ${point.expr} ELSE ${later.expr} END)`,
          level: Math.max(point.level, later.level, day.level),
        });
      }
      const point = this.passes(p, this.metricValue(p, 'user'));
      return p.isStatic ? this.running('bool_or', point, 'user') : point;
    };
    switch (l.kind) {
      case 'event':
        return this.running('bool_or', l.match, 'user');
      case 'dim': {
        const point = l.negated ? this.not(l.match) : l.match;
        if (l.nDays !== null) return this.nDayDimension(point, l.nDays, at);
        return l.isStatic ? this.running('bool_or', point, 'user') : point;
      }
      case 'metric':
        return part(l.part);
      case 'count':
        return this.all(l.parts.map(part));
    }
  }

  /** The leaf's value with no events yet (k = -1): only a dynamic metric over the empty set (0). */
  holdsOnNoEvents(l: Leaf): boolean {
    const part = (p: MetricPart): boolean => !p.isStatic && passesZero(p);
    if (l.kind === 'metric') return part(l.part);
    if (l.kind === 'count') return l.parts.every(part);
    return false;
  }

  /** D13: the event matches a positive leaf (metrics: it contributes and the metric passes). */
  positive(l: Leaf, unit: Unit): Value {
    switch (l.kind) {
      case 'event':
        return l.match;
      case 'dim':
        return l.negated ? this.constant(false) : l.match;
      case 'metric':
        if (l.part.negated) return this.constant(false);
        return this.all([
          this.contributes(l.part.metric),
          this.passes(l.part, this.metricValue(l.part, unit)),
        ]);
      case 'count':
        return this.all([
          this.baseValue(sql`(event_name = ${param(l.eventName)})`),
          ...l.parts.map((p) => this.passes(p, this.metricValue(p, unit))),
        ]);
    }
  }

  passes(p: MetricPart, value: Value): Value {
    const test = sql`COALESCE(${this.leaf.visitMetricFilter(value.expr, p.filter)}, FALSE)`;
    return { expr: p.negated ? sql`(NOT ${test})` : test, level: value.level };
  }

  // --- metrics (reference MetricAcc, D6/D18/D19) -----------------------------------------------

  /** The metric over the unit's events so far (0 over none). */
  metricValue(p: MetricPart, unit: Unit): Value {
    if (p.nDays !== null && unit === 'user') {
      const n = p.nDays;
      return this.memoised(`nday|${p.metric}|${p.eventName}|${n}`, () =>
        N_DAY_COUNTS.has(p.metric) ? this.nDayCount(p, n) : this.nDayFrame(p, n),
      );
    }
    const m = this.m;
    const sum = (x: Fragment): Value => this.running('sum', this.baseValue(x), unit);
    const flag = (x: Fragment): Fragment => sql`(CASE WHEN ${x} THEN 1 ELSE 0 END)`;
    const zero = (v: Value): Value => ({ expr: sql`COALESCE(${v.expr}, 0)`, level: v.level });
    switch (p.metric) {
      case 'eventCount':
        return zero(sum(p.eventName === null ? sql`1` : flag(sql`event_name = ${param(p.eventName)}`)));
      case 'eventValue':
        return zero(sum(m.value));
      case 'sessions':
        return unit === 'session' ? this.constant(1) : zero(this.running('sum', this.firstOfSession(), unit));
      case 'engagedSessions': {
        if (unit === 'session') {
          const e = this.engaged(false);
          return { expr: flag(e.expr), level: e.level };
        }
        return zero(this.running('sum', this.becomesEngaged(), unit));
      }
      case 'userEngagementDuration': {
        const v = zero(sum(m.msec));
        return { expr: sql`(${v.expr} / 1000)`, level: v.level };
      }
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue': {
        const a = zero(sum(m.revenue));
        const b = zero(sum(m.refund));
        return { expr: sql`(${a.expr} - ${b.expr})`, level: Math.max(a.level, b.level) };
      }
      case 'transactions':
        return zero(sum(flag(m.transaction)));
      case 'ecommercePurchases':
        return zero(sum(flag(m.purchase)));
    }
  }

  /**
   * A count-like metric over the N-day window ending at this event (D4: the events so far whose
   * local day is at least this event's day - (N - 1)): the count over those days, less the events
   * of this day that come after this one.
   */
  nDayCount(p: MetricPart, n: number): Value {
    const v = this.baseValue(this.countedFlag(p));
    const day = this.day();
    const inDays = this.named(1, this.dialect.dayRangeSum(v.expr, sql`u`, day.expr, param(n - 1)));
    const later = this.named(1, this.dialect.sumAfter(v.expr, sql`u, ${day.expr}`));
    return { expr: sql`(${inDays.expr} - COALESCE(${later.expr}, 0))`, level: 1 };
  }

  /** 1 when the event counts for a count-like metric (eventCount, transactions, purchases), else 0. */
  countedFlag(p: MetricPart): Fragment {
    const m = this.m;
    const flag = (x: Fragment): Fragment => sql`(CASE WHEN ${x} THEN 1 ELSE 0 END)`;
    if (p.metric === 'eventCount')
      return p.eventName === null ? sql`1` : flag(sql`event_name = ${param(p.eventName)}`);
    return flag(p.metric === 'transactions' ? m.transaction : m.purchase);
  }

  /**
   * A dynamic N-day metric at the midnight starting `day`, a later day of the event's gap (D4):
   * the reference's aggregate over the events so far whose local day is at least day - (N - 1),
   * i.e. the rows of this event's N-day window (nDayFrame's) from that day on; over none, 0, as
   * the reference's empty window. Sums of doubles add in stream order from 0.0, as nDayFrame's.
   */
  nDayValueAt(p: MetricPart, n: number, day: Value): Value {
    const from = sql`${day.expr} - ${param(n - 1)}`;
    const values = (x: Fragment): Value => {
      const list = this.dayFrame(n, x);
      return { expr: this.dialect.valuesFromDay(list.expr, from), level: Math.max(list.level, day.level) };
    };
    const m = this.m;
    const d = this.dialect;
    const over = (x: Fragment, total: (list: Fragment) => Fragment): Value => {
      const v = values(x);
      return { expr: total(v.expr), level: v.level };
    };
    switch (p.metric) {
      case 'eventCount':
      case 'transactions':
      case 'ecommercePurchases':
        return over(this.countedFlag(p), (l) => d.listSum(l));
      case 'eventValue':
        return over(m.value, (l) => d.listSumInOrder(l));
      case 'userEngagementDuration':
        return over(m.msec, (l) => sql`(${d.listSumInOrder(l)} / 1000)`);
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue': {
        const a = over(m.revenue, (l) => d.listSumInOrder(l));
        const b = over(m.refund, (l) => d.listSumInOrder(l));
        return { expr: sql`(${a.expr} - ${b.expr})`, level: Math.max(a.level, b.level) };
      }
      case 'sessions':
        return over(this.sessionKey().expr, (l) => d.listDistinctCount(l));
      case 'engagedSessions':
        return over(d.engagementItem(this.sessionKey().expr, m.engagedFlag, m.msec, m.view), (l) =>
          d.engagedSessionsInList(l),
        );
    }
  }

  /** The rows of the N-day window ending at this event (nDayFrame's), as a list of (day, x). */
  dayFrame(n: number, x: Fragment): Value {
    return this.memoised(`day_frame|${n}|${fragmentKey(x)}`, () => {
      const v = this.baseValue(x);
      const day = this.day();
      const item = this.named(Math.max(v.level, day.level) + 1, this.dialect.dayItem(day.expr, v.expr));
      const back = this.rowsBack(n);
      return this.named(
        Math.max(item.level, back.level) + 1,
        this.dialect.listRowsBack(item.expr, sql`u`, back.expr),
      );
    });
  }

  /** The number of rows before this one in its N-day window (the N-day count of all events, less 1). */
  rowsBack(n: number): Value {
    return this.memoised(`rows_back|${n}`, () => {
      const day = this.day();
      const one = this.constant(1);
      const inDays = this.named(1, this.dialect.dayRangeSum(one.expr, sql`u`, day.expr, param(n - 1)));
      const later = this.named(1, this.dialect.sumAfter(one.expr, sql`u, ${day.expr}`));
      return { expr: sql`(${inDays.expr} - COALESCE(${later.expr}, 0) - 1)`, level: 1 };
    });
  }

  /**
   * A dynamic N-day dimension (D4): some event so far whose value matches has a local day within
   * N - 1 days of the judging day: the event's own, or a later day of its gap (`at`).
   */
  nDayDimension(point: Value, n: number, at: Judged): Value {
    const day = this.day();
    const lastDay = this.memoised(`last_day|${fragmentKey(point.expr)}`, () =>
      this.named(
        Math.max(point.level, day.level) + 1,
        this.dialect.runningMaxInStream(sql`(CASE WHEN ${point.expr} THEN ${day.expr} END)`, sql`u`),
      ),
    );
    const judged = at === 'event' ? day : at;
    return {
      expr: sql`COALESCE(${lastDay.expr} >= ${judged.expr} - ${param(n - 1)}, FALSE)`,
      level: Math.max(lastDay.level, judged.level),
    };
  }

  /** The local day of the end of the event's gap: the next event's, or asOf's for the last. */
  gapEndDay(): Value {
    return this.memoised('gap_end_day', () => {
      const tz = param(this.ctx.config.timeZone);
      const asOfDay = this.dialect.localDay(sql`CAST(${param(this.ctx.asOfMicros)} AS BIGINT)`, tz);
      const day = this.day();
      return this.named(day.level + 1, this.dialect.next(day.expr, sql`u`, asOfDay));
    });
  }

  /**
   * A sum of doubles or the sessions over the N-day window ending at this event (the reference's
   * aggregate(from, k)): the window's rows are the last `c` rows up to this one, where `c` (the
   * N-day count of all events, exact in integers) gives the frame's per-row length.
   */
  nDayFrame(p: MetricPart, n: number): Value {
    const rowsBack = this.rowsBack(n);
    const m = this.m;
    const frame = (x: Fragment): Value => {
      const v = this.baseValue(x);
      return this.named(
        Math.max(v.level, rowsBack.level) + 1,
        this.dialect.sumInOrderRowsBack(v.expr, sql`u`, rowsBack.expr),
      );
    };
    switch (p.metric) {
      case 'eventValue':
        return frame(m.value);
      case 'userEngagementDuration': {
        const v = frame(m.msec);
        return { expr: sql`(${v.expr} / 1000)`, level: v.level };
      }
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue': {
        const a = frame(m.revenue);
        const b = frame(m.refund);
        return { expr: sql`(${a.expr} - ${b.expr})`, level: Math.max(a.level, b.level) };
      }
      case 'sessions': {
        const key = this.sessionKey();
        return this.named(
          Math.max(key.level, rowsBack.level) + 1,
          this.dialect.distinctRowsBack(key.expr, sql`u`, rowsBack.expr),
        );
      }
      case 'engagedSessions': {
        // D19 within the window: a session counts when its events inside the window engage it.
        const item = this.baseValue(
          this.dialect.engagementItem(this.sessionKey().expr, m.engagedFlag, m.msec, m.view),
        );
        const list = this.named(
          Math.max(item.level, rowsBack.level) + 1,
          this.dialect.listRowsBack(item.expr, sql`u`, rowsBack.expr),
        );
        return { expr: this.dialect.engagedSessionsInList(list.expr), level: list.level };
      }
      default:
        throw new Error(`N-day frame of ${p.metric}`);
    }
  }

  /** D3: the event's session key (EVENT_SESSION_KEY). */
  sessionKey(): Value {
    return this.memoised('session_key', () => this.baseValue(EVENT_SESSION_KEY));
  }

  /** D4: the event's local day in the property's time zone. */
  day(): Value {
    return this.memoised('day', () =>
      this.baseValue(this.dialect.localDay(sql`event_timestamp`, param(this.ctx.config.timeZone))),
    );
  }

  /** D18: the event contributes to the metric. */
  contributes(metric: MetricName): Value {
    const m = this.m;
    switch (metric) {
      case 'eventCount':
        return this.constant(true);
      case 'eventValue':
        return this.baseValue(sql`(${m.value} IS NOT NULL)`);
      case 'sessions':
        return this.firstOfSession();
      case 'engagedSessions':
        return this.becomesEngaged();
      case 'userEngagementDuration':
        return this.baseValue(sql`(${m.msec} IS NOT NULL)`);
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue':
        return this.baseValue(sql`(${m.revenue} IS NOT NULL OR ${m.refund} IS NOT NULL)`);
      case 'transactions':
        return this.baseValue(m.transaction);
      case 'ecommercePurchases':
        return this.baseValue(m.purchase);
    }
  }

  firstOfSession(): Value {
    return this.memoised('first_of_session', () => {
      const before = this.running('count', this.constant(1), 'session', true);
      return { expr: sql`(${before.expr} = 0)`, level: before.level };
    });
  }

  /**
   * D19: the session is engaged as of this event (`before`: as of the previous event of the
   * session): a session_engaged flag, Σ engagement_time_msec >= 10 000 or two views so far; once
   * engaged it stays so (the sum alone could fall back with negative values).
   */
  engaged(before: boolean): Value {
    return this.memoised(`engaged_${before}`, () => {
      const m = this.m;
      const flag = this.running('bool_or', this.baseValue(m.engagedFlag), 'session', before);
      const msec = this.running('sum', this.baseValue(m.msec), 'session', before);
      const views = this.running(
        'sum',
        this.baseValue(sql`(CASE WHEN ${m.view} THEN 1 ELSE 0 END)`),
        'session',
        before,
      );
      const now = {
        expr: sql`(COALESCE(${flag.expr}, FALSE) OR COALESCE(${msec.expr}, 0) >= 10000 OR COALESCE(${views.expr}, 0) >= 2)`,
        level: Math.max(flag.level, msec.level, views.level),
      };
      // Latch: engaged at some prefix (the running sum can go down again). Inclusive in both
      // cases: with `before`, `now` already describes the rows before this one, and the latch
      // must include this row's value (an exclusive latch of it would look two rows back).
      return this.running('bool_or', now, 'session', false);
    });
  }

  becomesEngaged(): Value {
    const now = this.engaged(false);
    const was = this.engaged(true);
    return {
      expr: sql`(${now.expr} AND NOT COALESCE(${was.expr}, FALSE))`,
      level: Math.max(now.level, was.level),
    };
  }

  // --- values -------------------------------------------------------------------------------

  /** A per-event expression over the raw event columns, read once in stage 0. */
  baseValue(expr: Fragment): Value {
    const name = ident(`p${this.n++}`);
    this.base.push({ name, expr });
    return { expr: name, level: 0 };
  }

  constant(x: boolean | number): Value {
    return {
      expr: typeof x === 'number' ? (x === 1 ? sql`1` : sql`0`) : x ? sql`TRUE` : sql`FALSE`,
      level: 0,
    };
  }

  /** A named column of stage `level` (level >= 1). */
  named(level: number, expr: Fragment): Value {
    const name = ident(`w${this.n++}`);
    while (this.stages.length < level) this.stages.push([]);
    this.stages[level - 1]!.push({ name, expr });
    return { expr: name, level };
  }

  /** A running aggregate in stream order over the unit, up to this event (or, `exclusive`, before it). */
  running(agg: 'bool_or' | 'sum' | 'count', v: Value, unit: Unit, exclusive = false): Value {
    const key = `${agg}|${unit}|${exclusive}|${fragmentKey(v.expr)}`;
    return this.memoised(key, () =>
      this.named(v.level + 1, this.dialect.running(agg, v.expr, this.partition(unit), exclusive)),
    );
  }

  /** The value at the unit's previous event (`empty` when there is none). */
  previous(v: Value, unit: Unit, empty: boolean): Value {
    return this.named(
      v.level + 1,
      this.dialect.previous(v.expr, this.partition(unit), empty ? sql`TRUE` : sql`FALSE`),
    );
  }

  partition(unit: Unit): Fragment {
    // D3: a null ga_session_id is a session of its own.
    return unit === 'user' ? sql`u` : sql`u, s, CASE WHEN s IS NULL THEN q END`;
  }

  all(vs: Value[]): Value {
    return { expr: and(vs.map((v) => v.expr)), level: Math.max(0, ...vs.map((v) => v.level)) };
  }

  any(vs: Value[]): Value {
    return { expr: or(vs.map((v) => v.expr)), level: Math.max(0, ...vs.map((v) => v.level)) };
  }

  not(v: Value): Value {
    return { expr: sql`(NOT ${v.expr})`, level: v.level };
  }

  private memoised(key: string, make: () => Value): Value {
    let v = this.memo.get(key);
    if (!v) this.memo.set(key, (v = make()));
    return v;
  }
}

/** The N of a dynamic N-day leaf (a dimension, a metric, or a count's part), else 0. */
function dynamicNDays(l: Leaf): number {
  const part = (p: MetricPart): number => (p.nDays !== null && !p.isStatic ? p.nDays : 0);
  switch (l.kind) {
    case 'dim':
      return l.nDays ?? 0;
    case 'metric':
      return part(l.part);
    case 'count':
      return Math.max(0, ...l.parts.map(part));
    case 'event':
      return 0;
  }
}

/** A dynamic N-day metric leaf (or count part): its value can rise or fall at a midnight. */
function isDynamicNDayMetric(l: Leaf): boolean {
  const part = (p: MetricPart): boolean => p.nDays !== null && !p.isStatic;
  return (l.kind === 'metric' && part(l.part)) || (l.kind === 'count' && l.parts.some(part));
}

/** A fragment's identity for memoising: its text with the parameters' values. */
function fragmentKey(f: Fragment): string {
  return f.parts.map((p) => (typeof p === 'string' ? p : `{${typeof p.value}:${String(p.value)}}`)).join('');
}

/** The metric filter on 0 (the empty set's value). */
function passesZero(p: MetricPart): boolean {
  const f = p.filter;
  let ok: boolean;
  if (f.numericFilter) {
    const x = numberOf(f.numericFilter.value);
    ok =
      f.numericFilter.operation === 'EQUAL'
        ? 0 === x
        : f.numericFilter.operation === 'LESS_THAN'
          ? 0 < x
          : 0 > x;
  } else if (f.betweenFilter) {
    ok = 0 >= numberOf(f.betweenFilter.fromValue) && 0 <= numberOf(f.betweenFilter.toValue);
  } else ok = false;
  return ok !== p.negated;
}

function numberOf(v: { int64Value: bigint } | { doubleValue: number }): number {
  return 'int64Value' in v ? Number(v.int64Value) : v.doubleValue;
}

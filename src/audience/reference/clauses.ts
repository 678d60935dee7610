// Clause runtimes of the reference evaluator: for one user's timeline, whether a clause holds at
// an instant, which events qualify, and whether a temporary exclusion is active (docs/audiences.md §2.6).
// Sequences (§3.4) are a DP over anchors. Decisions are numbered as in DECISIONS.md.

import type { FilterScope } from '../../domain/audience.ts';
import {
  aggregate,
  contributes,
  firstIndexOnOrAfterDay,
  holdsOnEvent,
  MetricAcc,
  UnitState,
  type Expr,
  type Leaf,
  type MetricLeaf,
  type Timeline,
} from './leaves.ts';

const EVENT: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS: FilterScope = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

export interface CompiledStep {
  scope: FilterScope;
  immediatelyFollows: boolean;
  constraintMicros: bigint | null;
  expr: Expr;
}

export type CompiledClause =
  | { kind: 'simple'; scope: FilterScope; expr: Expr }
  | { kind: 'sequence'; scope: FilterScope; maxDurationMicros: bigint | null; steps: CompiledStep[] };

/**
 * A clause over one user's timeline. `k` is the index of the user's latest event at the instant
 * (-1: none yet) and `t` the instant itself; only ACROSS_ALL_SESSIONS clauses with dynamic N-day
 * leaves depend on `t` beyond `k`.
 */
export interface ClauseRuntime {
  /** The clause is satisfied with events [0..k] at time t (include and permanent-exclude sense). */
  holds(k: number, t: bigint): boolean;
  /** Event k is a qualifying event of this clause (D13). Call only for k's own instant. */
  qualifies(k: number): boolean;
  /** Temporary exclusion: the clause is met by the current unit of its scope (D15). */
  activeUnit(k: number, t: bigint): boolean;
  /** N values of dynamic N-day leaves: the state can change at local midnights (D4). */
  lapseDays: number[];
}

function firstTrue(xs: readonly boolean[]): number {
  const i = xs.indexOf(true);
  return i < 0 ? xs.length : i;
}

// ---------------------------------------------------------------------------------------------
// WITHIN_SAME_EVENT and WITHIN_SAME_SESSION: static by nature.

function eventScope(expr: Expr, tl: Timeline): ClauseRuntime {
  const sat = tl.events.map((_, k) => holdsOnEvent(expr, k, tl));
  const first = firstTrue(sat);
  return {
    holds: (k) => k >= first,
    qualifies: (k) => sat[k]!,
    activeUnit: (k) => k >= 0 && sat[k]!,
    lapseDays: [],
  };
}

/**
 * D10: a session is satisfied once, at some event e of it, every group holds on the session's
 * events up to e; it stays satisfied. D13: event k qualifies iff its session is satisfied as of k
 * and either became satisfied at k or k matches a positive leaf.
 */
function sessionScope(expr: Expr, tl: Timeline): ClauseRuntime {
  const units = new Map<string, { u: UnitState; ever: boolean }>();
  const sessionSat: boolean[] = [];
  const qual: boolean[] = [];
  tl.events.forEach((_, k) => {
    const key = tl.session[k]!;
    let st = units.get(key);
    if (!st) units.set(key, (st = { u: new UnitState(expr), ever: false }));
    const before = st.ever;
    st.u.add(k, tl);
    if (!st.ever) st.ever = st.u.satisfied();
    sessionSat.push(st.ever);
    qual.push(st.ever && (!before || st.u.positive(k, tl)));
  });
  const first = firstTrue(sessionSat);
  return {
    holds: (k) => k >= first,
    qualifies: (k) => qual[k]!,
    activeUnit: (k) => k >= 0 && sessionSat[k]!,
    lapseDays: [],
  };
}

// ---------------------------------------------------------------------------------------------
// ACROSS_ALL_SESSIONS: per-leaf static/dynamic rules (D10).

interface LeafRuntime {
  holds(k: number, t: bigint): boolean;
  /** The leaf's value at event k (at the event's own time). */
  point(k: number): boolean;
  /** Event k matches this leaf positively (D13). */
  positive(k: number): boolean;
  lapseDays: number[];
}

function dimOrEventLeaf(
  tl: Timeline,
  matches: (k: number) => boolean,
  negated: boolean,
  isStatic: boolean,
  nDays: number | null,
): LeafRuntime {
  const point = tl.events.map((_, k) => matches(k) !== negated);
  const first = firstTrue(point);
  const positive = (k: number): boolean => !negated && matches(k);
  if (isStatic) return { holds: (k) => k >= first, point: (k) => point[k]!, positive, lapseDays: [] };
  if (nDays === null) {
    // Dynamic: the most recent event's value (no events: false, negated or not; D7).
    return { holds: (k) => k >= 0 && point[k]!, point: (k) => point[k]!, positive, lapseDays: [] };
  }
  // Dynamic N-day: some event of the trailing window [startOfDay(t) - (N-1) days, t] matches.
  const lastDay: number[] = [];
  let last = -Infinity;
  point.forEach((p, k) => {
    if (p) last = tl.day[k]!;
    lastDay.push(last);
  });
  return {
    holds: (k, t) => k >= 0 && lastDay[k]! >= tl.calendar.dayOf(t) - (nDays - 1),
    point: (k) => point[k]!,
    positive,
    lapseDays: [nDays],
  };
}

/**
 * A metric leaf. Its value at event k is the metric over all events up to k, or with N over the
 * N-day window ending on k's day (up to k). D10: static = that value passed at some event;
 * dynamic = the value at the instant (N-day windows re-checked at t; the empty set is 0).
 */
function metricLeaf(leaf: MetricLeaf, tl: Timeline): LeafRuntime {
  const n = tl.events.length;
  const N = leaf.nDays;
  const values: number[] = [];
  if (N === null) {
    const acc = new MetricAcc(leaf.metric, leaf.eventName); // running, in stream order
    for (let k = 0; k < n; k++) {
      acc.add(tl.events[k]!, tl.session[k]!);
      values.push(acc.value());
    }
  } else {
    for (let k = 0; k < n; k++)
      values.push(aggregate(leaf, tl, firstIndexOnOrAfterDay(tl, tl.day[k]! - (N - 1)), k));
  }
  const pass = (v: number): boolean => leaf.test(v) !== leaf.negated;
  const point = values.map(pass);
  const first = firstTrue(point);
  const empty = pass(0);
  const positive = (k: number): boolean => !leaf.negated && contributes(leaf, k, tl) && point[k]!;
  const at = (k: number): boolean => point[k]!;
  if (leaf.isStatic) return { holds: (k) => k >= first, point: at, positive, lapseDays: [] };
  if (N === null) return { holds: (k) => (k < 0 ? empty : point[k]!), point: at, positive, lapseDays: [] };
  return {
    holds: (k, t) => {
      if (k < 0) return empty;
      const today = tl.calendar.dayOf(t);
      if (today === tl.day[k]) return point[k]!;
      const from = firstIndexOnOrAfterDay(tl, today - (N - 1));
      return from > k ? empty : pass(aggregate(leaf, tl, from, k));
    },
    point: at,
    positive,
    lapseDays: [N],
  };
}

function leafRuntime(leaf: Leaf, tl: Timeline): LeafRuntime {
  switch (leaf.kind) {
    case 'event':
      // D10: an eventFilter across all sessions holds once some event in the window matched.
      return dimOrEventLeaf(tl, (k) => leaf.match(tl.events[k]!), false, true, null);
    case 'dim':
      return dimOrEventLeaf(tl, (k) => leaf.match(tl.events[k]!), leaf.negated, leaf.isStatic, leaf.nDays);
    case 'metric':
      return metricLeaf(leaf, tl);
    case 'count': {
      const parts = leaf.parts.map((p) => metricLeaf(p, tl));
      const point = (k: number): boolean => parts.every((p) => p.point(k));
      return {
        holds: (k, t) => parts.every((p) => p.holds(k, t)),
        point,
        positive: (k) => tl.events[k]!.event_name === leaf.eventName && point(k),
        lapseDays: parts.flatMap((p) => p.lapseDays),
      };
    }
  }
}

/** D13: event k qualifies iff the clause holds after it and it either made it true or matches a positive leaf. */
function acrossScope(expr: Expr, tl: Timeline): ClauseRuntime {
  const leaves = expr.leaves.map((l) => leafRuntime(l, tl));
  const holds = (k: number, t: bigint): boolean =>
    expr.groups.every((g) => g.some((i) => leaves[i]!.holds(k, t)));
  return {
    holds,
    qualifies: (k) => {
      const t = tl.time[k]!;
      return holds(k, t) && (!holds(k - 1, t) || leaves.some((l) => l.positive(k)));
    },
    activeUnit: holds,
    lapseDays: [...new Set(leaves.flatMap((l) => l.lapseDays))],
  };
}

// ---------------------------------------------------------------------------------------------
// Sequences (D12).

/**
 * The events of a step's range (a_{i-1}, j], fed in order. D12: for a WITHIN_SAME_SESSION step
 * only the range's events in session(j) count; for ACROSS_ALL_SESSIONS all of them.
 */
class RangeState {
  private readonly all: UnitState | null;
  private readonly perSession = new Map<string, UnitState>();

  constructor(
    private readonly expr: Expr,
    private readonly bySession: boolean,
  ) {
    this.all = bySession ? null : new UnitState(expr);
  }

  add(j: number, tl: Timeline): void {
    if (this.all) return this.all.add(j, tl);
    const key = tl.session[j]!;
    let u = this.perSession.get(key);
    if (!u) this.perSession.set(key, (u = new UnitState(this.expr)));
    u.add(j, tl);
  }

  satisfiedAt(j: number, tl: Timeline): boolean {
    return (this.all ?? this.perSession.get(tl.session[j]!)!).satisfied();
  }
}

/**
 * completes[j]: some valid anchor chain a_0 < … < a_k = j exists. DP over anchors: best[j] is the
 * latest possible t(a_0) of a valid chain for steps 0..i ending at j (null: none); the pairwise
 * constraints do not depend on a_0, so keeping only the latest a_0 is exact for the
 * sequenceMaximumDuration check.
 */
export function sequenceCompletions(
  seq: { scope: FilterScope; maxDurationMicros: bigint | null; steps: CompiledStep[] },
  tl: Timeline,
): boolean[] {
  const n = tl.events.length;
  const sameSession = seq.scope === SESSION;
  const D = seq.maxDurationMicros;
  const [step0, ...rest] = seq.steps;
  if (!step0) throw new Error('a sequence needs at least one step');

  // Step 0: its filter holds on its range, which is every event up to a_0 (its session's, for a
  // session-scoped step; a_0 alone for an event-scoped one).
  let best: (bigint | null)[] = [];
  const range0 = step0.scope === EVENT ? null : new RangeState(step0.expr, step0.scope === SESSION);
  for (let j = 0; j < n; j++) {
    let ok: boolean;
    if (range0) {
      range0.add(j, tl);
      ok = range0.satisfiedAt(j, tl);
    } else ok = holdsOnEvent(step0.expr, j, tl);
    best.push(ok ? tl.time[j]! : null);
  }

  for (const step of rest) {
    const next: (bigint | null)[] = new Array<bigint | null>(n).fill(null);
    const keep = (j: number, a0: bigint): void => {
      const cur = next[j];
      if (cur === undefined || cur === null || a0 > cur) next[j] = a0;
    };
    if (step.scope === EVENT && !step.immediatelyFollows && step.constraintMicros === null) {
      // Fast path: any earlier anchor will do, so carry the running maximum of best (per session
      // when the sequence is session-scoped).
      let globalMax: bigint | null = null;
      const sessionMax = new Map<string, bigint>();
      for (let j = 0; j < n; j++) {
        const m = sameSession ? (sessionMax.get(tl.session[j]!) ?? null) : globalMax;
        if (m !== null && (D === null || tl.time[j]! - m <= D) && holdsOnEvent(step.expr, j, tl)) keep(j, m);
        const b = best[j];
        if (b !== null && b !== undefined) {
          if (globalMax === null || b > globalMax) globalMax = b;
          const s = sessionMax.get(tl.session[j]!);
          if (s === undefined || b > s) sessionMax.set(tl.session[j]!, b);
        }
      }
    } else {
      const single = step.scope === EVENT ? tl.events.map((_, j) => holdsOnEvent(step.expr, j, tl)) : null;
      for (let p = 0; p < n; p++) {
        const a0 = best[p];
        if (a0 === null || a0 === undefined) continue;
        const range = single ? null : new RangeState(step.expr, step.scope === SESSION);
        for (let j = p + 1; j < n; j++) {
          const t = tl.time[j]!;
          if (step.constraintMicros !== null && t - tl.time[p]! > step.constraintMicros) break;
          if (D !== null && t - a0 > D) break;
          range?.add(j, tl);
          const sessionOk = !sameSession || tl.session[j] === tl.session[p];
          if (sessionOk && (single ? single[j]! : range!.satisfiedAt(j, tl))) keep(j, a0);
          // immediatelyFollows: every event strictly between a_{i-1} and a_i must be ignorable.
          if (step.immediatelyFollows && !tl.adjacencyIgnored[j]) break;
        }
      }
    }
    best = next;
  }
  return best.map((b) => b !== null && b !== undefined);
}

function sequenceClause(
  seq: { scope: FilterScope; maxDurationMicros: bigint | null; steps: CompiledStep[] },
  tl: Timeline,
): ClauseRuntime {
  const completes = sequenceCompletions(seq, tl);
  const first = firstTrue(completes);
  // D15: temporarily excluded while a chain completed in the latest event's session (scope
  // SESSION), or at the latest event itself (scope EVENT); across all sessions, from the first.
  const doneInSession = new Set<string>();
  const sessionDone = completes.map((c, k) => {
    if (c) doneInSession.add(tl.session[k]!);
    return doneInSession.has(tl.session[k]!);
  });
  return {
    holds: (k) => k >= first,
    qualifies: (k) => completes[k]!,
    activeUnit: (k) =>
      k >= 0 && (seq.scope === SESSION ? sessionDone[k]! : seq.scope === EVENT ? completes[k]! : k >= first),
    lapseDays: [],
  };
}

export function clauseRuntime(c: CompiledClause, tl: Timeline): ClauseRuntime {
  if (c.kind === 'sequence') return sequenceClause(c, tl);
  if (c.scope === EVENT) return eventScope(c.expr, tl);
  if (c.scope === SESSION) return sessionScope(c.expr, tl);
  if (c.scope === ACROSS) return acrossScope(c.expr, tl);
  throw new Error(`unsupported scope: ${String(c.scope)}`);
}

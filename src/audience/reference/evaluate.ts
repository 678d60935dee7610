// The reference evaluator: the executable meaning of docs/audiences.md §2. A pure function
// (definition, events, now, config) → membership intervals + trigger events. The SQL compilers must
// agree with it exactly; every open point it settles is numbered D<n> and listed in DECISIONS.md.
//
// Model (D14): per user, the state is evaluated at *instants*: each event (the state right after
// it) and each local midnight at which an N-day window can lapse. Between instants it is constant,
// except for expiry, which is exact elapsed time. At each instant:
//   A  = every INCLUDE clause holds;             X = excluded (permanent latch or temporary unit);
//   Q  = the event is qualifying: A holds and some INCLUDE clause qualifies at it;
//   member(t) = A held at every instant since the last Q, and not X, and t < t(last Q) + duration.
// So a dynamic condition that fails ends membership until the next qualifying event, while an
// exclusion only masks it (it resumes without renewal when the exclusion lapses).

import type {
  AudienceDefinition,
  EvaluationConfig,
  FilterClause,
  LogCondition,
} from '../../domain/audience.ts';
import type { StoredEvent } from '../../domain/event.ts';
import { calendarFor } from './calendar.ts';
import { clauseRuntime, type CompiledClause } from './clauses.ts';
import { buildTimeline, compileExpr } from './leaves.ts';

export interface MembershipInterval {
  userPseudoId: string;
  /** µs, inclusive. */
  joinedAt: bigint;
  /** µs, exclusive; null = still a member at `now`. */
  leftAt: bigint | null;
}

export interface TriggerEvent {
  userPseudoId: string;
  userId: string | null;
  eventName: string;
  timestamp: bigint;
  gaSessionId: bigint | null;
  gaSessionNumber: number | null;
  qualifyingIngestSeq: bigint;
  logCondition: LogCondition;
}

export interface EvaluationResult {
  intervals: MembershipInterval[];
  triggers: TriggerEvent[];
}

export interface CompiledAudience {
  readonly definition: AudienceDefinition;
  readonly durationMicros: bigint;
  readonly includes: readonly CompiledClause[];
  readonly excludes: readonly CompiledClause[];
  readonly permanentExclusion: boolean;
}

export const DAY_MICROS = 86_400_000_000n;

function compileClause(c: FilterClause): CompiledClause {
  if (c.simpleFilter) {
    return {
      kind: 'simple',
      scope: c.simpleFilter.scope,
      expr: compileExpr(c.simpleFilter.filterExpression),
    };
  }
  if (c.sequenceFilter) {
    const s = c.sequenceFilter;
    return {
      kind: 'sequence',
      scope: s.scope,
      maxDurationMicros: s.sequenceMaximumDurationMicros ?? null,
      // immediatelyFollows and constraintDuration are ignored on step 0.
      steps: s.sequenceSteps.map((st, i) => ({
        scope: st.scope,
        immediatelyFollows: i > 0 && st.immediatelyFollows,
        constraintMicros: i > 0 ? (st.constraintDurationMicros ?? null) : null,
        expr: compileExpr(st.filterExpression),
      })),
    };
  }
  throw new Error('a filter clause needs a simpleFilter or a sequenceFilter');
}

/**
 * Pre-builds every matcher (RE2 objects, field getters, metric tests) once. Throws on definitions
 * that validation rejects (unknown field, string filter on a metric, bad regex, bad shape).
 */
export function compileAudience(def: AudienceDefinition): CompiledAudience {
  return {
    definition: def,
    durationMicros: BigInt(def.membershipDurationDays) * DAY_MICROS,
    includes: def.filterClauses.filter((c) => c.clauseType === 'INCLUDE').map(compileClause),
    excludes: def.filterClauses.filter((c) => c.clauseType === 'EXCLUDE').map(compileClause),
    // Spec §2.9 rule 15: EXCLUDE_TEMPORARILY unless permanent is asked for.
    permanentExclusion: def.exclusionDurationMode === 'EXCLUDE_PERMANENTLY',
  };
}

/** D2: the first instant that counts: createTime − backfillDays (exact days of 24 h), or none. */
export function windowStartMicros(config: EvaluationConfig): bigint | null {
  return config.backfillDays === null
    ? null
    : config.createTimeMicros - BigInt(config.backfillDays) * DAY_MICROS;
}

/**
 * D2: the events that are evaluated: inside the backfill window, not after `now`, and not
 * synthetic audience-trigger events (they may not be used in conditions).
 */
export function isEvaluated(e: StoredEvent, windowStart: bigint | null, nowMicros: bigint): boolean {
  return (
    e.source !== 'audience_trigger' &&
    e.event_timestamp <= nowMicros &&
    (windowStart === null || e.event_timestamp >= windowStart)
  );
}

/** Stream order: (event_timestamp, ingest_seq). */
export function compareEvents(a: StoredEvent, b: StoredEvent): number {
  if (a.event_timestamp !== b.event_timestamp) return a.event_timestamp < b.event_timestamp ? -1 : 1;
  return a.ingest_seq < b.ingest_seq ? -1 : a.ingest_seq > b.ingest_seq ? 1 : 0;
}

/**
 * Evaluates one user: `userEvents` are that user's events in stream order (others are filtered
 * out as in D2). A streaming caller passes `compiled` to reuse the matchers.
 */
export function evaluateUser(
  def: AudienceDefinition,
  userEvents: readonly StoredEvent[],
  nowMicros: bigint,
  config: EvaluationConfig,
  compiled: CompiledAudience = compileAudience(def),
): EvaluationResult {
  const windowStart = windowStartMicros(config);
  const events = userEvents.filter((e) => isEvaluated(e, windowStart, nowMicros));
  const intervals: MembershipInterval[] = [];
  const triggers: TriggerEvent[] = [];
  if (events.length === 0) return { intervals, triggers };
  const user = events[0]!.user_pseudo_id;
  if (events.some((e) => e.user_pseudo_id !== user)) throw new Error('evaluateUser: events of several users');

  const calendar = calendarFor(config.timeZone);
  const tl = buildTimeline(events, calendar, new Set(config.ignoreEventNamesForAdjacency));
  const includes = compiled.includes.map((c) => clauseRuntime(c, tl));
  const excludes = compiled.excludes.map((c) => clauseRuntime(c, tl));
  const dur = compiled.durationMicros;
  const trigger = def.eventTrigger;

  // D4: time-driven instants: the local midnight at which an event's day leaves an N-day window.
  const breakpoints = new Set<bigint>();
  const days = [...new Set(tl.day)];
  for (const N of new Set([...includes, ...excludes].flatMap((c) => c.lapseDays))) {
    for (const d of days) {
      const b = calendar.startOfDay(d + N);
      if (b > tl.time[0]! && b <= nowMicros) breakpoints.add(b);
    }
  }
  const instants = [...breakpoints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  // (Declared with `as` so that TypeScript does not narrow them: the closures below assign them.)
  let cur = null as bigint | null; // time of the current instant
  let cond = false as boolean; // chainOk && !excluded, from `cur` on
  let chainOk = false; // A held at every instant since the last qualifying event
  let lastQ = null as bigint | null;
  let permanentlyOut = false;

  const push = (from: bigint, to: bigint | null): void => {
    const last = intervals[intervals.length - 1];
    if (last && last.leftAt === from)
      last.leftAt = to; // D16: touching intervals merge
    else intervals.push({ userPseudoId: user, joinedAt: from, leftAt: to });
  };
  const closeSegment = (until: bigint): void => {
    if (cur === null || !cond || lastQ === null) return;
    const expiry = lastQ + dur;
    const end = until < expiry ? until : expiry;
    if (end > cur) push(cur, end); // D16: empty intervals are dropped
  };

  const step = (t: bigint, k: number, isEvent: boolean): void => {
    closeSegment(t);
    const memberBefore = cond && lastQ !== null && t < lastQ + dur;
    const A = includes.every((c) => c.holds(k, t));
    let excluded: boolean;
    if (compiled.permanentExclusion) {
      // D15: out for good from the first instant at which any EXCLUDE clause holds.
      if (!permanentlyOut && excludes.some((c) => c.holds(k, t))) permanentlyOut = true;
      excluded = permanentlyOut;
    } else {
      excluded = excludes.some((c) => c.activeUnit(k, t));
    }
    if (!A) chainOk = false;
    const qualifying = isEvent && A && includes.some((c) => c.qualifies(k));
    if (qualifying) {
      lastQ = t;
      chainOk = true;
    }
    cond = chainOk && !excluded;
    cur = t;
    // D17: triggers at qualifying events at/after createTime; JOINED only on a join.
    if (qualifying && trigger && t >= config.createTimeMicros) {
      const memberAfter = cond; // t < t + duration
      const fire = trigger.logCondition === 'AUDIENCE_JOINED' ? memberAfter && !memberBefore : memberAfter;
      if (fire) {
        const e = tl.events[k]!;
        triggers.push({
          userPseudoId: user,
          userId: e.user_id,
          eventName: trigger.eventName,
          timestamp: t,
          gaSessionId: e.ga_session_id,
          gaSessionNumber: e.ga_session_number,
          qualifyingIngestSeq: e.ingest_seq,
          logCondition: trigger.logCondition,
        });
      }
    }
  };

  // Breakpoints at time t come before the events at t (they only move the window).
  let bi = 0;
  for (let k = 0; k < events.length; k++) {
    const t = tl.time[k]!;
    while (bi < instants.length && instants[bi]! <= t) step(instants[bi++]!, k - 1, false);
    step(t, k, true);
  }
  while (bi < instants.length) step(instants[bi++]!, events.length - 1, false);

  // The last segment runs past `now`: open if still a member at now (D16).
  if (cur !== null && cond && lastQ !== null) {
    const expiry = lastQ + dur;
    if (expiry > nowMicros) push(cur, null);
    else if (expiry > cur) push(cur, expiry);
  }
  return { intervals, triggers };
}

/** Evaluates every user of `events` (any order). Output is ordered by user (compareDeviceIds). */
export function evaluateAudience(
  def: AudienceDefinition,
  events: readonly StoredEvent[],
  nowMicros: bigint,
  config: EvaluationConfig,
): EvaluationResult {
  const compiled = compileAudience(def);
  const byUser = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const list = byUser.get(e.user_pseudo_id);
    if (list) list.push(e);
    else byUser.set(e.user_pseudo_id, [e]);
  }
  const out: EvaluationResult = { intervals: [], triggers: [] };
  for (const user of [...byUser.keys()].sort(compareDeviceIds)) {
    const r = evaluateUser(def, byUser.get(user)!.sort(compareEvents), nowMicros, config, compiled);
    out.intervals.push(...r.intervals);
    out.triggers.push(...r.triggers);
  }
  return out;
}

/**
 * Orders strings as SQL ORDER BY on VARCHAR does in DuckDB: by UTF-8 bytes, which is code point
 * order (JavaScript's default sort is UTF-16 code unit order, which differs above U+FFFF).
 */
export function compareDeviceIds(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  const restA = a.length - i;
  const restB = b.length - j;
  return restA === restB ? 0 : restA < restB ? -1 : 1;
}

/** The members at an instant: joinedAt <= at < leftAt (null leftAt: open), sorted by compareDeviceIds. */
export function membersAt(result: EvaluationResult, atMicros: bigint): string[] {
  const members = new Set<string>();
  for (const iv of result.intervals) {
    if (iv.joinedAt <= atMicros && (iv.leftAt === null || atMicros < iv.leftAt)) members.add(iv.userPseudoId);
  }
  return [...members].sort(compareDeviceIds);
}

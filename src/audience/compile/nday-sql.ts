// Closed forms for "more than x events (of a name) in N days": one INCLUDE clause across all
// sessions whose only leaf is an N-day eventCount > x.
//
// Static ("in some N days"): the count at an event that does not count is at most the count at
// the last one that does (same or later day: the same events or fewer), so the clause first holds
// at a counted event, every later counted event whose N-day count passes qualifies (D13), and a
// member is a user with such an event after the cutoff. Only the counted events are read, from
// N + 1 days before the cutoff (a day is less than 24 h away from the UTC day, whatever the zone,
// so no earlier event is in the window of a later one).
//
// Dynamic ("in the last N days", D4): the count rises only at counted events and falls only at
// midnights, so the clause, once false, becomes true again only at a counted event, which then
// qualifies (it did not hold just before); while it holds, every counted event qualifies too (it
// contributes and the count passes); other events never qualify. So if the clause holds at asOf,
// it has held since a counted event, and the last qualifying event is the user's last counted
// event: a member is a user whose count over asOf's N-day window passes and whose last counted
// event is after the cutoff (with x < 0 the clause always holds: the same test).

import type { AudienceDefinition, DimensionOrMetricFilter, FilterExpression } from '../../domain/audience.ts';
import type { SqlDialect } from './dialect.ts';
import { EventStateCompiler } from './events-sql.ts';
import { eventCountParts, numericValue } from './leaves.ts';
import { param, sql, type Fragment } from './sql.ts';
import { groupsOf } from './walk.ts';
import { EVENT_SESSION_KEY, MICROS_PER_DAY, eventWindow, type QueryContext } from './window.ts';

interface NDayCount {
  eventName: string | null;
  leaf: DimensionOrMetricFilter;
}

function nDayCountOf(def: AudienceDefinition): NDayCount | null {
  if (def.filterClauses.length !== 1) return null;
  const f = def.filterClauses[0]!.simpleFilter;
  if (!f || f.scope !== 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS') return null;
  const groups = groupsOf(f.filterExpression);
  if (groups.length !== 1 || groups[0]!.length !== 1) return null;
  const e: FilterExpression = groups[0]![0]!;
  let out: NDayCount | null = null;
  if (e.eventFilter) {
    const counts = eventCountParts(e.eventFilter);
    if (counts.length === 1 && !counts[0]!.negated)
      out = { eventName: e.eventFilter.eventName, leaf: counts[0]!.filter };
  } else if (e.dimensionOrMetricFilter?.fieldName === 'eventCount') {
    out = { eventName: null, leaf: e.dimensionOrMetricFilter };
  }
  if (!out) return null;
  const l = out.leaf;
  const ok = l.inAnyNDayPeriod !== undefined && l.numericFilter?.operation === 'GREATER_THAN';
  return ok ? out : null;
}

export function hasNDayCountForm(def: AudienceDefinition): boolean {
  return nDayCountOf(def) !== null;
}

/** The dynamic form (see the header): the count over asOf's N-day window, the last counted event. */
function compileDynamicNDayCount(
  dialect: SqlDialect,
  def: AudienceDefinition,
  ctx: QueryContext,
  { eventName, leaf }: NDayCount,
): Fragment {
  const n = leaf.inAnyNDayPeriod!;
  const cutoff = ctx.asOfMicros - BigInt(def.membershipDurationDays) * MICROS_PER_DAY;
  const windowFrom = ctx.asOfMicros - BigInt(n + 1) * MICROS_PER_DAY;
  const from = cutoff < windowFrom ? cutoff : windowFrom;
  const tz = param(ctx.config.timeZone);
  const day = dialect.localDay(sql`event_timestamp`, tz);
  const asOfDay = dialect.localDay(sql`CAST(${param(ctx.asOfMicros)} AS BIGINT)`, tz);
  const filter =
    eventName === null
      ? sql`event_timestamp >= ${param(from)}`
      : sql`event_name = ${param(eventName)} AND event_timestamp >= ${param(from)}`;
  const scan = eventWindow(ctx, sql`user_pseudo_id AS u, event_timestamp AS t, ${day} AS d`, filter);
  return sql`SELECT u FROM (${scan}) GROUP BY u
HAVING max(t) > ${param(cutoff)} AND sum(CASE WHEN d >= ${asOfDay} - ${param(n - 1)} THEN 1 ELSE 0 END) > ${param(numericValue(leaf.numericFilter!.value))}
ORDER BY u`;
}

/**
 * The static form with x < 0: the count passes everywhere (0 > x), so the clause first holds at
 * the user's first event of the window, whatever its name, which qualifies; after that only
 * counted events qualify (they contribute). A member: its first event or a counted one is after
 * the cutoff.
 */
function compileStaticNDayCountBelowZero(
  def: AudienceDefinition,
  ctx: QueryContext,
  eventName: string | null,
  cutoff: bigint,
): Fragment {
  const counted = eventName === null ? sql`1 = 1` : sql`event_name = ${param(eventName)}`;
  const scan = eventWindow(ctx, sql`user_pseudo_id AS u, event_timestamp AS t, (${counted}) AS c`);
  return sql`SELECT u FROM (${scan}) AS w GROUP BY u
HAVING min(t) > ${param(cutoff)} OR max(CASE WHEN c THEN t END) > ${param(cutoff)}
ORDER BY u`;
}

export function compileNDayCount(dialect: SqlDialect, def: AudienceDefinition, ctx: QueryContext): Fragment {
  const form = nDayCountOf(def)!;
  if (!form.leaf.atAnyPointInTime) return compileDynamicNDayCount(dialect, def, ctx, form);
  const { eventName, leaf } = form;
  const moreThan = numericValue(leaf.numericFilter!.value);
  const n = leaf.inAnyNDayPeriod!;
  const cutoff = ctx.asOfMicros - BigInt(def.membershipDurationDays) * MICROS_PER_DAY;
  if (moreThan < 0) return compileStaticNDayCountBelowZero(def, ctx, eventName, cutoff);
  const from = cutoff - BigInt(n + 1) * MICROS_PER_DAY;
  const day = dialect.localDay(sql`event_timestamp`, param(ctx.config.timeZone));
  const filter =
    eventName === null
      ? sql`event_timestamp >= ${param(from)}`
      : sql`event_name = ${param(eventName)} AND event_timestamp >= ${param(from)}`;
  const scan = eventWindow(
    ctx,
    sql`user_pseudo_id AS u, event_timestamp AS t, ingest_seq AS q, ${day} AS d`,
    filter,
  );
  return dialect.usersCountingInDays(scan, param(n - 1), moreThan, param(cutoff));
}

/**
 * "More than x sessions in the last N days" (E9's shape): one INCLUDE clause across all sessions
 * whose only leaf is a dynamic N-day `sessions > x`. As for the dynamic count, the value rises only
 * at events and falls only at midnights, so if the clause holds at asOf it has held since an event
 * e0 that qualified, and every later first event of a session qualifies (it contributes, and the
 * count passes); so a user whose last session start is after the cutoff is a member. But a
 * session's later event can bring it back into the window (its start being older than the
 * window), so e0 need not start a session: the users whose clause holds at asOf but whose last
 * session start is not after the cutoff (few) are decided by the per-event state, restricted to
 * them. Both parts in one statement.
 */
function nDaySessionsOf(def: AudienceDefinition): DimensionOrMetricFilter | null {
  if (def.filterClauses.length !== 1) return null;
  const c = def.filterClauses[0]!;
  const f = c.simpleFilter;
  if (c.clauseType !== 'INCLUDE' || !f || f.scope !== 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS')
    return null;
  const groups = groupsOf(f.filterExpression);
  if (groups.length !== 1 || groups[0]!.length !== 1) return null;
  const leaf = groups[0]![0]!.dimensionOrMetricFilter;
  const ok =
    leaf?.fieldName === 'sessions' &&
    !leaf.atAnyPointInTime &&
    leaf.inAnyNDayPeriod !== undefined &&
    leaf.numericFilter?.operation === 'GREATER_THAN';
  return ok ? leaf : null;
}

export function hasNDaySessionsForm(def: AudienceDefinition): boolean {
  return nDaySessionsOf(def) !== null;
}

export function compileNDaySessions(
  dialect: SqlDialect,
  def: AudienceDefinition,
  ctx: QueryContext,
): Fragment {
  const leaf = nDaySessionsOf(def)!;
  const n = leaf.inAnyNDayPeriod!;
  const cutoff = ctx.asOfMicros - BigInt(def.membershipDurationDays) * MICROS_PER_DAY;
  const tz = param(ctx.config.timeZone);
  const day = dialect.localDay(sql`event_timestamp`, tz);
  const asOfDay = dialect.localDay(sql`CAST(${param(ctx.asOfMicros)} AS BIGINT)`, tz);
  const key = EVENT_SESSION_KEY;
  // The users whose clause holds at asOf (more than x sessions with an event in asOf's N days:
  // few), then their last session start over the whole window.
  // (With x < 0 the clause holds with no session at all: every user of the window holds.)
  const x = numericValue(leaf.numericFilter!.value);
  const recent = eventWindow(
    ctx,
    sql`user_pseudo_id AS u, ${key} AS k, ${day} AS d`,
    x < 0 ? undefined : sql`event_timestamp >= ${param(ctx.asOfMicros - BigInt(n + 1) * MICROS_PER_DAY)}`,
  );
  const holders = sql`SELECT u FROM (${recent}) AS r GROUP BY u
HAVING count(DISTINCT CASE WHEN d >= ${asOfDay} - ${param(n - 1)} THEN k END) > ${param(x)}`;
  const starts = eventWindow(
    ctx,
    sql`user_pseudo_id AS u, min(event_timestamp) AS ft`,
    sql`user_pseudo_id IN (${holders})`,
  );
  const holding = sql`SELECT u, max(ft) AS lfs FROM (${starts} GROUP BY user_pseudo_id, ${key}) AS sess GROUP BY u`;
  const hard = sql`SELECT u FROM (${holding}) AS h WHERE lfs <= ${param(cutoff)}`;
  const rest = new EventStateCompiler(dialect, def, ctx, hard).compile();
  return sql`SELECT u FROM (${holding}) AS easy WHERE lfs > ${param(cutoff)}
UNION ALL
SELECT u FROM (${rest}) AS hard
ORDER BY u`;
}

// A closed form for "more than x events (of a name) in some N days": one INCLUDE clause across all
// sessions whose only leaf is a static N-day eventCount > x. The count at an event that does not
// count is at most the count at the last one that does (same or later day: the same events or
// fewer), so the clause first holds at a counted event, every later counted event whose N-day
// count passes qualifies (D13), and a member is a user with such an event after the cutoff.
// Only the counted events are read, from N + 1 days before the cutoff (a day is less than 24 h
// away from the UTC day, whatever the zone, so no earlier event is in the window of a later one).

import type { AudienceDefinition, DimensionOrMetricFilter, FilterExpression } from '../../domain/audience.ts';
import type { SqlDialect } from './dialect.ts';
import { eventCountLeaf, numericValue } from './leaves.ts';
import { param, sql, type Fragment } from './sql.ts';
import { groupsOf } from './walk.ts';
import { MICROS_PER_DAY, eventWindow, type QueryContext } from './window.ts';

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
    const leaf = eventCountLeaf(e.eventFilter);
    const params = e.eventFilter.eventParameterFilterExpression?.andGroup?.filterExpressions ?? [];
    const counts = params.filter(
      (p) =>
        (p.dimensionOrMetricFilter ?? p.notExpression?.dimensionOrMetricFilter)?.fieldName === 'eventCount',
    );
    if (leaf && counts.length === 1 && counts[0]!.dimensionOrMetricFilter === leaf)
      out = { eventName: e.eventFilter.eventName, leaf };
  } else if (e.dimensionOrMetricFilter?.fieldName === 'eventCount') {
    out = { eventName: null, leaf: e.dimensionOrMetricFilter };
  }
  if (!out) return null;
  const l = out.leaf;
  const ok =
    l.atAnyPointInTime && l.inAnyNDayPeriod !== undefined && l.numericFilter?.operation === 'GREATER_THAN';
  return ok ? out : null;
}

export function hasNDayCountForm(def: AudienceDefinition): boolean {
  return nDayCountOf(def) !== null;
}

export function compileNDayCount(dialect: SqlDialect, def: AudienceDefinition, ctx: QueryContext): Fragment {
  const { eventName, leaf } = nDayCountOf(def)!;
  const n = leaf.inAnyNDayPeriod!;
  const cutoff = ctx.asOfMicros - BigInt(def.membershipDurationDays) * MICROS_PER_DAY;
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
  const counted = sql`1`;
  const inDays = dialect.dayRangeSum(counted, sql`u`, sql`d`, param(n - 1));
  const later = dialect.sumAfter(counted, sql`u, d`);
  return sql`SELECT DISTINCT u FROM (SELECT u, t, ${inDays} - COALESCE(${later}, 0) AS c FROM (${scan}))
WHERE t > ${param(cutoff)} AND c > ${param(numericValue(leaf.numericFilter!.value))}
ORDER BY u`;
}

// Trigger events straight from SQL, for the audiences whose every match qualifies (docs/audiences.md
// §2.7): one INCLUDE clause, no EXCLUDE clause, and either WITHIN_SAME_EVENT (any condition judged
// on one event: All Users, "purchase with value > 100") or ACROSS_ALL_SESSIONS with one OR group of
// positive, static, event-level leaves (Purchasers). For those the reference fold reduces to:
// - the qualifying events are the events on which the condition holds (the clause holds from the
//   first of them for good, and each later match is a positive match, D13);
// - the user is a member just before a qualifying event at t exactly when an earlier qualifying
//   event (stream order, inside the evaluation window) lies less than the membership duration
//   before t: nothing else can end a membership (no exclusion, no dynamic condition);
// - AUDIENCE_MEMBERSHIP_RENEWED fires at every qualifying event, AUDIENCE_JOINED at those where the
//   user was not a member just before; both only at or after createTime.
// So a pass reads its users' qualifying events and one `previousInStream` over them, never their
// whole history in JavaScript. Other audiences keep the fold (logger.ts).

import type { AudienceDefinition, FilterExpression } from '../../domain/audience.ts';
import type { StoredEvent } from '../../domain/event.ts';
import type { SqlDialect } from '../compile/dialect.ts';
import { EventPredicateCompiler, NotEventLevelError, eventCountLeaf } from '../compile/leaves.ts';
import { param, sql, type Fragment } from '../compile/sql.ts';
import { groupsOf } from '../compile/walk.ts';
import { MICROS_PER_DAY, eventWindow, type QueryContext } from '../compile/window.ts';
import { resolveField } from '../fields.ts';
import type { TriggerEvent } from '../reference/evaluate.ts';

/** The per-event condition whose matches are the qualifying events, or null when the fold is needed. */
export function qualifyingEventPredicate(def: AudienceDefinition, dialect: SqlDialect): Fragment | null {
  if (def.filterClauses.length !== 1) return null;
  const [c] = def.filterClauses;
  if (c!.clauseType !== 'INCLUDE' || !c!.simpleFilter) return null;
  const { scope, filterExpression } = c!.simpleFilter;
  try {
    if (scope === 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT') {
      const leaves = groupsOf(filterExpression).flat();
      if (leaves.some((e) => e.eventFilter && eventCountLeaf(e.eventFilter))) return null;
      return new EventPredicateCompiler(dialect, { singleEventMetrics: true }).visitExpression(
        filterExpression,
      );
    }
    if (scope !== 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS') return null;
    const groups = groupsOf(filterExpression);
    if (groups.length !== 1 || !groups[0]!.every(isPositiveStaticEventLeaf)) return null;
    return new EventPredicateCompiler(dialect).visitExpression(filterExpression);
  } catch (err) {
    if (err instanceof NotEventLevelError) return null;
    throw err;
  }
}

/** An event filter without an event count, or a static dimension leaf (no NOT, no N-day window). */
function isPositiveStaticEventLeaf(e: FilterExpression): boolean {
  if (e.eventFilter) return eventCountLeaf(e.eventFilter) === undefined;
  const f = e.dimensionOrMetricFilter;
  if (!f || !f.atAnyPointInTime || f.inAnyNDayPeriod !== undefined) return false;
  return resolveField(f.fieldName, 'condition')?.kind === 'dimension';
}

/**
 * Reads `events`: every column of the qualifying events that fire a trigger (see the header), in
 * stream order per user; with `fromSeq`, only those ingested after it. Null when the audience
 * needs the fold. `ctx` is the evaluation's (window, createTime, maxIngestSeq).
 */
export function compileTriggerEvents(
  def: AudienceDefinition,
  ctx: QueryContext,
  dialect: SqlDialect,
  columns: Fragment,
  fromSeq: bigint | null,
): Fragment | null {
  const trigger = def.eventTrigger;
  const predicate = qualifyingEventPredicate(def, dialect);
  if (!trigger || predicate === null) return null;
  const scan = eventWindow(
    ctx,
    sql`*, user_pseudo_id AS u, event_timestamp AS t, ingest_seq AS q`,
    predicate,
  );
  const withPrevious = sql`SELECT *, ${dialect.previousInStream(sql`t`, sql`u`)} AS pt FROM (${scan})`;
  const fires: Fragment[] = [sql`t >= ${param(ctx.config.createTimeMicros)}`];
  if (fromSeq !== null) fires.push(sql`q > ${param(fromSeq)}`);
  if (trigger.logCondition === 'AUDIENCE_JOINED') {
    const duration = BigInt(def.membershipDurationDays) * MICROS_PER_DAY;
    fires.push(sql`(pt IS NULL OR t - pt >= ${param(duration)})`);
  }
  const where = fires.reduce((a, b) => sql`${a} AND ${b}`);
  return sql`SELECT ${columns} FROM (${withPrevious}) WHERE ${where} ORDER BY u, t, q`;
}

/** The trigger of each qualifying event that compileTriggerEvents returned. */
export function triggersOfEvents(def: AudienceDefinition, events: readonly StoredEvent[]): TriggerEvent[] {
  const trigger = def.eventTrigger!;
  return events.map((e) => ({
    userPseudoId: e.user_pseudo_id,
    userId: e.user_id,
    eventName: trigger.eventName,
    timestamp: e.event_timestamp,
    gaSessionId: e.ga_session_id,
    gaSessionNumber: e.ga_session_number,
    qualifyingIngestSeq: e.ingest_seq,
    logCondition: trigger.logCondition,
  }));
}

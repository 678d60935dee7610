// The pre-filter of the hybrid path: the events of users who might be members, in stream order.
// A user can only qualify if, for every INCLUDE clause, each OR-group made only of event-level
// positive leaves is matched by at least one of their events; anything else is kept (conservative).

import type { AudienceDefinition, FilterExpression } from '../../domain/audience.ts';
import { EVENT_COLUMNS } from '../../domain/event.ts';
import type { SqlDialect } from './dialect.ts';
import { EventPredicateCompiler, NotEventLevelError } from './leaves.ts';
import { and, ident, join, or, sql, type Fragment } from './sql.ts';
import { clauseParts, groupsOf } from './walk.ts';
import { eventWindow, type QueryContext } from './window.ts';

const ALL_COLUMNS = join(
  EVENT_COLUMNS.map(([name]) => ident(name)),
  ', ',
);

/** OR of the group's leaves when every leaf needs a matching event; null when some leaf does not. */
function groupNeedsEvent(leaves: FilterExpression[], leaf: EventPredicateCompiler): Fragment | null {
  const preds: Fragment[] = [];
  for (const e of leaves) {
    if (!e.eventFilter && !e.dimensionOrMetricFilter) return null;
    try {
      preds.push(leaf.visitExpression(e));
    } catch (err) {
      if (err instanceof NotEventLevelError) return null;
      throw err;
    }
  }
  return or(preds);
}

export function candidateConditions(
  def: AudienceDefinition,
  leaf: EventPredicateCompiler,
  dialect: SqlDialect,
): Fragment[] {
  const out: Fragment[] = [];
  for (const clause of def.filterClauses) {
    if (clause.clauseType !== 'INCLUDE') continue;
    for (const part of clauseParts(clause)) {
      for (const group of groupsOf(part.expression)) {
        const need = groupNeedsEvent(group, leaf);
        if (need) out.push(dialect.boolOr(need));
      }
    }
  }
  return out;
}

export function compileCandidateEvents(
  def: AudienceDefinition,
  ctx: QueryContext,
  dialect: SqlDialect,
): Fragment {
  const leaf = new EventPredicateCompiler(dialect);
  const needs = candidateConditions(def, leaf, dialect);
  const events = eventWindow(ctx, ALL_COLUMNS);
  if (needs.length === 0) return sql`${events} ORDER BY user_pseudo_id, event_timestamp, ingest_seq`;
  // Two scans rather than one shared CTE: DuckDB would materialise a CTE used twice, and these
  // rows are wide (JSON columns); the candidate scan reads only the columns its predicates need.
  return sql`WITH cand AS (${eventWindow(ctx, sql`user_pseudo_id`)} GROUP BY user_pseudo_id HAVING ${and(needs)})
${events} AND user_pseudo_id IN (SELECT user_pseudo_id FROM cand) ORDER BY user_pseudo_id, event_timestamp, ingest_seq`;
}

// Small read-only helpers over the normalised AST, shared by the planner and the compilers.

import type { FilterClause, FilterExpression, FilterScope } from '../../domain/audience.ts';

/** The OR-groups of a CNF top level (andGroup of orGroups), each as its list of leaves. */
export function groupsOf(e: FilterExpression): FilterExpression[][] {
  return (e.andGroup?.filterExpressions ?? [e]).map((g) => g.orGroup?.filterExpressions ?? [g]);
}

/** Every filter expression a clause evaluates, with the scope it is evaluated under. */
export function clauseParts(c: FilterClause): { scope: FilterScope; expression: FilterExpression }[] {
  if (c.simpleFilter) return [{ scope: c.simpleFilter.scope, expression: c.simpleFilter.filterExpression }];
  return (c.sequenceFilter?.sequenceSteps ?? []).map((s) => ({
    scope: s.scope,
    expression: s.filterExpression,
  }));
}

export const SCOPE_RANK: Record<FilterScope, number> = {
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 0,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 1,
  AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 2,
};

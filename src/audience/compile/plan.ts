// Which path evaluates an audience. 'sql': one set-based statement returns the members, either
// the closed forms of static conditions (members-sql.ts, the cheapest) or the per-event state of
// the fold as window aggregates (events-sql.ts). 'hybrid' (pre-filter in SQL, then the reference
// evaluator's per-user fold) is what a dialect falls back to when it cannot spell a construct
// (ClickHouse 18.16: item leaves); on DuckDB every
// audience of the grammar plans 'sql' (docs/audiences.md §8).

import type {
  AudienceDefinition,
  EvaluationConfig,
  FilterClause,
  FilterExpression,
  FilterScope,
  SequenceFilter,
} from '../../domain/audience.ts';
import { resolveField } from '../fields.ts';
import { eventStateUnsupported } from './events-sql.ts';
import { eventCountLeaf, numericValue } from './leaves.ts';
import { countThreshold } from './members-sql.ts';
import { groupsOf } from './walk.ts';

export type AudiencePlan = 'sql' | 'hybrid';

const ACROSS: FilterScope = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

/** Judged on one event by a column, param, user property, derived value or its items. */
function isEventLevelField(fieldName: string, context: 'condition' | 'eventParameter'): boolean {
  const ref = resolveField(fieldName, context);
  return ref !== null && ref.kind === 'dimension';
}

/** An eventFilter whose parameter leaves are all event-level and which has no eventCount leaf. */
function isEventLevelEventFilter(e: FilterExpression): boolean {
  const f = e.eventFilter;
  if (!f || eventCountLeaf(f)) return false;
  return (f.eventParameterFilterExpression?.andGroup?.filterExpressions ?? []).every((p) => {
    const leaf = p.dimensionOrMetricFilter ?? p.notExpression?.dimensionOrMetricFilter;
    return leaf !== undefined && isEventLevelField(leaf.fieldName, 'eventParameter');
  });
}

/** A leaf judged on one event; across all sessions it must also be static (true once seen). */
function isStaticEventLeaf(e: FilterExpression, scope: FilterScope): boolean {
  if (e.eventFilter) return isEventLevelEventFilter(e);
  const leaf = e.dimensionOrMetricFilter ?? e.notExpression?.dimensionOrMetricFilter;
  // A metric within one event is the metric of {e} (All Users: eventCount > 0).
  if (
    leaf &&
    scope === 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT' &&
    resolveField(leaf.fieldName, 'condition')?.kind === 'metric'
  )
    return true;
  if (!leaf || !isEventLevelField(leaf.fieldName, 'condition')) return false;
  // Across all sessions only static leaves: "some event so far matched", with or without N (D10).
  return scope !== ACROSS || leaf.atAnyPointInTime;
}

/** `eventCount > x` (x >= 0) over the whole window: monotone, so static and dynamic agree. */
function isGrowingCount(e: FilterExpression): boolean {
  const count = e.eventFilter && eventCountLeaf(e.eventFilter);
  if (!count) return false;
  const top = e.eventFilter!.eventParameterFilterExpression!.andGroup!.filterExpressions;
  const plain = top.some((x) => x.dimensionOrMetricFilter === count);
  return (
    plain &&
    count.numericFilter?.operation === 'GREATER_THAN' &&
    count.inAnyNDayPeriod === undefined &&
    countThreshold(numericValue(count.numericFilter.value)) >= 1
  );
}

function isSqlSimple(c: FilterClause): boolean {
  const f = c.simpleFilter!;
  return groupsOf(f.filterExpression).every((g) =>
    g.every((e) => isStaticEventLeaf(e, f.scope) || (f.scope === ACROSS && isGrowingCount(e))),
  );
}

/**
 * Sequences (sequence-sql.ts): every step. A step over one event judges each leaf on the event (a
 * metric is the metric of {e}, an eventCount counts the event when it has the name, a parameter
 * leaf of an event filter is judged on the event); a step over a range judges event-level leaves
 * per event (D11: their time flags are ignored) and aggregates metrics and eventCount over the
 * range by pairs of anchors and later events (sequence-pairs.ts), which a dialect without them
 * refuses (DialectUnsupportedError: the hybrid plan there). `config` is no longer needed to decide.
 */
function isSqlSequence(s: SequenceFilter, _config?: EvaluationConfig): boolean {
  const EVENT: FilterScope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
  return s.sequenceSteps.every((st) => {
    if (st.scope !== EVENT) return true;
    return groupsOf(st.filterExpression).every((g) =>
      g.every((e) => isStaticEventLeaf(e, EVENT) || e.eventFilter !== undefined),
    );
  });
}

export function isSqlClause(c: FilterClause, config?: EvaluationConfig): boolean {
  if (c.sequenceFilter) return isSqlSequence(c.sequenceFilter, config);
  return c.simpleFilter !== undefined && isSqlSimple(c);
}

/** Static conditions with closed forms (members-sql.ts). */
export function isClosedFormAudience(def: AudienceDefinition, config?: EvaluationConfig): boolean {
  for (const c of def.filterClauses) {
    if (c.clauseType === 'EXCLUDE' && def.exclusionDurationMode !== 'EXCLUDE_PERMANENTLY') return false;
    if (!isSqlClause(c, config)) return false;
  }
  return true;
}

/** The plan for `def`; `config` (the evaluation's) lets a few sequence shapes into SQL (isSqlSequence). */
export function planAudience(def: AudienceDefinition, config?: EvaluationConfig): AudiencePlan {
  if (isClosedFormAudience(def, config)) return 'sql';
  const sequencesOk = def.filterClauses.every(
    (c) => !c.sequenceFilter || isSqlSequence(c.sequenceFilter, config),
  );
  return sequencesOk && eventStateUnsupported(def) === null ? 'sql' : 'hybrid';
}

/**
 * An audience whose members are exactly the users with an event in the membership window: one
 * INCLUDE clause within one event whose only leaf is `eventCount > x` with x < 1 (true on every
 * event, so every event qualifies), as the built-in All Users. A backend that keeps the last event
 * time per device answers it without scanning the events (SnapshotStore.usesDeviceSummary).
 */
export function isAnyEventAudience(def: AudienceDefinition): boolean {
  const [c, ...rest] = def.filterClauses;
  const f = c?.simpleFilter;
  if (!f || rest.length > 0 || c.clauseType !== 'INCLUDE') return false;
  if (f.scope !== 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT') return false;
  const groups = groupsOf(f.filterExpression);
  const leaf =
    groups.length === 1 && groups[0]!.length === 1 ? groups[0]![0]!.dimensionOrMetricFilter : undefined;
  return (
    leaf?.fieldName === 'eventCount' &&
    leaf.inAnyNDayPeriod === undefined &&
    leaf.numericFilter?.operation === 'GREATER_THAN' &&
    numericValue(leaf.numericFilter.value) < 1
  );
}

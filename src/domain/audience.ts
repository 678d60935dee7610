// The GA4 Admin API v1alpha Audience resource (docs/audiences.md §1), in the normalised
// form that validation produces: enum values as names, NumericValue as a number or bigint,
// Durations as whole microseconds. The evaluator and the SQL compiler consume only this form.

export type FilterScope =
  | 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT'
  | 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION'
  | 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

export type ClauseType = 'INCLUDE' | 'EXCLUDE';
export type ExclusionDurationMode = 'EXCLUDE_TEMPORARILY' | 'EXCLUDE_PERMANENTLY';
export type LogCondition = 'AUDIENCE_JOINED' | 'AUDIENCE_MEMBERSHIP_RENEWED';
export type MatchType = 'EXACT' | 'BEGINS_WITH' | 'ENDS_WITH' | 'CONTAINS' | 'FULL_REGEXP';
export type NumericOperation = 'EQUAL' | 'LESS_THAN' | 'GREATER_THAN';

/** NumericValue: int64Value (bigint) or doubleValue (number). */
export type NumericValue = { int64Value: bigint } | { doubleValue: number };

export type StringFilter = { matchType: MatchType; value: string; caseSensitive: boolean };
export type InListFilter = { values: string[]; caseSensitive: boolean };
export type NumericFilter = { operation: NumericOperation; value: NumericValue };
export type BetweenFilter = { fromValue: NumericValue; toValue: NumericValue };

export interface DimensionOrMetricFilter {
  fieldName: string;
  stringFilter?: StringFilter;
  inListFilter?: InListFilter;
  numericFilter?: NumericFilter;
  betweenFilter?: BetweenFilter;
  atAnyPointInTime: boolean;
  /** 1..60 days, or undefined for the whole window. */
  inAnyNDayPeriod?: number;
}

export interface EventFilter {
  eventName: string;
  /** A single andGroup of leaves (dimensionOrMetricFilter or notExpression of one). */
  eventParameterFilterExpression?: FilterExpression;
}

/** Exactly one arm is set. */
export interface FilterExpression {
  andGroup?: { filterExpressions: FilterExpression[] };
  orGroup?: { filterExpressions: FilterExpression[] };
  notExpression?: FilterExpression;
  dimensionOrMetricFilter?: DimensionOrMetricFilter;
  eventFilter?: EventFilter;
}

export interface SimpleFilter {
  scope: FilterScope;
  filterExpression: FilterExpression;
}

export interface SequenceStep {
  scope: FilterScope;
  immediatelyFollows: boolean;
  /** µs; undefined means no limit. */
  constraintDurationMicros?: bigint;
  filterExpression: FilterExpression;
}

export interface SequenceFilter {
  scope: FilterScope;
  /** µs; undefined means no limit. */
  sequenceMaximumDurationMicros?: bigint;
  sequenceSteps: SequenceStep[];
}

export interface FilterClause {
  clauseType: ClauseType;
  simpleFilter?: SimpleFilter;
  sequenceFilter?: SequenceFilter;
}

export interface EventTrigger {
  eventName: string;
  logCondition: LogCondition;
}

export interface AudienceDefinition {
  displayName: string;
  description: string;
  membershipDurationDays: number;
  eventTrigger?: EventTrigger;
  /** Defaults to EXCLUDE_TEMPORARILY when EXCLUDE clauses exist. */
  exclusionDurationMode: ExclusionDurationMode;
  /**
   * True when the request set exclusionDurationMode itself: the resource then echoes it even
   * without EXCLUDE clauses (where it has no effect), so a client reads back what it sent.
   */
  exclusionDurationModeSet?: boolean;
  filterClauses: FilterClause[];
}

/** Evaluation settings that are not part of the resource. */
export interface EvaluationConfig {
  /** µs since epoch; the audience's createTime. */
  createTimeMicros: bigint;
  /** Days of history before createTime that count; null = full history. Default 30. */
  backfillDays: number | null;
  /** IANA time zone of the property, for day boundaries (inAnyNDayPeriod). */
  timeZone: string;
  /** Event names that do not break `immediatelyFollows` adjacency. Default empty. */
  ignoreEventNamesForAdjacency: string[];
}

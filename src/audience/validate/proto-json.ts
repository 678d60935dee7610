// The Audience message in proto3 JSON: enum names and numbers, and each message's field list
// (lowerCamel, proto order), from which a field's snake_case path derives.

import type { FilterScope } from '../../domain/audience.ts';

// ---------------------------------------------------------------------------------------------
// Enums: names and numbers.

export const SCOPES: Record<string, number> = {
  AUDIENCE_FILTER_SCOPE_UNSPECIFIED: 0,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 1,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 2,
  AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 3,
};
export const CLAUSE_TYPES: Record<string, number> = {
  AUDIENCE_CLAUSE_TYPE_UNSPECIFIED: 0,
  INCLUDE: 1,
  EXCLUDE: 2,
};
export const EXCLUSION_MODES: Record<string, number> = {
  AUDIENCE_EXCLUSION_DURATION_MODE_UNSPECIFIED: 0,
  EXCLUDE_TEMPORARILY: 1,
  EXCLUDE_PERMANENTLY: 2,
};
export const LOG_CONDITIONS: Record<string, number> = {
  LOG_CONDITION_UNSPECIFIED: 0,
  AUDIENCE_JOINED: 1,
  AUDIENCE_MEMBERSHIP_RENEWED: 2,
};
export const MATCH_TYPES: Record<string, number> = {
  MATCH_TYPE_UNSPECIFIED: 0,
  EXACT: 1,
  BEGINS_WITH: 2,
  ENDS_WITH: 3,
  CONTAINS: 4,
  FULL_REGEXP: 5,
};
export const OPERATIONS: Record<string, number> = {
  OPERATION_UNSPECIFIED: 0,
  EQUAL: 1,
  LESS_THAN: 2,
  GREATER_THAN: 4,
};

export const SCOPE_RANK: Record<FilterScope, number> = {
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 1,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 2,
  AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 3,
};

// ---------------------------------------------------------------------------------------------
// Message field lists (lowerCamel, proto order). The snake_case path of a field is derived.

export const AUDIENCE_FIELDS = [
  'name',
  'displayName',
  'description',
  'membershipDurationDays',
  'adsPersonalizationEnabled',
  'eventTrigger',
  'exclusionDurationMode',
  'filterClauses',
  'createTime',
] as const;
export const TRIGGER_FIELDS = ['eventName', 'logCondition'] as const;
export const CLAUSE_FIELDS = ['clauseType', 'simpleFilter', 'sequenceFilter'] as const;
export const SIMPLE_FIELDS = ['scope', 'filterExpression'] as const;
export const SEQUENCE_FIELDS = ['scope', 'sequenceMaximumDuration', 'sequenceSteps'] as const;
export const STEP_FIELDS = ['scope', 'immediatelyFollows', 'constraintDuration', 'filterExpression'] as const;
export const EXPR_FIELDS = [
  'andGroup',
  'orGroup',
  'notExpression',
  'dimensionOrMetricFilter',
  'eventFilter',
] as const;
export const LIST_FIELDS = ['filterExpressions'] as const;
export const EVENT_FILTER_FIELDS = ['eventName', 'eventParameterFilterExpression'] as const;
export const DIM_FIELDS = [
  'fieldName',
  'stringFilter',
  'inListFilter',
  'numericFilter',
  'betweenFilter',
  'atAnyPointInTime',
  'inAnyNDayPeriod',
] as const;
export const STRING_FILTER_FIELDS = ['matchType', 'value', 'caseSensitive'] as const;
export const IN_LIST_FIELDS = ['values', 'caseSensitive'] as const;
export const NUMERIC_FILTER_FIELDS = ['operation', 'value'] as const;
export const BETWEEN_FIELDS = ['fromValue', 'toValue'] as const;
export const NUMERIC_VALUE_FIELDS = ['int64Value', 'doubleValue'] as const;
export const DURATION_FIELDS = ['seconds', 'nanos'] as const;

export type ExprArm = (typeof EXPR_FIELDS)[number];

/** lowerCamel → snake_case (proto field name). `inAnyNDayPeriod` → `in_any_n_day_period`. */
export function toSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** snake_case → lowerCamel. */
export function toCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

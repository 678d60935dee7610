// Parsing an Audience (CreateAudience body) into an AudienceDefinition, collecting every violation.

import type {
  AudienceDefinition,
  BetweenFilter,
  ClauseType,
  DimensionOrMetricFilter,
  EventFilter,
  EventTrigger,
  ExclusionDurationMode,
  FilterClause,
  FilterExpression,
  FilterScope,
  InListFilter,
  LogCondition,
  MatchType,
  NumericFilter,
  NumericOperation,
  NumericValue,
  SequenceFilter,
  SequenceStep,
  SimpleFilter,
  StringFilter,
} from '../../domain/audience.ts';
import { resolveField } from '../fields.ts';
import { LIMITS } from './limits.ts';
import {
  SCOPES,
  CLAUSE_TYPES,
  EXCLUSION_MODES,
  LOG_CONDITIONS,
  MATCH_TYPES,
  OPERATIONS,
  SCOPE_RANK,
  AUDIENCE_FIELDS,
  TRIGGER_FIELDS,
  CLAUSE_FIELDS,
  SIMPLE_FIELDS,
  SEQUENCE_FIELDS,
  STEP_FIELDS,
  EXPR_FIELDS,
  LIST_FIELDS,
  EVENT_FILTER_FIELDS,
  DIM_FIELDS,
  STRING_FILTER_FIELDS,
  IN_LIST_FIELDS,
  NUMERIC_FILTER_FIELDS,
  BETWEEN_FIELDS,
  NUMERIC_VALUE_FIELDS,
  type ExprArm,
  toSnake,
} from './proto-json.ts';
import {
  Collector,
  collecting,
  readMessage,
  join,
  readString,
  readBool,
  readInt32,
  readEnum,
  required,
  readArray,
  readInt64,
  readDouble,
  readDuration,
} from './json-readers.ts';
import {
  RESERVED_EVENT_NAMES,
  RESERVED_EVENT_PREFIXES,
  checkEventName,
  re2Error,
  checkTriggerNotReferenced,
} from './rules.ts';

// ---------------------------------------------------------------------------------------------
// Audience parsing.

/**
 * Parses and validates an Audience in proto3 JSON (CreateAudience body). Throws INVALID_ARGUMENT
 * listing every violation; returns the normalised definition.
 */
export function parseAudience(input: unknown): AudienceDefinition {
  return collecting((c) => {
    const def = readAudience(c, input, '');
    if (def) checkTriggerNotReferenced(c, def, def.eventTrigger?.eventName, [def]);
    return def as AudienceDefinition;
  });
}

function readAudience(c: Collector, input: unknown, path: string): AudienceDefinition | undefined {
  const a = readMessage(c, input, path, AUDIENCE_FIELDS);
  if (!a) return undefined;
  // Output-only fields are ignored (rule 5); their types are not checked either.
  const displayName = readString(c, a.displayName, join(path, 'display_name'), LIMITS.maxDisplayNameLength);
  if (required(c, displayName, join(path, 'display_name')) && displayName.trim() === '') {
    c.add(join(path, 'display_name'), 'must not be blank');
  }
  const description = readString(c, a.description, join(path, 'description'), LIMITS.maxDescriptionLength);
  required(c, description, join(path, 'description'));

  const mddPath = join(path, 'membership_duration_days');
  const membershipDurationDays = readInt32(c, a.membershipDurationDays, mddPath);
  if (required(c, membershipDurationDays, mddPath)) {
    if (membershipDurationDays < 1 || membershipDurationDays > LIMITS.maxMembershipDurationDays) {
      c.add(
        mddPath,
        `must be between 1 and ${LIMITS.maxMembershipDurationDays} (got ${membershipDurationDays})`,
      );
    }
  }

  let eventTrigger: EventTrigger | undefined;
  if (a.eventTrigger !== undefined)
    eventTrigger = readTrigger(c, a.eventTrigger, join(path, 'event_trigger'));

  const modeGiven = readEnum(
    c,
    a.exclusionDurationMode,
    join(path, 'exclusion_duration_mode'),
    EXCLUSION_MODES,
  ) as ExclusionDurationMode | undefined;
  const exclusionDurationMode = modeGiven ?? 'EXCLUDE_TEMPORARILY'; // rule 15

  const fcPath = join(path, 'filter_clauses');
  const rawClauses = readArray(c, a.filterClauses, fcPath, LIMITS.maxFilterClauses);
  const filterClauses: FilterClause[] = [];
  if (a.filterClauses === undefined || rawClauses?.length === 0)
    c.add(fcPath, 'at least one filter clause is required');
  rawClauses?.forEach((raw, i) => {
    const clause = readClause(c, raw, `${fcPath}[${i}]`);
    if (clause) filterClauses.push(clause);
  });
  if (rawClauses && filterClauses.length === rawClauses.length && filterClauses.length > 0) {
    if (!filterClauses.some((f) => f.clauseType === 'INCLUDE'))
      c.add(fcPath, 'at least one INCLUDE clause is required'); // rule 8
  }

  if (!c.ok) return undefined;
  const def: AudienceDefinition = {
    displayName: displayName!,
    description: description!,
    membershipDurationDays: membershipDurationDays!,
    exclusionDurationMode,
    filterClauses,
  };
  if (modeGiven !== undefined) def.exclusionDurationModeSet = true;
  if (eventTrigger) def.eventTrigger = eventTrigger;
  return def;
}

function readTrigger(c: Collector, v: unknown, path: string): EventTrigger | undefined {
  const t = readMessage(c, v, path, TRIGGER_FIELDS);
  if (!t) return undefined;
  const namePath = join(path, 'event_name');
  const eventName = readString(c, t.eventName, namePath, 1000);
  let nameOk = false;
  if (required(c, eventName, namePath) && checkEventName(c, eventName, namePath)) {
    if (RESERVED_EVENT_NAMES.has(eventName)) c.add(namePath, `"${eventName}" is a reserved event name`);
    else if (RESERVED_EVENT_PREFIXES.some((p) => eventName.toLowerCase().startsWith(p))) {
      c.add(namePath, `"${eventName}" uses a reserved prefix (${RESERVED_EVENT_PREFIXES.join(', ')})`);
    } else nameOk = true;
  }
  const logCondition = readRequiredEnum<LogCondition>(
    c,
    t.logCondition,
    join(path, 'log_condition'),
    LOG_CONDITIONS,
  );
  if (!nameOk || logCondition === undefined) return undefined;
  return { eventName: eventName!, logCondition };
}

function requiredEnumMessage(v: unknown): string {
  return v === undefined ? 'is required' : 'is required (the UNSPECIFIED value is not allowed)';
}

/** A required enum: absent, unknown, or UNSPECIFIED are violations (rules 1 and 7). */
function readRequiredEnum<T extends string>(
  c: Collector,
  v: unknown,
  path: string,
  values: Record<string, number>,
): T | undefined {
  const before = c.violations.length;
  const name = readEnum(c, v, path, values);
  if (name === undefined && c.violations.length === before) c.add(path, requiredEnumMessage(v));
  return name as T | undefined;
}

function readClause(c: Collector, v: unknown, path: string): FilterClause | undefined {
  const f = readMessage(c, v, path, CLAUSE_FIELDS);
  if (!f) return undefined;
  const clauseType = readRequiredEnum<ClauseType>(c, f.clauseType, join(path, 'clause_type'), CLAUSE_TYPES);
  const hasSimple = f.simpleFilter !== undefined;
  const hasSequence = f.sequenceFilter !== undefined;
  if (hasSimple && hasSequence) {
    c.add(path, 'must set exactly one of simple_filter or sequence_filter (got both)');
    return undefined;
  }
  if (!hasSimple && !hasSequence) {
    c.add(path, 'must set exactly one of simple_filter or sequence_filter');
    return undefined;
  }
  let simpleFilter: SimpleFilter | undefined;
  let sequenceFilter: SequenceFilter | undefined;
  if (hasSimple) simpleFilter = readSimple(c, f.simpleFilter, join(path, 'simple_filter'));
  else sequenceFilter = readSequence(c, f.sequenceFilter, join(path, 'sequence_filter'));
  if (!clauseType || (!simpleFilter && !sequenceFilter)) return undefined;
  return simpleFilter ? { clauseType, simpleFilter } : { clauseType, sequenceFilter: sequenceFilter! };
}

function readSimple(c: Collector, v: unknown, path: string): SimpleFilter | undefined {
  const s = readMessage(c, v, path, SIMPLE_FIELDS);
  if (!s) return undefined;
  const scope = readRequiredEnum<FilterScope>(c, s.scope, join(path, 'scope'), SCOPES);
  const fePath = join(path, 'filter_expression');
  const filterExpression = required(c, s.filterExpression, fePath)
    ? readExpr(c, s.filterExpression, fePath, 'top', scope, 0)
    : undefined;
  if (!scope || !filterExpression) return undefined;
  return { scope, filterExpression };
}

function readSequence(c: Collector, v: unknown, path: string): SequenceFilter | undefined {
  const s = readMessage(c, v, path, SEQUENCE_FIELDS);
  if (!s) return undefined;
  const scopePath = join(path, 'scope');
  const scope = readRequiredEnum<FilterScope>(c, s.scope, scopePath, SCOPES);
  if (scope === 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT') {
    c.add(
      scopePath,
      'a sequence cannot have scope AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT (it needs two or more events)',
    );
  }
  const sequenceMaximumDurationMicros = readDuration(
    c,
    s.sequenceMaximumDuration,
    join(path, 'sequence_maximum_duration'),
  );
  const stepsPath = join(path, 'sequence_steps');
  const rawSteps = readArray(c, s.sequenceSteps, stepsPath, LIMITS.maxSequenceSteps);
  const sequenceSteps: SequenceStep[] = [];
  if (s.sequenceSteps === undefined || rawSteps?.length === 0)
    c.add(stepsPath, 'at least one sequence step is required');
  rawSteps?.forEach((raw, i) => {
    const step = readStep(c, raw, `${stepsPath}[${i}]`, scope);
    if (step) sequenceSteps.push(step);
  });
  if (!scope || !rawSteps || sequenceSteps.length !== rawSteps.length || sequenceSteps.length === 0)
    return undefined;
  const seq: SequenceFilter = { scope, sequenceSteps };
  if (sequenceMaximumDurationMicros !== undefined)
    seq.sequenceMaximumDurationMicros = sequenceMaximumDurationMicros;
  return seq;
}

function readStep(
  c: Collector,
  v: unknown,
  path: string,
  sequenceScope: FilterScope | undefined,
): SequenceStep | undefined {
  const s = readMessage(c, v, path, STEP_FIELDS);
  if (!s) return undefined;
  const scopePath = join(path, 'scope');
  const scope = readRequiredEnum<FilterScope>(c, s.scope, scopePath, SCOPES);
  if (scope && sequenceScope && SCOPE_RANK[scope] > SCOPE_RANK[sequenceScope]) {
    c.add(scopePath, `a step's scope may not be wider than the sequence's scope (${sequenceScope})`); // rule 11
  }
  const immediatelyFollows = readBool(c, s.immediatelyFollows, join(path, 'immediately_follows'));
  const constraintDurationMicros = readDuration(c, s.constraintDuration, join(path, 'constraint_duration'));
  const fePath = join(path, 'filter_expression');
  const filterExpression = required(c, s.filterExpression, fePath)
    ? readExpr(c, s.filterExpression, fePath, 'top', scope, 0) // rule 12
    : undefined;
  if (!scope || !filterExpression) return undefined;
  const step: SequenceStep = { scope, immediatelyFollows, filterExpression };
  if (constraintDurationMicros !== undefined) step.constraintDurationMicros = constraintDurationMicros;
  return step;
}

/**
 * Where an expression sits; decides which arms are allowed:
 * top: and_group; and: or_group; or: leaf or not; not: dimension_or_metric_filter;
 * paramTop: and_group; paramAnd: dimension_or_metric_filter or not; paramNot: dimension_or_metric_filter.
 */
type ExprPlace = 'top' | 'and' | 'or' | 'not' | 'paramTop' | 'paramAnd' | 'paramNot';

const ALLOWED: Record<ExprPlace, readonly ExprArm[]> = {
  top: ['andGroup'],
  and: ['orGroup'],
  or: ['notExpression', 'dimensionOrMetricFilter', 'eventFilter'],
  not: ['dimensionOrMetricFilter'],
  paramTop: ['andGroup'],
  paramAnd: ['dimensionOrMetricFilter', 'notExpression'],
  paramNot: ['dimensionOrMetricFilter'],
};

function shapeMessage(place: ExprPlace, got: ExprArm): string {
  const g = toSnake(got);
  switch (place) {
    case 'top':
      return `must be an and_group at the top level (got ${g})`;
    case 'and':
      return `a child of and_group must be an or_group (got ${g})`;
    case 'or':
      return `a child of or_group must be a dimension_or_metric_filter, event_filter or not_expression (got ${g})`;
    case 'not':
      return `not_expression may contain only a dimension_or_metric_filter (got ${g})`;
    case 'paramTop':
      return `event_parameter_filter_expression must be a single and_group of dimension_or_metric_filter or not_expression leaves (got ${g})`;
    case 'paramAnd':
      return `a child of an event parameter and_group must be a dimension_or_metric_filter or not_expression (got ${g})`;
    case 'paramNot':
      return `not_expression may contain only a dimension_or_metric_filter (got ${g})`;
  }
}

function readExpr(
  c: Collector,
  v: unknown,
  path: string,
  place: ExprPlace,
  scope: FilterScope | undefined,
  depth: number,
): FilterExpression | undefined {
  if (depth > LIMITS.maxExpressionDepth) {
    c.add(path, `filter expressions may be nested at most ${LIMITS.maxExpressionDepth} deep`);
    return undefined;
  }
  if (++c.nodes > LIMITS.maxExpressionNodes) {
    if (c.nodes === LIMITS.maxExpressionNodes + 1) {
      c.add(path, `an audience may have at most ${LIMITS.maxExpressionNodes} filter expressions in total`);
    }
    return undefined;
  }
  const e = readMessage(c, v, path, EXPR_FIELDS);
  if (!e) return undefined;
  const arms = EXPR_FIELDS.filter((k) => e[k] !== undefined);
  if (arms.length !== 1) {
    c.add(
      path,
      arms.length === 0
        ? 'must set exactly one of and_group, or_group, not_expression, dimension_or_metric_filter, event_filter'
        : `must set exactly one of and_group, or_group, not_expression, dimension_or_metric_filter, event_filter (got ${arms.map(toSnake).join(', ')})`,
    );
    return undefined;
  }
  const arm = arms[0]!;
  if (!ALLOWED[place].includes(arm)) {
    c.add(path, shapeMessage(place, arm));
    return undefined;
  }
  const armPath = join(path, toSnake(arm));
  const value = e[arm];
  const param = place === 'paramTop' || place === 'paramAnd' || place === 'paramNot';
  switch (arm) {
    case 'andGroup':
    case 'orGroup': {
      const g = readMessage(c, value, armPath, LIST_FIELDS);
      if (!g) return undefined;
      const listPath = join(armPath, 'filter_expressions');
      const raw = readArray(c, g.filterExpressions, listPath, LIMITS.maxExpressionsPerGroup);
      if (raw === undefined || raw.length === 0) {
        if (raw !== undefined || g.filterExpressions === undefined) c.add(listPath, 'must not be empty');
        return undefined;
      }
      const childPlace: ExprPlace = arm === 'orGroup' ? 'or' : param ? 'paramAnd' : 'and';
      const children: FilterExpression[] = [];
      raw.forEach((child, i) => {
        const x = readExpr(c, child, `${listPath}[${i}]`, childPlace, scope, depth + 1);
        if (x) children.push(x);
      });
      if (children.length !== raw.length) return undefined;
      if (param) checkEventCountLeaves(c, children, listPath);
      return arm === 'andGroup'
        ? { andGroup: { filterExpressions: children } }
        : { orGroup: { filterExpressions: children } };
    }
    case 'notExpression': {
      const inner = readExpr(c, value, armPath, param ? 'paramNot' : 'not', scope, depth + 1);
      return inner ? { notExpression: inner } : undefined;
    }
    case 'dimensionOrMetricFilter': {
      const d = readDimFilter(c, value, armPath, param ? 'eventParameter' : 'condition', scope);
      return d ? { dimensionOrMetricFilter: d } : undefined;
    }
    case 'eventFilter': {
      const f = readEventFilter(c, value, armPath, scope, depth);
      return f ? { eventFilter: f } : undefined;
    }
  }
}

/** audex decision: at most one eventCount leaf (optionally under not_expression) per event parameter expression. */
function checkEventCountLeaves(c: Collector, children: FilterExpression[], listPath: string): void {
  const idx: number[] = [];
  children.forEach((ch, i) => {
    const leaf = ch.dimensionOrMetricFilter ?? ch.notExpression?.dimensionOrMetricFilter;
    if (leaf?.fieldName === 'eventCount') idx.push(i);
  });
  if (idx.length > 1) {
    c.add(
      `${listPath}[${idx[1]}]`,
      'an event parameter expression may contain at most one eventCount filter',
    );
  }
}

function readEventFilter(
  c: Collector,
  v: unknown,
  path: string,
  scope: FilterScope | undefined,
  depth: number,
): EventFilter | undefined {
  const f = readMessage(c, v, path, EVENT_FILTER_FIELDS);
  if (!f) return undefined;
  const namePath = join(path, 'event_name');
  const eventName = readString(c, f.eventName, namePath, 1000);
  const nameOk = required(c, eventName, namePath) && checkEventName(c, eventName, namePath);
  let params: FilterExpression | undefined;
  const pPath = join(path, 'event_parameter_filter_expression');
  if (f.eventParameterFilterExpression !== undefined) {
    params = readExpr(c, f.eventParameterFilterExpression, pPath, 'paramTop', scope, depth + 1);
    if (!params) return undefined;
  }
  if (!nameOk) return undefined;
  const out: EventFilter = { eventName: eventName };
  if (params) out.eventParameterFilterExpression = params;
  return out;
}

function readDimFilter(
  c: Collector,
  v: unknown,
  path: string,
  context: 'condition' | 'eventParameter',
  scope: FilterScope | undefined,
): DimensionOrMetricFilter | undefined {
  const d = readMessage(c, v, path, DIM_FIELDS);
  if (!d) return undefined;
  const fnPath = join(path, 'field_name');
  const fieldName = readString(c, d.fieldName, fnPath, LIMITS.maxFieldNameLength);
  let kind: 'dimension' | 'metric' | undefined;
  if (required(c, fieldName, fnPath)) {
    const ref = resolveField(fieldName, context);
    if (!ref) {
      c.add(
        fnPath,
        context === 'eventParameter'
          ? `unknown field "${fieldName}": use an event parameter key, customEvent:<key>, an item field or eventCount`
          : `unknown field "${fieldName}": see the field registry in docs/audiences.md`,
      ); // rule 14
    } else if (ref.kind === 'metric' && context === 'eventParameter' && ref.metric !== 'eventCount') {
      c.add(
        fnPath,
        `the metric "${fieldName}" is not allowed in an event parameter expression (only eventCount is)`,
      );
    } else kind = ref.kind;
  }

  const arms = (['stringFilter', 'inListFilter', 'numericFilter', 'betweenFilter'] as const).filter(
    (k) => d[k] !== undefined,
  );
  if (arms.length !== 1) {
    c.add(
      path,
      `must set exactly one of string_filter, in_list_filter, numeric_filter, between_filter${
        arms.length > 1 ? ` (got ${arms.map(toSnake).join(', ')})` : ''
      }`,
    );
    return undefined;
  }
  const arm = arms[0]!;
  const armPath = join(path, toSnake(arm));
  if (kind === 'metric' && (arm === 'stringFilter' || arm === 'inListFilter')) {
    c.add(armPath, `the metric "${fieldName}" accepts only numeric_filter or between_filter`); // rule 14
  }

  const atPath = join(path, 'at_any_point_in_time');
  const atAnyPointInTime = readBool(c, d.atAnyPointInTime, atPath);
  const nPath = join(path, 'in_any_n_day_period');
  const inAnyNDayPeriod = readInt32(c, d.inAnyNDayPeriod, nPath);
  if (inAnyNDayPeriod !== undefined && (inAnyNDayPeriod < 1 || inAnyNDayPeriod > LIMITS.maxInAnyNDayPeriod)) {
    c.add(nPath, `must be between 1 and ${LIMITS.maxInAnyNDayPeriod} (got ${inAnyNDayPeriod})`); // rules 4, 10
  }
  const across = scope === undefined || scope === 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
  if (!across) {
    // rule 4
    if (atAnyPointInTime)
      c.add(atPath, `is allowed only under scope AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS (got ${scope})`);
    if (inAnyNDayPeriod !== undefined) {
      c.add(nPath, `is allowed only under scope AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS (got ${scope})`);
    }
  } else if (context === 'eventParameter' && fieldName !== undefined && fieldName !== 'eventCount') {
    // audex decision: a parameter is judged on its own event, so these have no meaning there.
    if (atAnyPointInTime)
      c.add(atPath, 'is allowed in an event parameter expression only on the eventCount filter');
    if (inAnyNDayPeriod !== undefined) {
      c.add(nPath, 'is allowed in an event parameter expression only on the eventCount filter');
    }
  }

  const out: DimensionOrMetricFilter = { fieldName: fieldName ?? '', atAnyPointInTime };
  if (inAnyNDayPeriod !== undefined) out.inAnyNDayPeriod = inAnyNDayPeriod;
  const before = c.violations.length;
  switch (arm) {
    case 'stringFilter': {
      const f = readStringFilter(c, d.stringFilter, armPath);
      if (f) out.stringFilter = f;
      break;
    }
    case 'inListFilter': {
      const f = readInListFilter(c, d.inListFilter, armPath);
      if (f) out.inListFilter = f;
      break;
    }
    case 'numericFilter': {
      const f = readNumericFilter(c, d.numericFilter, armPath);
      if (f) out.numericFilter = f;
      break;
    }
    case 'betweenFilter': {
      const f = readBetweenFilter(c, d.betweenFilter, armPath);
      if (f) out.betweenFilter = f;
      break;
    }
  }
  if (c.violations.length !== before || fieldName === undefined || kind === undefined) return undefined;
  return out;
}

function readStringFilter(c: Collector, v: unknown, path: string): StringFilter | undefined {
  const f = readMessage(c, v, path, STRING_FILTER_FIELDS);
  if (!f) return undefined;
  const matchType = readRequiredEnum<MatchType>(c, f.matchType, join(path, 'match_type'), MATCH_TYPES);
  const valuePath = join(path, 'value');
  // audex decision: "" is rejected (a proto3 string has no presence, so "" is "not set").
  const value = readString(c, f.value, valuePath, LIMITS.maxValueLength);
  const caseSensitive = readBool(c, f.caseSensitive, join(path, 'case_sensitive'));
  if (!required(c, value, valuePath) || !matchType) return undefined;
  if (matchType === 'FULL_REGEXP') {
    const err = re2Error(value);
    if (err !== null) {
      c.add(valuePath, `invalid RE2 regular expression: ${err}`); // rule 10
      return undefined;
    }
  }
  return { matchType, value, caseSensitive };
}

function readInListFilter(c: Collector, v: unknown, path: string): InListFilter | undefined {
  const f = readMessage(c, v, path, IN_LIST_FIELDS);
  if (!f) return undefined;
  const valuesPath = join(path, 'values');
  const raw = readArray(c, f.values, valuesPath, LIMITS.maxInListValues);
  const caseSensitive = readBool(c, f.caseSensitive, join(path, 'case_sensitive'));
  if (raw === undefined || raw.length === 0) {
    if (raw !== undefined || f.values === undefined) c.add(valuesPath, 'must contain at least one value');
    return undefined;
  }
  const values: string[] = [];
  const before = c.violations.length;
  raw.forEach((x, i) => {
    const p = `${valuesPath}[${i}]`;
    if (x === '' || x === null) {
      c.add(p, 'must not be empty'); // audex decision, as for string_filter.value
      return;
    }
    const s = readString(c, x, p, LIMITS.maxValueLength);
    if (s !== undefined) values.push(s);
  });
  if (c.violations.length !== before) return undefined;
  return { values, caseSensitive };
}

function readNumericValue(c: Collector, v: unknown, path: string): NumericValue | undefined {
  const n = readMessage(c, v, path, NUMERIC_VALUE_FIELDS);
  if (!n) return undefined;
  const hasInt = n.int64Value !== undefined;
  const hasDouble = n.doubleValue !== undefined;
  if (hasInt === hasDouble) {
    c.add(path, `must set exactly one of int64_value or double_value${hasInt ? ' (got both)' : ''}`); // rule 9
    return undefined;
  }
  if (hasInt) {
    const i = readInt64(c, n.int64Value, join(path, 'int64_value'));
    return i === undefined ? undefined : { int64Value: i };
  }
  const d = readDouble(c, n.doubleValue, join(path, 'double_value'));
  return d === undefined ? undefined : { doubleValue: d };
}

function readNumericFilter(c: Collector, v: unknown, path: string): NumericFilter | undefined {
  const f = readMessage(c, v, path, NUMERIC_FILTER_FIELDS);
  if (!f) return undefined;
  const operation = readRequiredEnum<NumericOperation>(c, f.operation, join(path, 'operation'), OPERATIONS);
  const valuePath = join(path, 'value');
  const value = required(c, f.value, valuePath) ? readNumericValue(c, f.value, valuePath) : undefined;
  if (!operation || !value) return undefined;
  return { operation, value };
}

function readBetweenFilter(c: Collector, v: unknown, path: string): BetweenFilter | undefined {
  const f = readMessage(c, v, path, BETWEEN_FIELDS);
  if (!f) return undefined;
  const fromPath = join(path, 'from_value');
  const toPath = join(path, 'to_value');
  const fromValue = required(c, f.fromValue, fromPath)
    ? readNumericValue(c, f.fromValue, fromPath)
    : undefined;
  const toValue = required(c, f.toValue, toPath) ? readNumericValue(c, f.toValue, toPath) : undefined;
  if (!fromValue || !toValue) return undefined;
  if (compareNumeric(fromValue, toValue) > 0) {
    c.add(path, 'from_value must be less than or equal to to_value'); // rule 9
    return undefined;
  }
  return { fromValue, toValue };
}

/** Exact comparison of two NumericValues (int64 against double without rounding the int64). */
export function compareNumeric(a: NumericValue, b: NumericValue): number {
  if ('int64Value' in a && 'int64Value' in b)
    return a.int64Value < b.int64Value ? -1 : a.int64Value > b.int64Value ? 1 : 0;
  if ('doubleValue' in a && 'doubleValue' in b) return Math.sign(a.doubleValue - b.doubleValue);
  const [i, d, sign] =
    'int64Value' in a
      ? [a.int64Value, (b as { doubleValue: number }).doubleValue, 1]
      : [(b as { int64Value: bigint }).int64Value, a.doubleValue, -1];
  // Compare i with d exactly: floor(d) is an integer double, so BigInt(floor(d)) is exact.
  const fl = Math.floor(d);
  const fb = BigInt(fl);
  let r: number;
  if (i < fb) r = -1;
  else if (i > fb) r = 1;
  else r = d === fl ? 0 : -1;
  return r * sign;
}

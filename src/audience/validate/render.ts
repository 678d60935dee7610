// Rendering an AudienceDefinition as proto3 JSON (the Audience resource the API returns).

import type {
  AudienceDefinition,
  FilterClause,
  FilterExpression,
  NumericValue,
} from '../../domain/audience.ts';
import {
  SCOPES,
  CLAUSE_TYPES,
  EXCLUSION_MODES,
  LOG_CONDITIONS,
  MATCH_TYPES,
  OPERATIONS,
} from './proto-json.ts';

// ---------------------------------------------------------------------------------------------
// Rendering (proto3 JSON).

export interface AudienceMeta {
  /** `properties/{p}/audiences/{a}`. */
  name: string;
  /** RFC 3339. */
  createTime: string;
  adsPersonalizationEnabled: boolean;
  /** Built-in audiences are rendered without filterClauses, as GA does. */
  hideFilterClauses?: boolean;
}

/** µs → proto3 JSON Duration ("1800s", "1.5s", "0.000001s"). */
export function formatDuration(micros: bigint): string {
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const s = abs / 1_000_000n;
  const frac = abs % 1_000_000n;
  const fracText = frac === 0n ? '' : `.${frac.toString().padStart(6, '0').replace(/0+$/, '')}`;
  return `${neg ? '-' : ''}${s}${fracText}s`;
}

/**
 * The Audience as proto3 JSON: lowerCamel names, enums as names (or numbers when `numericEnums`,
 * as for `$alt=json;enum-encoding=int`), int64 as strings, defaults omitted (false, "", 0, UNSPECIFIED).
 * exclusionDurationMode is omitted when it is the default EXCLUDE_TEMPORARILY, there is no EXCLUDE
 * clause (it is ignored then) and the request did not set it.
 */
export function audienceToJson(
  def: AudienceDefinition,
  meta: AudienceMeta,
  numericEnums: boolean,
): Record<string, unknown> {
  const en = (values: Record<string, number>, name: string): string | number =>
    numericEnums ? values[name]! : name;
  const out: Record<string, unknown> = {};
  if (meta.name) out.name = meta.name;
  if (def.displayName) out.displayName = def.displayName;
  if (def.description) out.description = def.description;
  if (def.membershipDurationDays) out.membershipDurationDays = def.membershipDurationDays;
  if (meta.adsPersonalizationEnabled) out.adsPersonalizationEnabled = true;
  if (def.eventTrigger) {
    out.eventTrigger = {
      eventName: def.eventTrigger.eventName,
      logCondition: en(LOG_CONDITIONS, def.eventTrigger.logCondition),
    };
  }
  const hasExclude = def.filterClauses.some((f) => f.clauseType === 'EXCLUDE');
  if (hasExclude || def.exclusionDurationModeSet || def.exclusionDurationMode !== 'EXCLUDE_TEMPORARILY') {
    out.exclusionDurationMode = en(EXCLUSION_MODES, def.exclusionDurationMode);
  }
  if (!meta.hideFilterClauses && def.filterClauses.length > 0) {
    out.filterClauses = def.filterClauses.map((f) => clauseToJson(f, en));
  }
  if (meta.createTime) out.createTime = meta.createTime;
  return out;
}

type EnumFn = (values: Record<string, number>, name: string) => string | number;

function clauseToJson(f: FilterClause, en: EnumFn): Record<string, unknown> {
  const out: Record<string, unknown> = { clauseType: en(CLAUSE_TYPES, f.clauseType) };
  if (f.simpleFilter) {
    out.simpleFilter = {
      scope: en(SCOPES, f.simpleFilter.scope),
      filterExpression: exprToJson(f.simpleFilter.filterExpression, en),
    };
  }
  if (f.sequenceFilter) {
    const s = f.sequenceFilter;
    const seq: Record<string, unknown> = { scope: en(SCOPES, s.scope) };
    if (s.sequenceMaximumDurationMicros !== undefined) {
      seq.sequenceMaximumDuration = formatDuration(s.sequenceMaximumDurationMicros);
    }
    seq.sequenceSteps = s.sequenceSteps.map((step) => {
      const o: Record<string, unknown> = { scope: en(SCOPES, step.scope) };
      if (step.immediatelyFollows) o.immediatelyFollows = true;
      if (step.constraintDurationMicros !== undefined)
        o.constraintDuration = formatDuration(step.constraintDurationMicros);
      o.filterExpression = exprToJson(step.filterExpression, en);
      return o;
    });
    out.sequenceFilter = seq;
  }
  return out;
}

function numericValueToJson(v: NumericValue): Record<string, unknown> {
  return 'int64Value' in v ? { int64Value: v.int64Value.toString() } : { doubleValue: v.doubleValue };
}

function exprToJson(e: FilterExpression, en: EnumFn): Record<string, unknown> {
  if (e.andGroup)
    return { andGroup: { filterExpressions: e.andGroup.filterExpressions.map((x) => exprToJson(x, en)) } };
  if (e.orGroup)
    return { orGroup: { filterExpressions: e.orGroup.filterExpressions.map((x) => exprToJson(x, en)) } };
  if (e.notExpression) return { notExpression: exprToJson(e.notExpression, en) };
  if (e.eventFilter) {
    const f: Record<string, unknown> = { eventName: e.eventFilter.eventName };
    if (e.eventFilter.eventParameterFilterExpression) {
      f.eventParameterFilterExpression = exprToJson(e.eventFilter.eventParameterFilterExpression, en);
    }
    return { eventFilter: f };
  }
  const d = e.dimensionOrMetricFilter!;
  const o: Record<string, unknown> = { fieldName: d.fieldName };
  if (d.stringFilter) {
    const s: Record<string, unknown> = {
      matchType: en(MATCH_TYPES, d.stringFilter.matchType),
      value: d.stringFilter.value,
    };
    if (d.stringFilter.caseSensitive) s.caseSensitive = true;
    o.stringFilter = s;
  }
  if (d.inListFilter) {
    const s: Record<string, unknown> = { values: [...d.inListFilter.values] };
    if (d.inListFilter.caseSensitive) s.caseSensitive = true;
    o.inListFilter = s;
  }
  if (d.numericFilter) {
    o.numericFilter = {
      operation: en(OPERATIONS, d.numericFilter.operation),
      value: numericValueToJson(d.numericFilter.value),
    };
  }
  if (d.betweenFilter) {
    o.betweenFilter = {
      fromValue: numericValueToJson(d.betweenFilter.fromValue),
      toValue: numericValueToJson(d.betweenFilter.toValue),
    };
  }
  if (d.atAnyPointInTime) o.atAnyPointInTime = true;
  if (d.inAnyNDayPeriod !== undefined) o.inAnyNDayPeriod = d.inAnyNDayPeriod;
  return { dimensionOrMetricFilter: o };
}

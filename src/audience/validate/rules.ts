// Rules beyond the shape of one message: event names, RE2 patterns, rule 13 (audience-trigger
// events may not be the basis of conditions) and the per-property limits.

import {
  RESERVED_APP_EVENT_NAMES,
  RESERVED_EVENT_NAMES as MP_RESERVED_EVENT_NAMES,
} from '../../ingest/common.ts';
import { RE2 } from 're2-wasm';
import type {
  AudienceDefinition,
  DimensionOrMetricFilter,
  FilterExpression,
  StringFilter,
} from '../../domain/audience.ts';
import { errors } from '../../domain/errors.ts';
import { LIMITS } from './limits.ts';
import { Collector, collecting } from './json-readers.ts';

// ---------------------------------------------------------------------------------------------
// Names and patterns.

/** [DOC] MP event-name rule: letter first, then letters, digits, underscores; ≤ 40 chars. */
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * [DOC] Event names that clients must not send, web and app lists together: a trigger
 * logs an event, so it may not use any of them. The lists live with the Measurement Protocol rules.
 */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  ...MP_RESERVED_EVENT_NAMES,
  ...RESERVED_APP_EVENT_NAMES,
]);
export const RESERVED_EVENT_PREFIXES = ['_', 'firebase_', 'ga_', 'google_', 'gtag.'];

export function checkEventName(c: Collector, name: string, path: string): boolean {
  if (name.length > LIMITS.maxEventNameLength) {
    c.add(path, `event names must be at most ${LIMITS.maxEventNameLength} characters (got ${name.length})`);
    return false;
  }
  if (!EVENT_NAME.test(name)) {
    c.add(
      path,
      /^[A-Za-z]/.test(name)
        ? `invalid event name "${name}": only letters, digits and underscores are allowed`
        : `invalid event name "${name}": event names must start with a letter`,
    );
    return false;
  }
  return true;
}

// RE2 instances live in wasm memory that is never freed, so compile results are cached by pattern.
const regexpCache = new Map<string, string | null>();
const REGEXP_CACHE_SIZE = 1000;

/** null when `pattern` compiles under RE2, else RE2's message. */
export function re2Error(pattern: string): string | null {
  const cached = regexpCache.get(pattern);
  if (cached !== undefined) return cached;
  let result: string | null = null;
  try {
    new RE2(pattern, 'u');
  } catch (err) {
    result =
      err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/u: /s, '') : 'invalid';
  }
  if (regexpCache.size >= REGEXP_CACHE_SIZE) regexpCache.clear();
  regexpCache.set(pattern, result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Rule 13: audience-trigger events may not be the basis of audience conditions.

/** A condition that could match an event name: an event_filter, or a filter on the eventName dimension. */
interface EventNameRef {
  path: string;
  matches(eventName: string): boolean;
}

const matcherCache = new Map<string, RE2 | null>();

/** A cached RE2 full-match matcher (RE2 instances are never freed, so they are reused). */
function fullMatcher(pattern: string, caseSensitive: boolean): RE2 | null {
  const key = `${caseSensitive ? 's' : 'i'}:${pattern}`;
  let m = matcherCache.get(key);
  if (m === undefined) {
    try {
      m = new RE2(`^(?:${pattern})$`, caseSensitive ? 'u' : 'iu');
    } catch {
      m = null;
    }
    if (matcherCache.size >= REGEXP_CACHE_SIZE) matcherCache.clear();
    matcherCache.set(key, m);
  }
  return m;
}

function stringMatches(f: StringFilter, value: string): boolean {
  const v = f.caseSensitive ? value : value.toLowerCase();
  const p = f.caseSensitive ? f.value : f.value.toLowerCase();
  switch (f.matchType) {
    case 'EXACT':
      return v === p;
    case 'BEGINS_WITH':
      return v.startsWith(p);
    case 'ENDS_WITH':
      return v.endsWith(p);
    case 'CONTAINS':
      return v.includes(p);
    case 'FULL_REGEXP':
      return fullMatcher(f.value, f.caseSensitive)?.test(value) ?? false;
  }
}

function leafMatches(d: DimensionOrMetricFilter, value: string): boolean {
  if (d.stringFilter) return stringMatches(d.stringFilter, value);
  if (d.inListFilter) {
    const cs = d.inListFilter.caseSensitive;
    return d.inListFilter.values.some((x) => (cs ? x === value : x.toLowerCase() === value.toLowerCase()));
  }
  return false;
}

function eventNameRefs(def: AudienceDefinition): EventNameRef[] {
  const refs: EventNameRef[] = [];
  const walk = (e: FilterExpression, path: string): void => {
    if (e.andGroup)
      e.andGroup.filterExpressions.forEach((x, i) => walk(x, `${path}.and_group.filter_expressions[${i}]`));
    if (e.orGroup)
      e.orGroup.filterExpressions.forEach((x, i) => walk(x, `${path}.or_group.filter_expressions[${i}]`));
    if (e.notExpression) walk(e.notExpression, `${path}.not_expression`);
    if (e.eventFilter) {
      const name = e.eventFilter.eventName;
      refs.push({ path: `${path}.event_filter.event_name`, matches: (n) => n === name });
      if (e.eventFilter.eventParameterFilterExpression) {
        walk(
          e.eventFilter.eventParameterFilterExpression,
          `${path}.event_filter.event_parameter_filter_expression`,
        );
      }
    }
    const d = e.dimensionOrMetricFilter;
    if (d && d.fieldName === 'eventName') {
      refs.push({ path: `${path}.dimension_or_metric_filter`, matches: (n) => leafMatches(d, n) });
    }
  };
  def.filterClauses.forEach((fc, i) => {
    if (fc.simpleFilter)
      walk(fc.simpleFilter.filterExpression, `filter_clauses[${i}].simple_filter.filter_expression`);
    fc.sequenceFilter?.sequenceSteps.forEach((s, j) =>
      walk(s.filterExpression, `filter_clauses[${i}].sequence_filter.sequence_steps[${j}].filter_expression`),
    );
  });
  return refs;
}

export function checkTriggerNotReferenced(
  c: Collector,
  def: AudienceDefinition,
  triggerName: string | undefined,
  others: AudienceDefinition[],
): void {
  if (triggerName === undefined) return;
  for (const other of others) {
    const ref = eventNameRefs(other).find((r) => r.matches(triggerName));
    if (!ref) continue;
    if (other === def) {
      c.add(
        ref.path,
        `the audience-trigger event "${triggerName}" cannot be used in this audience's conditions`,
      );
    } else {
      c.add(
        'event_trigger.event_name',
        `"${triggerName}" is used in the conditions of audience "${other.displayName}"; audience-trigger events cannot be used in audience conditions`,
      );
    }
    return;
  }
}

/**
 * Property-level rules (docs/audiences.md §4): `existing` are the other non-archived audiences
 * of the property (built-in ones included; on update, without the audience being updated).
 * - the trigger event of `def` is not used by any condition of `def` or of `existing`;
 * - no trigger event of `existing` is used by a condition of `def`;
 * - at most 20 distinct trigger event names;
 * - on create, at most 100 audiences.
 * Each answers INVALID_ARGUMENT with a field violation, as every other rule.
 */
export function checkPropertyLimits(
  def: AudienceDefinition,
  existing: readonly AudienceDefinition[],
  mode: 'create' | 'update' = 'create',
): void {
  // Rules 13 and 16 answer like every other rule: 400 INVALID_ARGUMENT with a field violation
  // (GA4: "Errors should use the shape 400 INVALID_ARGUMENT … BadRequest.fieldViolations").
  if (mode === 'create' && existing.length >= LIMITS.maxAudiencesPerProperty) {
    throw errors.invalidField(
      'audience',
      `a property can have at most ${LIMITS.maxAudiencesPerProperty} audiences (the built-in All Users and Purchasers included); archive one before creating another.`,
    );
  }
  const triggerNames = new Set(existing.flatMap((a) => (a.eventTrigger ? [a.eventTrigger.eventName] : [])));
  if (def.eventTrigger && !triggerNames.has(def.eventTrigger.eventName)) {
    if (triggerNames.size >= LIMITS.maxTriggerEventNames) {
      throw errors.invalidField(
        'audience.event_trigger.event_name',
        `a property can have at most ${LIMITS.maxTriggerEventNames} distinct audience-trigger event names; reuse one of: ${[...triggerNames].sort().join(', ')}.`,
      );
    }
  }
  collecting((c) => {
    checkTriggerNotReferenced(c, def, def.eventTrigger?.eventName, [def, ...existing]);
    const refs = eventNameRefs(def);
    for (const other of existing) {
      const name = other.eventTrigger?.eventName;
      if (name === undefined) continue;
      const ref = refs.find((r) => r.matches(name));
      if (ref) {
        c.add(
          ref.path,
          `"${name}" is the audience-trigger event of audience "${other.displayName}"; audience-trigger events cannot be used in audience conditions`,
        );
      }
    }
  });
}

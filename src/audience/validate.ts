// Parsing and validation of the GA4 Admin API v1alpha `Audience` resource (spec/audience-semantics.md
// §2), and its proto3 JSON rendering. Every decision that Google leaves open is marked "audex
// decision" here and listed in docs/audiences.md.
//
// Input is proto3 JSON as the official clients send it: lowerCamel names (the original snake_case
// names are accepted too, as the proto3 JSON mapping requires), enums as names or numbers, int64 as
// string or number, Duration as "1.5s" or {seconds, nanos}. `null` means "not set" (proto3 JSON).
// Scalars have no presence in this proto, so "" / 0 / false / enum 0 are the same as absent.
//
// Validation collects every violation it can find, then throws one INVALID_ARGUMENT whose
// BadRequest lists them with snake_case field paths (`filter_clauses[0].simple_filter.scope`).

import { readInt64Json } from '../domain/int64.ts';
import {
  RESERVED_APP_EVENT_NAMES,
  RESERVED_EVENT_NAMES as MP_RESERVED_EVENT_NAMES,
} from '../ingest/common.ts';
import { RE2 } from 're2-wasm';
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
} from '../domain/audience.ts';
import { ApiError, errors, type FieldViolation } from '../domain/errors.ts';
import { resolveField } from './fields.ts';

// ---------------------------------------------------------------------------------------------
// Limits (audex decisions unless noted; see docs/audiences.md "Validation rules and limits").

export const LIMITS = {
  /** [SPEC] membership_duration_days ≤ 540; [PROPOSAL] ≥ 1. */
  maxMembershipDurationDays: 540,
  /** [SPEC] in_any_n_day_period ≤ 60; [PROPOSAL] ≥ 1. */
  maxInAnyNDayPeriod: 60,
  /** UTF-16 code units, as Property.display_name. */
  maxDisplayNameLength: 100,
  maxDescriptionLength: 1000,
  maxFilterClauses: 50,
  maxExpressionsPerGroup: 100,
  maxSequenceSteps: 10,
  maxInListValues: 1000,
  /** Any filter value, regexp or list entry. */
  maxValueLength: 1000,
  maxFieldNameLength: 100,
  /** [DOC] event names: ≤ 40 chars, letter first, letters/digits/underscore. */
  maxEventNameLength: 40,
  /** Expression nodes over the whole audience (every and/or/not/leaf counts one). */
  maxExpressionNodes: 2000,
  /** Nesting of filter expressions; valid CNF never exceeds 6. */
  maxExpressionDepth: 10,
  /** Violations reported in one error; validation stops collecting after this many. */
  maxViolations: 100,
  /** [DOC] non-archived audiences per property (standard properties). */
  maxAudiencesPerProperty: 100,
  /** [DOC] distinct audience-trigger event names per property. */
  maxTriggerEventNames: 20,
  /** google.protobuf.Duration's own range. */
  maxDurationSeconds: 315_576_000_000n,
} as const;

// ---------------------------------------------------------------------------------------------
// Enums: names and numbers (spec §2).

const SCOPES: Record<string, number> = {
  AUDIENCE_FILTER_SCOPE_UNSPECIFIED: 0,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 1,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 2,
  AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 3,
};
const CLAUSE_TYPES: Record<string, number> = { AUDIENCE_CLAUSE_TYPE_UNSPECIFIED: 0, INCLUDE: 1, EXCLUDE: 2 };
const EXCLUSION_MODES: Record<string, number> = {
  AUDIENCE_EXCLUSION_DURATION_MODE_UNSPECIFIED: 0,
  EXCLUDE_TEMPORARILY: 1,
  EXCLUDE_PERMANENTLY: 2,
};
const LOG_CONDITIONS: Record<string, number> = {
  LOG_CONDITION_UNSPECIFIED: 0,
  AUDIENCE_JOINED: 1,
  AUDIENCE_MEMBERSHIP_RENEWED: 2,
};
const MATCH_TYPES: Record<string, number> = {
  MATCH_TYPE_UNSPECIFIED: 0,
  EXACT: 1,
  BEGINS_WITH: 2,
  ENDS_WITH: 3,
  CONTAINS: 4,
  FULL_REGEXP: 5,
};
const OPERATIONS: Record<string, number> = {
  OPERATION_UNSPECIFIED: 0,
  EQUAL: 1,
  LESS_THAN: 2,
  GREATER_THAN: 4,
};

const SCOPE_RANK: Record<FilterScope, number> = {
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 1,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 2,
  AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 3,
};

// ---------------------------------------------------------------------------------------------
// Message field lists (lowerCamel, proto order). The snake_case path of a field is derived.

const AUDIENCE_FIELDS = [
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
const TRIGGER_FIELDS = ['eventName', 'logCondition'] as const;
const CLAUSE_FIELDS = ['clauseType', 'simpleFilter', 'sequenceFilter'] as const;
const SIMPLE_FIELDS = ['scope', 'filterExpression'] as const;
const SEQUENCE_FIELDS = ['scope', 'sequenceMaximumDuration', 'sequenceSteps'] as const;
const STEP_FIELDS = ['scope', 'immediatelyFollows', 'constraintDuration', 'filterExpression'] as const;
const EXPR_FIELDS = [
  'andGroup',
  'orGroup',
  'notExpression',
  'dimensionOrMetricFilter',
  'eventFilter',
] as const;
const LIST_FIELDS = ['filterExpressions'] as const;
const EVENT_FILTER_FIELDS = ['eventName', 'eventParameterFilterExpression'] as const;
const DIM_FIELDS = [
  'fieldName',
  'stringFilter',
  'inListFilter',
  'numericFilter',
  'betweenFilter',
  'atAnyPointInTime',
  'inAnyNDayPeriod',
] as const;
const STRING_FILTER_FIELDS = ['matchType', 'value', 'caseSensitive'] as const;
const IN_LIST_FIELDS = ['values', 'caseSensitive'] as const;
const NUMERIC_FILTER_FIELDS = ['operation', 'value'] as const;
const BETWEEN_FIELDS = ['fromValue', 'toValue'] as const;
const NUMERIC_VALUE_FIELDS = ['int64Value', 'doubleValue'] as const;
const DURATION_FIELDS = ['seconds', 'nanos'] as const;

type ExprArm = (typeof EXPR_FIELDS)[number];

/** lowerCamel → snake_case (proto field name). `inAnyNDayPeriod` → `in_any_n_day_period`. */
export function toSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** snake_case → lowerCamel. */
export function toCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

// ---------------------------------------------------------------------------------------------
// The violation collector.

class TooManyViolations extends Error {}

class Collector {
  readonly violations: FieldViolation[] = [];
  nodes = 0;

  add(field: string, description: string): void {
    if (this.violations.length >= LIMITS.maxViolations) throw new TooManyViolations();
    this.violations.push({ field, description });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }
}

function summary(violations: FieldViolation[], truncated = false): string {
  const first = violations[0];
  if (!first) return 'Invalid audience.';
  const more = violations.length - 1;
  const suffix =
    more > 0 || truncated
      ? ` (and ${more}${truncated ? '+' : ''} more violation${more === 1 ? '' : 's'})`
      : '';
  return `${first.field ? `${first.field}: ` : ''}${first.description}${suffix}`;
}

function fail(violations: FieldViolation[], truncated = false): ApiError {
  return errors.invalidArgument(summary(violations, truncated), violations);
}

/** Runs `body` with a fresh collector; throws INVALID_ARGUMENT with every violation found. */
function collecting<T>(body: (c: Collector) => T): T {
  const c = new Collector();
  let result: T;
  try {
    result = body(c);
  } catch (err) {
    if (err instanceof TooManyViolations) throw fail(c.violations, true);
    if (err instanceof RangeError) {
      // Stack exhaustion or similar on pathological input: still a client error, never a crash.
      throw errors.invalidArgument('The audience is too large or too deeply nested.', [
        { field: '', description: 'input too large or too deeply nested' },
      ]);
    }
    throw err;
  }
  if (!c.ok) throw fail(c.violations);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Primitive readers. Each returns undefined when the value is absent (or invalid; a violation is
// then recorded).

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Reads a message: checks that `v` is a JSON object and that every key is a field of the message
 * (lowerCamel or snake_case). Returns the set fields by lowerCamel name; `null` values are absent.
 */
function readMessage<F extends string>(
  c: Collector,
  v: unknown,
  path: string,
  fields: readonly F[],
): Partial<Record<F, unknown>> | undefined {
  if (!isPlainObject(v)) {
    c.add(path, `must be an object (got ${typeName(v)})`);
    return undefined;
  }
  const known = new Set<string>(fields);
  const out: Partial<Record<F, unknown>> = {};
  const seen = new Set<string>();
  for (const key of Object.keys(v)) {
    let name = key;
    if (!known.has(name)) {
      const camel = toCamel(key);
      if (key.includes('_') && key === key.toLowerCase() && known.has(camel)) name = camel;
      else {
        const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
        c.add(join(path, toSnake(shown)), `unknown field "${shown}"`);
        continue;
      }
    }
    if (seen.has(name)) {
      c.add(join(path, toSnake(name)), 'is set twice (lowerCamel and snake_case)');
      continue;
    }
    seen.add(name);
    const value = v[key];
    if (value === null || value === undefined) continue;
    out[name as F] = value;
  }
  return out;
}

function join(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}

function readString(c: Collector, v: unknown, path: string, maxLength: number): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    c.add(path, `must be a string (got ${typeName(v)})`);
    return undefined;
  }
  if (v.length > maxLength) {
    c.add(path, `must be at most ${maxLength} characters (got ${v.length})`);
    return undefined;
  }
  if (LONE_SURROGATE.test(v)) {
    c.add(path, 'must be valid Unicode (contains an unpaired surrogate)');
    return undefined;
  }
  return v === '' ? undefined : v;
}

function readBool(c: Collector, v: unknown, path: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') {
    c.add(path, `must be a boolean (got ${typeName(v)})`);
    return false;
  }
  return v;
}

/** int32: a JSON number or a decimal string; 0 means unset. */
function readInt32(c: Collector, v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?\d{1,10}$/.test(v)) n = Number(v);
  else {
    c.add(path, `must be an integer (got ${typeName(v)})`);
    return undefined;
  }
  if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) {
    c.add(path, `must be a 32-bit integer (got ${String(v)})`);
    return undefined;
  }
  return n === 0 ? undefined : n;
}

/** An enum by name or number. Returns the name; undefined for absent or UNSPECIFIED (0). */
function readEnum(
  c: Collector,
  v: unknown,
  path: string,
  values: Record<string, number>,
): string | undefined {
  if (v === undefined) return undefined;
  let name: string | undefined;
  if (typeof v === 'string') name = Object.hasOwn(values, v) ? v : undefined;
  else if (typeof v === 'number') name = Object.keys(values).find((k) => values[k] === v);
  if (name === undefined) {
    const allowed = Object.keys(values).filter((k) => values[k] !== 0);
    const shown = typeof v === 'string' ? `"${v.length > 64 ? `${v.slice(0, 64)}…` : v}"` : typeName(v);
    c.add(path, `must be one of ${allowed.join(', ')} (got ${typeof v === 'number' ? String(v) : shown})`);
    return undefined;
  }
  return values[name] === 0 ? undefined : name;
}

/** Reports a missing required value, unless the reader already reported this field as invalid. */
function required<T>(c: Collector, v: T | undefined, path: string, what = 'is required'): v is T {
  if (v === undefined) {
    if (c.violations.at(-1)?.field !== path) c.add(path, what);
    return false;
  }
  return true;
}

function readArray(c: Collector, v: unknown, path: string, max: number): unknown[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    c.add(path, `must be an array (got ${typeName(v)})`);
    return undefined;
  }
  if (v.length > max) {
    c.add(path, `must have at most ${max} entries (got ${v.length})`);
    return undefined;
  }
  return v;
}

/** Shared with every other int64 field (src/domain/int64.ts). */
function readInt64(c: Collector, v: unknown, path: string): bigint | undefined {
  const r = readInt64Json(v);
  if ('problem' in r) {
    c.add(path, r.problem);
    return undefined;
  }
  return r.value;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function readDouble(c: Collector, v: unknown, path: string): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && v.length <= 64 && DECIMAL.test(v)) n = Number(v);
  else if (typeof v === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(v)) n = Number.NaN;
  else {
    c.add(path, `must be a number (got ${typeName(v)})`);
    return undefined;
  }
  if (!Number.isFinite(n)) {
    c.add(path, 'must be a finite number');
    return undefined;
  }
  return n;
}

const DURATION_STRING = /^(-)?(\d{1,12})(?:\.(\d{1,9}))?s$/;

/** google.protobuf.Duration → whole µs. audex decision: must be > 0 and a whole number of µs. */
function readDuration(c: Collector, v: unknown, path: string): bigint | undefined {
  if (v === undefined) return undefined;
  let seconds: bigint;
  let nanos: bigint;
  if (typeof v === 'string') {
    const m = DURATION_STRING.exec(v);
    if (!m) {
      c.add(path, `must be a duration such as "1800s" or "1.5s" (got "${v.slice(0, 64)}")`);
      return undefined;
    }
    const sign = m[1] ? -1n : 1n;
    seconds = sign * BigInt(m[2] ?? '0');
    nanos = sign * BigInt((m[3] ?? '').padEnd(9, '0') || '0');
  } else if (isPlainObject(v)) {
    const d = readMessage(c, v, path, DURATION_FIELDS);
    if (!d) return undefined;
    const before = c.violations.length;
    const s = d.seconds === undefined ? 0n : readInt64(c, d.seconds, join(path, 'seconds'));
    const n = readInt32(c, d.nanos, join(path, 'nanos')) ?? 0;
    if (s === undefined || c.violations.length !== before) return undefined;
    seconds = s;
    nanos = BigInt(n);
    if (
      nanos <= -1_000_000_000n ||
      nanos >= 1_000_000_000n ||
      (seconds > 0n && nanos < 0n) ||
      (seconds < 0n && nanos > 0n)
    ) {
      c.add(join(path, 'nanos'), 'must be within ±999,999,999 and have the sign of seconds');
      return undefined;
    }
  } else {
    c.add(path, `must be a duration string such as "1800s" (got ${typeName(v)})`);
    return undefined;
  }
  if (seconds > LIMITS.maxDurationSeconds || seconds < -LIMITS.maxDurationSeconds) {
    c.add(path, 'is out of the google.protobuf.Duration range');
    return undefined;
  }
  const totalNanos = seconds * 1_000_000_000n + nanos;
  if (totalNanos <= 0n) {
    c.add(path, 'must be positive (omit the field for no limit)');
    return undefined;
  }
  if (totalNanos % 1000n !== 0n) {
    c.add(path, 'must be a whole number of microseconds');
    return undefined;
  }
  return totalNanos / 1000n;
}

// ---------------------------------------------------------------------------------------------
// Names and patterns.

/** [DOC] MP event-name rule: letter first, then letters, digits, underscores; ≤ 40 chars. */
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * [DOC] Event names that clients must not send (spec §6.3), web and app lists together: a trigger
 * logs an event, so it may not use any of them. The lists live with the Measurement Protocol rules.
 */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  ...MP_RESERVED_EVENT_NAMES,
  ...RESERVED_APP_EVENT_NAMES,
]);
const RESERVED_EVENT_PREFIXES = ['_', 'firebase_', 'ga_', 'google_', 'gtag.'];

function checkEventName(c: Collector, name: string, path: string): boolean {
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
 * Where an expression sits; decides which arms are allowed (spec §2.6, §2.7):
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

function checkTriggerNotReferenced(
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
 * Property-level rules (spec §2.9 rules 13 and 16): `existing` are the other non-archived audiences
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
  // (spec §2.9: "Errors should use the shape 400 INVALID_ARGUMENT … BadRequest.fieldViolations").
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

// ---------------------------------------------------------------------------------------------
// Update (PATCH with update_mask).

const MUTABLE_PATHS = new Set(['display_name', 'description', 'event_trigger']);
const TRIGGER_SUBPATHS = new Set(['event_trigger.event_name', 'event_trigger.log_condition']);
const IMMUTABLE_PATHS = new Set(['membership_duration_days', 'exclusion_duration_mode', 'filter_clauses']);
const OUTPUT_ONLY_PATHS = new Set(['name', 'ads_personalization_enabled', 'create_time']);

/**
 * Applies an UpdateAudience request. `patch` is the request's `audience` (proto3 JSON);
 * `updateMask` its comma-separated paths (snake_case or lowerCamel).
 *
 * audex decisions:
 * - Paths: display_name, description, event_trigger (and its sub-fields event_trigger.event_name /
 *   event_trigger.log_condition). A path in the mask whose field is absent from the patch clears it
 *   (AIP-134), so `display_name`/`description` become "" and fail as required, `event_trigger` is removed.
 * - Immutable paths (membership_duration_days, exclusion_duration_mode, filter_clauses and anything
 *   below them) are rejected with INVALID_ARGUMENT naming the path. Output-only paths (name,
 *   create_time, ads_personalization_enabled) are ignored (AIP-203). Unknown paths are rejected.
 * - `*` replaces every mutable field with the patch's value (absent means cleared). The patch's
 *   immutable fields may be omitted or repeat the current value; any difference is rejected.
 * - Fields present in the patch but not named by the mask are ignored, but must still be known fields.
 */
export function parseAudienceUpdate(
  existing: AudienceDefinition,
  patch: unknown,
  updateMask: string | undefined,
): AudienceDefinition {
  const paths = (updateMask ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (paths.length === 0) throw errors.invalidField('update_mask', 'is required');

  const current = audienceToJson(
    existing,
    { name: '', createTime: '', adsPersonalizationEnabled: false },
    false,
  );
  const merged: Record<string, unknown> = { ...current };

  // Check the patch's own shape (object, known field names) first.
  const patchFields = collecting((c) => readMessage(c, patch, '', AUDIENCE_FIELDS) ?? {});

  if (paths.includes('*')) {
    if (paths.length > 1) throw errors.invalidField('update_mask', '"*" cannot be combined with other paths');
    const candidate: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patchFields)) candidate[k] = v;
    for (const k of ['membershipDurationDays', 'exclusionDurationMode', 'filterClauses'] as const) {
      if (candidate[k] === undefined && current[k] !== undefined) candidate[k] = current[k];
    }
    const next = parseAudience(candidate);
    const diffs: FieldViolation[] = [];
    if (next.membershipDurationDays !== existing.membershipDurationDays) {
      diffs.push({ field: 'membership_duration_days', description: 'is immutable and cannot be changed' });
    }
    if (next.exclusionDurationMode !== existing.exclusionDurationMode) {
      diffs.push({ field: 'exclusion_duration_mode', description: 'is immutable and cannot be changed' });
    }
    if (!definitionsEqual(next.filterClauses, existing.filterClauses)) {
      diffs.push({ field: 'filter_clauses', description: 'is immutable and cannot be changed' });
    }
    if (diffs.length > 0) throw fail(diffs);
    return next;
  }

  const violations: FieldViolation[] = [];
  const touched = new Set<string>();
  for (const raw of paths) {
    const p = raw.split('.').map(toSnake).join('.');
    const top = p.split('.')[0]!.replace(/\[.*$/, '');
    if (MUTABLE_PATHS.has(p) || TRIGGER_SUBPATHS.has(p)) touched.add(p);
    else if (IMMUTABLE_PATHS.has(top))
      violations.push({ field: 'update_mask', description: `"${raw}" is immutable and cannot be updated` });
    else if (OUTPUT_ONLY_PATHS.has(p)) continue;
    else violations.push({ field: 'update_mask', description: `unknown field path "${raw.slice(0, 100)}"` });
  }
  if (violations.length > 0) throw fail(violations);

  for (const p of touched) {
    if (p === 'display_name') setOrDelete(merged, 'displayName', patchFields.displayName);
    else if (p === 'description') setOrDelete(merged, 'description', patchFields.description);
    else if (p === 'event_trigger') setOrDelete(merged, 'eventTrigger', patchFields.eventTrigger);
  }
  for (const p of touched) {
    if (!TRIGGER_SUBPATHS.has(p) || touched.has('event_trigger')) continue;
    const sub = toCamel(p.slice('event_trigger.'.length));
    const base = isPlainObject(merged.eventTrigger) ? { ...merged.eventTrigger } : {};
    const src = isPlainObject(patchFields.eventTrigger) ? patchFields.eventTrigger : {};
    const value = src[sub] ?? src[toSnake(sub)];
    if (value === undefined || value === null) delete base[sub];
    else base[sub] = value;
    merged.eventTrigger = base;
  }
  return parseAudience(merged);
}

function setOrDelete(o: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) delete o[key];
  else o[key] = value;
}

function definitionsEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    definitionsEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering (proto3 JSON).

export interface AudienceMeta {
  /** `properties/{p}/audiences/{a}`. */
  name: string;
  /** RFC 3339. */
  createTime: string;
  adsPersonalizationEnabled: boolean;
  /** Built-in audiences are rendered without filterClauses, as GA does (spec §1). */
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

// ---------------------------------------------------------------------------------------------
// Built-in audiences (spec §1): every property has them; the API renders them without filterClauses.

export interface BuiltinAudience {
  /** Stable key; the catalog gives them audience ids. */
  key: 'all_users' | 'purchasers';
  definition: AudienceDefinition;
  /** Always true: GetAudience/ListAudiences omit filterClauses for these (pass as AudienceMeta.hideFilterClauses). */
  hideFilterClauses: true;
}

/**
 * audex decisions:
 * - All Users: any event, i.e. `eventCount > 0` WITHIN_SAME_EVENT (true on every event, so every
 *   event renews), membership 540 days (the maximum; GA does not publish its value).
 * - Purchasers: exactly spec example E1 (any `purchase` event, 30 days).
 */
export const BUILTIN_AUDIENCES: readonly BuiltinAudience[] = Object.freeze([
  {
    key: 'all_users',
    hideFilterClauses: true,
    definition: {
      displayName: 'All Users',
      description: 'All users',
      membershipDurationDays: 540,
      exclusionDurationMode: 'EXCLUDE_TEMPORARILY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  {
                    orGroup: {
                      filterExpressions: [
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'eventCount',
                            numericFilter: { operation: 'GREATER_THAN', value: { int64Value: 0n } },
                            atAnyPointInTime: false,
                          },
                        },
                      ],
                    },
                  },
                ],
              },
            },
          },
        },
      ],
    },
  },
  {
    key: 'purchasers',
    hideFilterClauses: true,
    definition: {
      displayName: 'Purchasers',
      description: 'Users who purchased',
      membershipDurationDays: 30,
      exclusionDurationMode: 'EXCLUDE_TEMPORARILY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
                ],
              },
            },
          },
        },
      ],
    },
  },
]);

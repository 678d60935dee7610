// Reading proto3 JSON: the violation collector and the primitive readers (strings, enums, int64,
// doubles, Durations, messages), each recording a violation with its snake_case field path.

import { readInt64Json } from '../../domain/int64.ts';
import { ApiError, errors, type FieldViolation } from '../../domain/errors.ts';
import { LIMITS } from './limits.ts';
import { DURATION_FIELDS, toSnake, toCamel } from './proto-json.ts';

// ---------------------------------------------------------------------------------------------
// The violation collector.

class TooManyViolations extends Error {}

export class Collector {
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

export function fail(violations: FieldViolation[], truncated = false): ApiError {
  return errors.invalidArgument(summary(violations, truncated), violations);
}

/** Runs `body` with a fresh collector; throws INVALID_ARGUMENT with every violation found. */
export function collecting<T>(body: (c: Collector) => T): T {
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

export function isPlainObject(v: unknown): v is Record<string, unknown> {
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
export function readMessage<F extends string>(
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

export function join(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}

export function readString(c: Collector, v: unknown, path: string, maxLength: number): string | undefined {
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

export function readBool(c: Collector, v: unknown, path: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') {
    c.add(path, `must be a boolean (got ${typeName(v)})`);
    return false;
  }
  return v;
}

/** int32: a JSON number or a decimal string; 0 means unset. */
export function readInt32(c: Collector, v: unknown, path: string): number | undefined {
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
export function readEnum(
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
export function required<T>(c: Collector, v: T | undefined, path: string, what = 'is required'): v is T {
  if (v === undefined) {
    if (c.violations.at(-1)?.field !== path) c.add(path, what);
    return false;
  }
  return true;
}

export function readArray(c: Collector, v: unknown, path: string, max: number): unknown[] | undefined {
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
export function readInt64(c: Collector, v: unknown, path: string): bigint | undefined {
  const r = readInt64Json(v);
  if ('problem' in r) {
    c.add(path, r.problem);
    return undefined;
  }
  return r.value;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function readDouble(c: Collector, v: unknown, path: string): number | undefined {
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
export function readDuration(c: Collector, v: unknown, path: string): bigint | undefined {
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

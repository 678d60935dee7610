// Leaf predicates of the reference evaluator: field values, string/numeric
// matchers, metric aggregates, and the per-user timeline they read. Everything here is pure; the
// decisions it takes are numbered D<n> and listed in DECISIONS.md.

import { RE2 } from 're2-wasm';
import type {
  BetweenFilter,
  DimensionOrMetricFilter,
  EventFilter,
  FilterExpression,
  InListFilter,
  NumericFilter,
  NumericValue,
  StringFilter,
} from '../../domain/audience.ts';
import {
  paramNumber,
  paramString,
  parseDecimal,
  type ParamValue,
  type StoredEvent,
} from '../../domain/event.ts';
import {
  HOST_NAME_PATTERN,
  PAGE_PATH_PATTERN,
  resolveField,
  type FieldRef,
  type MetricName,
} from '../fields.ts';
import type { DayCalendar } from './calendar.ts';

// ---------------------------------------------------------------------------------------------
// The per-user timeline: the evaluated events in stream order plus per-event facts.

export interface Timeline {
  readonly events: readonly StoredEvent[];
  readonly time: readonly bigint[];
  /** Session key; D3: a null ga_session_id is a session of its own (keyed by ingest_seq). */
  readonly session: readonly string[];
  /** Local calendar day in the property time zone (D4). */
  readonly day: readonly number[];
  /** First event of its session in the stream (contribution to `sessions`, D18). */
  readonly firstOfSession: readonly boolean[];
  /** The event at which its session first meets the engaged-session rule (D18). */
  readonly becomesEngaged: readonly boolean[];
  /** Event name is in ignoreEventNamesForAdjacency. */
  readonly adjacencyIgnored: readonly boolean[];
  readonly calendar: DayCalendar;
}

export function sessionKey(e: StoredEvent): string {
  return e.ga_session_id === null ? `e${e.ingest_seq}` : `s${e.ga_session_id}`;
}

export function buildTimeline(
  events: readonly StoredEvent[],
  calendar: DayCalendar,
  ignoreForAdjacency: ReadonlySet<string>,
): Timeline {
  const seen = new Set<string>();
  const engagement = new Map<string, Engagement>();
  const session: string[] = [];
  const firstOfSession: boolean[] = [];
  const becomesEngaged: boolean[] = [];
  for (const e of events) {
    const key = sessionKey(e);
    session.push(key);
    firstOfSession.push(!seen.has(key));
    seen.add(key);
    let g = engagement.get(key);
    if (!g) engagement.set(key, (g = new Engagement()));
    becomesEngaged.push(g.add(e));
  }
  return {
    events,
    time: events.map((e) => e.event_timestamp),
    session,
    day: events.map((e) => calendar.dayOf(e.event_timestamp)),
    firstOfSession,
    becomesEngaged,
    adjacencyIgnored: events.map((e) => ignoreForAdjacency.has(e.event_name)),
    calendar,
  };
}

/** First index whose local day is >= `startDay` (days are non-decreasing along the stream). */
export function firstIndexOnOrAfterDay(tl: Timeline, startDay: number): number {
  let lo = 0;
  let hi = tl.day.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tl.day[mid]! < startDay) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Field values.

/** Own-property lookup, so that keys such as "constructor" never reach Object.prototype. */
function own<T>(map: Record<string, T> | undefined, key: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

const PAGE_PATH = new RegExp(PAGE_PATH_PATTERN);
const HOST_NAME = new RegExp(HOST_NAME_PATTERN);

function pagePath(e: StoredEvent): string | null {
  const loc = paramString(own(e.event_params, 'page_location'));
  if (loc === null) return null;
  const path = PAGE_PATH.exec(loc)?.[1] ?? '';
  return path === '' ? '/' : path;
}

function derivedValue(
  e: StoredEvent,
  name: 'pagePath' | 'hostName' | 'unifiedPagePathScreen',
): string | null {
  if (name === 'pagePath') return pagePath(e);
  if (name === 'unifiedPagePathScreen') {
    return paramString(own(e.event_params, 'firebase_screen')) ?? pagePath(e);
  }
  const loc = paramString(own(e.event_params, 'page_location'));
  const host = loc === null ? undefined : HOST_NAME.exec(loc)?.[1];
  return host ? host : null;
}

/** D8: an item value is the item's own scalar field, else item_params[key] (one typed arm). */
function itemRaw(item: Record<string, unknown>, key: string): unknown {
  if (key !== 'item_params' && Object.hasOwn(item, key)) return item[key];
  const params = item['item_params'];
  if (params !== null && typeof params === 'object' && Object.hasOwn(params, key)) {
    return (params as Record<string, unknown>)[key];
  }
  return undefined;
}

/** Items are stored JSON-safe, so an item param's int_value may be a plain number. */
function asParamValue(raw: unknown): ParamValue | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o['string_value'] === 'string') return { string_value: o['string_value'] };
  const i = o['int_value'];
  if (typeof i === 'bigint') return { int_value: i };
  if (typeof i === 'number' && Number.isInteger(i)) return { int_value: BigInt(i) };
  if (typeof o['double_value'] === 'number') return { double_value: o['double_value'] };
  return undefined;
}

function rawString(raw: unknown): string | null {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') return Number.isFinite(raw) ? String(raw) : null;
  if (typeof raw === 'bigint') return raw.toString();
  return paramString(asParamValue(raw));
}

function rawNumber(raw: unknown): number | null {
  if (typeof raw === 'string') return parseDecimal(raw);
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : null;
  if (typeof raw === 'bigint') return Number(raw);
  return paramNumber(asParamValue(raw));
}

type Pred = (e: StoredEvent) => boolean;

/** The string form and numeric form of a (non-item) dimension on one event. */
function dimensionGetters(ref: Exclude<FieldRef, { kind: 'metric' } | { item: string }>): {
  str: (e: StoredEvent) => string | null;
  num: (e: StoredEvent) => number | null;
} {
  if ('column' in ref) {
    const col = ref.column;
    const str = (e: StoredEvent): string | null => e[col];
    return { str, num: (e) => numberOfString(str(e)) };
  }
  if ('param' in ref) {
    const key = ref.param;
    return {
      str: (e) => paramString(own(e.event_params, key)),
      num: (e) => paramNumber(own(e.event_params, key)),
    };
  }
  if ('userProperty' in ref) {
    const key = ref.userProperty;
    return {
      str: (e) => paramString(own(e.user_properties, key)?.value),
      num: (e) => paramNumber(own(e.user_properties, key)?.value),
    };
  }
  const name = ref.derived;
  return { str: (e) => derivedValue(e, name), num: (e) => numberOfString(derivedValue(e, name)) };
}

function numberOfString(s: string | null): number | null {
  return s === null ? null : parseDecimal(s);
}

// ---------------------------------------------------------------------------------------------
// Matchers.

/**
 * D5: FULL_REGEXP is an RE2 full match. The pattern is first compiled on its own, so a pattern
 * such as `a)|(b` cannot escape the `^(?:…)$` wrapper. Case-insensitive regexes use RE2's `i`
 * flag (RE2 simple case folding), not lower-casing.
 */
export function compileFullRegexp(pattern: string, caseSensitive: boolean): RE2 {
  const flags = caseSensitive ? 'u' : 'iu';
  const key = `${flags}/${pattern}`;
  let re = regexCache.get(key);
  if (!re) {
    new RE2(pattern, flags); // throws on an invalid pattern (validation rejects those)
    re = new RE2(`^(?:${pattern})$`, flags);
    regexCache.set(key, re);
  }
  return re;
}

// re2-wasm objects live on the WASM heap and are never freed, so each distinct pattern is
// compiled once per process. (RE2#test keeps no state without the g/y flags.)
const regexCache = new Map<string, RE2>();

/**
 * D5: case-insensitive string matching lower-cases both sides with String.prototype.toLowerCase
 * (Unicode default lower-case mapping, locale-independent): simple lower-casing, not full case
 * folding ("STRASSE" does not equal "straße").
 */
function stringTest(f: StringFilter): (s: string) => boolean {
  if (f.matchType === 'FULL_REGEXP') {
    const re = compileFullRegexp(f.value, f.caseSensitive);
    return (s) => re.test(s);
  }
  const needle = f.caseSensitive ? f.value : f.value.toLowerCase();
  const norm = f.caseSensitive ? (s: string) => s : (s: string) => s.toLowerCase();
  switch (f.matchType) {
    case 'EXACT':
      return (s) => norm(s) === needle;
    case 'BEGINS_WITH':
      return (s) => norm(s).startsWith(needle);
    case 'ENDS_WITH':
      return (s) => norm(s).endsWith(needle);
    case 'CONTAINS':
      return (s) => norm(s).includes(needle);
  }
}

function inListTest(f: InListFilter): (s: string) => boolean {
  if (f.caseSensitive) {
    const set = new Set(f.values);
    return (s) => set.has(s);
  }
  const set = new Set(f.values.map((v) => v.toLowerCase()));
  return (s) => set.has(s.toLowerCase());
}

/** D6: every numeric comparison is in IEEE double; an int64 threshold is rounded to a double. */
export function toDouble(v: NumericValue): number {
  return 'int64Value' in v ? Number(v.int64Value) : v.doubleValue;
}

function numberTest(f: {
  numericFilter?: NumericFilter;
  betweenFilter?: BetweenFilter;
}): (n: number) => boolean {
  if (f.betweenFilter) {
    const lo = toDouble(f.betweenFilter.fromValue);
    const hi = toDouble(f.betweenFilter.toValue);
    return (n) => n >= lo && n <= hi;
  }
  const nf = f.numericFilter;
  if (!nf)
    throw new Error('a filter needs exactly one of stringFilter/inListFilter/numericFilter/betweenFilter');
  const x = toDouble(nf.value);
  switch (nf.operation) {
    case 'EQUAL':
      return (n) => n === x;
    case 'LESS_THAN':
      return (n) => n < x;
    case 'GREATER_THAN':
      return (n) => n > x;
  }
}

/** A dimension predicate on one event. D7: a missing or unparsable value makes it false. */
function dimensionPredicate(ref: Exclude<FieldRef, { kind: 'metric' }>, f: DimensionOrMetricFilter): Pred {
  const sTest = f.stringFilter
    ? stringTest(f.stringFilter)
    : f.inListFilter
      ? inListTest(f.inListFilter)
      : null;
  const nTest = sTest === null ? numberTest(f) : null;
  if ('item' in ref) {
    const key = ref.item;
    return (e) =>
      e.items.some((item) => {
        const raw = itemRaw(item, key);
        if (sTest) {
          const s = rawString(raw);
          return s !== null && sTest(s);
        }
        const n = rawNumber(raw);
        return n !== null && nTest!(n);
      });
  }
  const get = dimensionGetters(ref);
  if (sTest) {
    return (e) => {
      const s = get.str(e);
      return s !== null && sTest(s);
    };
  }
  return (e) => {
    const n = get.num(e);
    return n !== null && nTest!(n);
  };
}

// ---------------------------------------------------------------------------------------------
// Metrics.

/** GA's engaged-session rule (fields.ts), applied cumulatively over a session's events. */
class Engagement {
  private engaged = false;
  private msec = 0;
  private views = 0;

  /** Adds an event; true iff the session becomes engaged at it. */
  add(e: StoredEvent): boolean {
    if (this.engaged) return false;
    const flag = paramString(own(e.event_params, 'session_engaged')) === '1';
    const ms = paramNumber(own(e.event_params, 'engagement_time_msec'));
    if (ms !== null) this.msec += ms;
    if (e.event_name === 'page_view' || e.event_name === 'screen_view') this.views += 1;
    this.engaged = flag || this.msec >= 10_000 || this.views >= 2;
    return this.engaged;
  }
}

/**
 * A metric over a set of events, fed in stream order. D6: sums are IEEE double additions in
 * stream order starting from the first event of the set (unit, window or prefix); revenue is
 * Σ purchase_revenue − Σ refund_value (two sums, then one subtraction); userEngagementDuration is
 * (Σ engagement_time_msec) / 1000. The empty set has value 0.
 */
export class MetricAcc {
  private n = 0;
  private a = 0;
  private b = 0;
  private readonly sessions = new Set<string>();
  private readonly engagement = new Map<string, Engagement>();

  constructor(
    private readonly metric: MetricName,
    /** eventCount inside an eventFilter counts only events with this name. */
    private readonly eventName: string | null,
  ) {}

  add(e: StoredEvent, session: string): void {
    if (this.eventName !== null && e.event_name !== this.eventName) return;
    switch (this.metric) {
      case 'eventCount':
        this.n += 1;
        break;
      case 'eventValue': {
        const v = paramNumber(own(e.event_params, 'value'));
        if (v !== null) this.a += v;
        break;
      }
      case 'sessions':
        this.sessions.add(session);
        break;
      case 'engagedSessions': {
        let g = this.engagement.get(session);
        if (!g) this.engagement.set(session, (g = new Engagement()));
        if (g.add(e)) this.n += 1;
        break;
      }
      case 'userEngagementDuration': {
        const v = paramNumber(own(e.event_params, 'engagement_time_msec'));
        if (v !== null) this.a += v;
        break;
      }
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue':
        if (e.ecommerce_purchase_revenue !== null) this.a += e.ecommerce_purchase_revenue;
        if (e.ecommerce_refund_value !== null) this.b += e.ecommerce_refund_value;
        break;
      case 'transactions':
        if (e.event_name === 'purchase' && e.ecommerce_transaction_id !== null) this.n += 1;
        break;
      case 'ecommercePurchases':
        if (e.event_name === 'purchase') this.n += 1;
        break;
    }
  }

  value(): number {
    switch (this.metric) {
      case 'eventValue':
        return this.a;
      case 'sessions':
        return this.sessions.size;
      case 'userEngagementDuration':
        return this.a / 1000;
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue':
        return this.a - this.b;
      default:
        return this.n;
    }
  }
}

/** The metric over events [from..to] of the timeline (inclusive), summed in stream order. */
export function aggregate(leaf: MetricLeaf, tl: Timeline, from: number, to: number): number {
  const acc = new MetricAcc(leaf.metric, leaf.eventName);
  for (let j = from; j <= to; j++) acc.add(tl.events[j]!, tl.session[j]!);
  return acc.value();
}

/**
 * D18: whether event k "contributes" to a metric, which a metric leaf needs for k to be a
 * qualifying event.
 */
export function contributes(leaf: MetricLeaf, k: number, tl: Timeline): boolean {
  const e = tl.events[k]!;
  if (leaf.eventName !== null && e.event_name !== leaf.eventName) return false;
  switch (leaf.metric) {
    case 'eventCount':
      return true;
    case 'eventValue':
      return paramNumber(own(e.event_params, 'value')) !== null;
    case 'sessions':
      return tl.firstOfSession[k]!;
    case 'engagedSessions':
      return tl.becomesEngaged[k]!;
    case 'userEngagementDuration':
      return paramNumber(own(e.event_params, 'engagement_time_msec')) !== null;
    case 'purchaseRevenue':
    case 'totalRevenue':
    case 'userLtvRevenue':
      return e.ecommerce_purchase_revenue !== null || e.ecommerce_refund_value !== null;
    case 'transactions':
      return e.event_name === 'purchase' && e.ecommerce_transaction_id !== null;
    case 'ecommercePurchases':
      return e.event_name === 'purchase';
  }
}

// ---------------------------------------------------------------------------------------------
// Compiled leaves and expressions.

export interface DimLeaf {
  kind: 'dim';
  negated: boolean;
  /** The positive predicate on one event (before negation). */
  match: Pred;
  isStatic: boolean;
  nDays: number | null;
}

export interface MetricLeaf {
  kind: 'metric';
  negated: boolean;
  metric: MetricName;
  eventName: string | null;
  test: (v: number) => boolean;
  isStatic: boolean;
  nDays: number | null;
}

/** An eventFilter without an eventCount leaf: name plus the AND of its parameter leaves. */
export interface EventLeaf {
  kind: 'event';
  eventName: string;
  match: Pred;
}

/** D9: an eventFilter with eventCount leaves: only those count (AND-ed), over events of that name. */
export interface CountLeaf {
  kind: 'count';
  eventName: string;
  parts: MetricLeaf[];
}

export type Leaf = DimLeaf | MetricLeaf | EventLeaf | CountLeaf;

/** CNF: every group (an orGroup) must have a true leaf. Groups hold indexes into `leaves`. */
export interface Expr {
  leaves: Leaf[];
  groups: number[][];
}

function compileDimOrMetric(
  f: DimensionOrMetricFilter,
  negated: boolean,
  context: 'condition' | 'eventParameter',
  eventName: string | null,
): DimLeaf | MetricLeaf {
  const ref = resolveField(f.fieldName, context);
  if (!ref) throw new Error(`unknown fieldName: ${f.fieldName}`);
  const isStatic = f.atAnyPointInTime;
  const nDays = f.inAnyNDayPeriod ?? null;
  if (ref.kind === 'metric') {
    if (f.stringFilter || f.inListFilter)
      throw new Error(`metric ${f.fieldName} needs a numeric or between filter`);
    return { kind: 'metric', negated, metric: ref.metric, eventName, test: numberTest(f), isStatic, nDays };
  }
  return { kind: 'dim', negated, match: dimensionPredicate(ref, f), isStatic, nDays };
}

/** The leaves of an eventParameterFilterExpression: a single andGroup of (negated) dim filters. */
function parameterLeaves(
  expr: FilterExpression | undefined,
): { f: DimensionOrMetricFilter; negated: boolean }[] {
  if (!expr) return [];
  const children = expr.andGroup ? expr.andGroup.filterExpressions : [expr];
  return children.map((c) => {
    if (c.dimensionOrMetricFilter) return { f: c.dimensionOrMetricFilter, negated: false };
    if (c.notExpression?.dimensionOrMetricFilter)
      return { f: c.notExpression.dimensionOrMetricFilter, negated: true };
    throw new Error('eventParameterFilterExpression must be one andGroup of dimension filters');
  });
}

function compileEventFilter(ef: EventFilter): EventLeaf | CountLeaf {
  const params = parameterLeaves(ef.eventParameterFilterExpression);
  const counts = params.filter((p) => p.f.fieldName === 'eventCount');
  if (counts.length > 0) {
    const parts = counts.map(
      (p) => compileDimOrMetric(p.f, p.negated, 'eventParameter', ef.eventName) as MetricLeaf,
    );
    return { kind: 'count', eventName: ef.eventName, parts };
  }
  // D9: parameter leaves are judged on the event alone; a metric there is the metric of {e}; the
  // atAnyPointInTime/inAnyNDayPeriod flags of parameter leaves are ignored.
  const preds: Pred[] = params.map(({ f, negated }) => {
    const leaf = compileDimOrMetric(f, negated, 'eventParameter', null);
    if (leaf.kind === 'dim') return (e) => leaf.match(e) !== negated;
    return (e) => {
      const acc = new MetricAcc(leaf.metric, null);
      acc.add(e, sessionKey(e));
      return leaf.test(acc.value()) !== negated;
    };
  });
  const name = ef.eventName;
  return { kind: 'event', eventName: name, match: (e) => e.event_name === name && preds.every((p) => p(e)) };
}

function compileLeaf(x: FilterExpression): Leaf {
  if (x.dimensionOrMetricFilter)
    return compileDimOrMetric(x.dimensionOrMetricFilter, false, 'condition', null);
  if (x.notExpression) {
    const inner = x.notExpression.dimensionOrMetricFilter;
    if (!inner) throw new Error('notExpression may only wrap a dimensionOrMetricFilter');
    return compileDimOrMetric(inner, true, 'condition', null);
  }
  if (x.eventFilter) return compileEventFilter(x.eventFilter);
  throw new Error('expected a leaf expression');
}

/** Compiles a filter expression to CNF (andGroup of orGroups of leaves; §2.6). */
export function compileExpr(x: FilterExpression): Expr {
  const leaves: Leaf[] = [];
  const add = (leaf: FilterExpression): number => leaves.push(compileLeaf(leaf)) - 1;
  const group = (g: FilterExpression): number[] =>
    g.orGroup ? g.orGroup.filterExpressions.map(add) : [add(g)];
  const groups = x.andGroup ? x.andGroup.filterExpressions.map(group) : [group(x)];
  return { leaves, groups };
}

// ---------------------------------------------------------------------------------------------
// A unit: a set of events (one event, a session prefix, a sequence step's range) fed in order.

/**
 * D10: within a unit, an eventFilter or dimension leaf holds if some event of the unit matches
 * (a NOT leaf: if some event of the unit does not match); a metric leaf holds if the metric of
 * the whole unit passes (a NOT leaf: if it fails).
 */
export class UnitState {
  private readonly latch: boolean[];
  private readonly accs: MetricAcc[][];

  constructor(private readonly expr: Expr) {
    this.latch = expr.leaves.map(() => false);
    this.accs = expr.leaves.map((l) =>
      l.kind === 'metric'
        ? [new MetricAcc(l.metric, l.eventName)]
        : l.kind === 'count'
          ? l.parts.map((p) => new MetricAcc(p.metric, p.eventName))
          : [],
    );
  }

  add(k: number, tl: Timeline): void {
    const e = tl.events[k]!;
    const s = tl.session[k]!;
    this.expr.leaves.forEach((leaf, i) => {
      if (leaf.kind === 'event') this.latch[i] ||= leaf.match(e);
      else if (leaf.kind === 'dim') this.latch[i] ||= leaf.match(e) !== leaf.negated;
      else for (const acc of this.accs[i]!) acc.add(e, s);
    });
  }

  private holds(i: number): boolean {
    const leaf = this.expr.leaves[i]!;
    if (leaf.kind === 'event' || leaf.kind === 'dim') return this.latch[i]!;
    const accs = this.accs[i]!;
    if (leaf.kind === 'metric') return leaf.test(accs[0]!.value()) !== leaf.negated;
    return leaf.parts.every((p, j) => p.test(accs[j]!.value()) !== p.negated);
  }

  satisfied(): boolean {
    return this.expr.groups.every((g) => g.some((i) => this.holds(i)));
  }

  /** D13: the last added event k matches a positive (non-negated) leaf of the unit. */
  positive(k: number, tl: Timeline): boolean {
    const e = tl.events[k]!;
    return this.expr.leaves.some((leaf, i) => {
      switch (leaf.kind) {
        case 'event':
          return leaf.match(e);
        case 'dim':
          return !leaf.negated && leaf.match(e);
        case 'metric':
          return !leaf.negated && contributes(leaf, k, tl) && this.holds(i);
        case 'count':
          return e.event_name === leaf.eventName && this.holds(i);
      }
    });
  }
}

/** Whether an expression holds on event k alone (scope WITHIN_SAME_EVENT). */
export function holdsOnEvent(expr: Expr, k: number, tl: Timeline): boolean {
  const u = new UnitState(expr);
  u.add(k, tl);
  return u.satisfied();
}

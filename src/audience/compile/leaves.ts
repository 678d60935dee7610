// Event-level predicates: one boolean SQL expression per event row for the leaves that can be
// judged on a single event (eventFilter without eventCount, dimension filters, NOT of those).
// A visitor with one short method per node; values are always bound parameters.

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
import { DIMENSION_COLUMNS, NUMERIC_STRING_PATTERN } from '../../domain/event.ts';
import {
  HOST_NAME_PATTERN,
  PAGE_PATH_PATTERN,
  resolveField,
  type FieldRef,
  type MetricName,
} from '../fields.ts';
import type { SqlDialect } from './dialect.ts';
import { and, ident, join, or, param, sql, type Fragment, type Param } from './sql.ts';

/** Thrown when a leaf cannot be judged on one event (metrics, eventCount); callers route elsewhere. */
export class NotEventLevelError extends Error {
  override readonly name = 'NotEventLevelError';
}

/** A dimension value as SQL: its string form and its number form (both NULL when absent). */
export interface ValueSql {
  str: Fragment;
  num: Fragment;
}

const COLUMN_NAMES = DIMENSION_COLUMNS;
const ITEM_COLUMNS: ReadonlySet<string> = new Set(['items']);

export function numericValue(v: NumericValue): number {
  return 'int64Value' in v ? Number(v.int64Value) : v.doubleValue;
}

/** True when the eventFilter's parameter expression holds an eventCount leaf. */
export function eventCountLeaf(f: EventFilter): DimensionOrMetricFilter | undefined {
  for (const e of f.eventParameterFilterExpression?.andGroup?.filterExpressions ?? []) {
    const leaf = e.dimensionOrMetricFilter ?? e.notExpression?.dimensionOrMetricFilter;
    if (leaf?.fieldName === 'eventCount') return leaf;
  }
  return undefined;
}

/**
 * D9: the eventCount leaves of an event filter (AND-ed, each possibly under NOT), which are all a
 * count over events of the filter's name judges; its other parameter leaves are ignored there.
 */
export function eventCountParts(f: EventFilter): { filter: DimensionOrMetricFilter; negated: boolean }[] {
  return (f.eventParameterFilterExpression?.andGroup?.filterExpressions ?? []).flatMap((p) => {
    const filter = p.dimensionOrMetricFilter ?? p.notExpression?.dimensionOrMetricFilter;
    return filter?.fieldName === 'eventCount' ? [{ filter, negated: p.notExpression !== undefined }] : [];
  });
}

/** Columns read by metric values (not filterable dimensions themselves). */
const METRIC_COLUMNS: ReadonlySet<string> = new Set([
  'ecommerce_purchase_revenue',
  'ecommerce_refund_value',
  'ecommerce_transaction_id',
  'event_name',
]);

/** Per-event inputs of the metrics (reference MetricAcc, D6/D18/D19), each NULL when absent. */
export interface MetricInputs {
  /** The numeric `value` param. */
  value: Fragment;
  /** The numeric `engagement_time_msec` param. */
  msec: Fragment;
  /** `session_engaged` param = "1". */
  engagedFlag: Fragment;
  /** page_view or screen_view. */
  view: Fragment;
  revenue: Fragment;
  refund: Fragment;
  /** A purchase with a transaction id. */
  transaction: Fragment;
  purchase: Fragment;
}

export interface PredicateOptions {
  /**
   * Judge top-level metric leaves on the event alone (the metric of {e}): right only where the
   * unit is one event (WITHIN_SAME_EVENT). Metric parameter leaves of an eventFilter are always
   * judged so (D9).
   */
  singleEventMetrics?: boolean;
}

export class EventPredicateCompiler {
  constructor(
    private readonly dialect: SqlDialect,
    private readonly options: PredicateOptions = {},
  ) {}

  /** A CNF expression (or any sub-expression) judged on one event. */
  visitExpression(e: FilterExpression, context: 'condition' | 'eventParameter' = 'condition'): Fragment {
    if (e.andGroup) return this.visitAnd(e.andGroup.filterExpressions, context);
    if (e.orGroup) return this.visitOr(e.orGroup.filterExpressions, context);
    if (e.notExpression) return this.visitNot(e.notExpression, context);
    if (e.eventFilter) return this.visitEventFilter(e.eventFilter);
    if (e.dimensionOrMetricFilter) return this.visitDimension(e.dimensionOrMetricFilter, context);
    throw new NotEventLevelError('empty expression');
  }

  visitAnd(items: FilterExpression[], context: 'condition' | 'eventParameter'): Fragment {
    return and(items.map((i) => this.visitExpression(i, context)));
  }

  visitOr(items: FilterExpression[], context: 'condition' | 'eventParameter'): Fragment {
    return or(items.map((i) => this.visitExpression(i, context)));
  }

  // A missing value makes the leaf false, so NOT of it is true.
  visitNot(inner: FilterExpression, context: 'condition' | 'eventParameter'): Fragment {
    return sql`(NOT COALESCE(${this.visitExpression(inner, context)}, FALSE))`;
  }

  visitEventFilter(f: EventFilter): Fragment {
    if (eventCountLeaf(f)) throw new NotEventLevelError('eventCount is an aggregate');
    const name = sql`event_name = ${param(f.eventName)}`;
    if (!f.eventParameterFilterExpression) return name;
    // CASE rather than AND: DuckDB evaluates both sides of an AND in a projection, and the
    // parameter side (JSON extraction) is the costly one; a CASE evaluates it only on this name.
    return sql`CASE WHEN ${name} THEN ${this.visitExpression(f.eventParameterFilterExpression, 'eventParameter')} ELSE FALSE END`;
  }

  /**
   * An eventFilter with eventCount leaves judged on a unit of one event (a sequence step scoped
   * WITHIN_SAME_EVENT): the count is 1 when the event has the name, else 0, and every eventCount
   * leaf (or its NOT) must pass on it; the other parameter leaves are ignored, as in every unit.
   * So `eventCount < 1` holds on an event of any other name.
   */
  visitEventCountOnEvent(f: EventFilter): Fragment {
    const count = sql`(CASE WHEN event_name = ${param(f.eventName)} THEN 1 ELSE 0 END)`;
    return and(
      eventCountParts(f).map(({ filter, negated }) => {
        const test = sql`COALESCE(${this.visitMetricFilter(count, filter)}, FALSE)`;
        return negated ? sql`(NOT ${test})` : test;
      }),
    );
  }

  visitDimension(f: DimensionOrMetricFilter, context: 'condition' | 'eventParameter'): Fragment {
    const ref = resolveField(f.fieldName, context);
    if (ref?.kind === 'metric' && (context === 'eventParameter' || this.options.singleEventMetrics))
      return sql`COALESCE(${this.visitMetricFilter(this.metricOfEvent(ref.metric), f)}, FALSE)`;
    if (!ref || ref.kind === 'metric')
      throw new NotEventLevelError(`not an event-level field: ${f.fieldName}`);
    if ('item' in ref) return this.visitItem(ref.item, f);
    return sql`COALESCE(${this.visitFilter(this.valueOf(ref), f)}, FALSE)`;
  }

  /** True when any item of the event matches (D8); NOT of it: no item matches, or no items. */
  visitItem(key: string, f: DimensionOrMetricFilter): Fragment {
    const items = ident('items', ITEM_COLUMNS);
    return this.dialect.jsonAny(
      items,
      param(this.dialect.jsonPath([])),
      (item) => sql`COALESCE(${this.visitFilter(this.itemValue(item, key), f)}, FALSE)`,
    );
  }

  /**
   * An item's value (reference itemRaw, D8): its own field when the item has that key (even
   * null: then no value), else `item_params[key]`; key "item_params" reads only the latter.
   */
  itemValue(item: Fragment, key: string): ValueSql {
    const nested = this.rawValue(item, ['item_params', key]);
    if (key === 'item_params') return nested;
    const own = this.rawValue(item, [key]);
    const has = this.dialect.jsonHas(item, param(this.dialect.jsonPath([key])));
    return {
      str: sql`(CASE WHEN ${has} THEN ${own.str} ELSE ${nested.str} END)`,
      num: sql`(CASE WHEN ${has} THEN ${own.num} ELSE ${nested.num} END)`,
    };
  }

  /**
   * A raw item value (reference rawString / rawNumber): a JSON string (its number: parseDecimal),
   * a JSON number (JavaScript's text of it), or a typed param object; anything else has no value.
   */
  private rawValue(json: Fragment, keys: readonly string[]): ValueSql {
    const d = this.dialect;
    const s = d.jsonStringValue(json, param(d.jsonPath(keys)));
    const n = this.finite(d.jsonNumberValue(json, param(d.jsonPath(keys))));
    const typed = this.typedItemParam(json, keys);
    return {
      str: sql`COALESCE(${s}, ${d.jsNumberText(n)}, ${typed.str})`,
      num: sql`(CASE WHEN ${s} IS NOT NULL THEN ${this.parseNumber(s)} ELSE COALESCE(${n}, ${typed.num}) END)`,
    };
  }

  /**
   * An item param as stored ({string_value} | {int_value} | {double_value}), read as the reference's
   * asParamValue does: the first arm of the right JSON type wins, an int_value only when integral.
   */
  private typedItemParam(json: Fragment, keys: readonly string[]): ValueSql {
    const d = this.dialect;
    const at = (arm: string): Param => param(d.jsonPath([...keys, arm]));
    const s = d.jsonStringValue(json, at('string_value'));
    const i = d.jsonNumberValue(json, at('int_value'));
    const int = sql`(CASE WHEN ${d.isFinite(i)} AND ${i} = trunc(${i}) THEN ${i} END)`;
    const dbl = this.finite(d.jsonNumberValue(json, at('double_value')));
    return {
      str: sql`(CASE WHEN ${s} IS NOT NULL THEN ${s} WHEN ${int} IS NOT NULL THEN ${d.jsNumberText(int)} ELSE ${d.jsNumberText(dbl)} END)`,
      num: sql`(CASE WHEN ${s} IS NOT NULL THEN ${this.parseNumber(s)} ELSE COALESCE(${int}, ${dbl}) END)`,
    };
  }

  private finite(x: Fragment): Fragment {
    return sql`(CASE WHEN ${this.dialect.isFinite(x)} THEN ${x} END)`;
  }

  visitFilter(v: ValueSql, f: DimensionOrMetricFilter): Fragment {
    if (f.stringFilter) return this.visitStringFilter(v.str, f.stringFilter);
    if (f.inListFilter) return this.visitInListFilter(v.str, f.inListFilter);
    if (f.numericFilter) return this.visitNumericFilter(v.num, f.numericFilter);
    if (f.betweenFilter) return this.visitBetweenFilter(v.num, f.betweenFilter);
    throw new NotEventLevelError('filter without a condition');
  }

  visitStringFilter(value: Fragment, f: StringFilter): Fragment {
    const d = this.dialect;
    const x = f.caseSensitive ? value : d.lower(value);
    const p = param(f.caseSensitive ? f.value : f.value.toLowerCase());
    switch (f.matchType) {
      case 'EXACT':
        return sql`(${x} = ${p})`;
      case 'BEGINS_WITH':
        return d.startsWith(x, p);
      case 'ENDS_WITH':
        return d.endsWith(x, p);
      case 'CONTAINS':
        return d.contains(x, p);
      case 'FULL_REGEXP':
        return d.regexFullMatch(
          f.caseSensitive ? value : x,
          param(f.caseSensitive ? f.value : `(?i)${f.value}`),
        );
    }
  }

  visitInListFilter(value: Fragment, f: InListFilter): Fragment {
    const x = f.caseSensitive ? value : this.dialect.lower(value);
    const values = f.values.map((v) => param(f.caseSensitive ? v : v.toLowerCase()));
    return sql`(${x} IN (${join(
      values.map((v) => sql`${v}`),
      ', ',
    )}))`;
  }

  /** A metric's value tested by a numeric or between filter (validation allows no other). */
  visitMetricFilter(value: Fragment, f: DimensionOrMetricFilter): Fragment {
    if (f.numericFilter) return this.visitNumericFilter(value, f.numericFilter);
    if (f.betweenFilter) return this.visitBetweenFilter(value, f.betweenFilter);
    throw new NotEventLevelError('a metric needs a numeric or between filter');
  }

  metricInputs(): MetricInputs {
    const col = (name: string): Fragment => ident(name, METRIC_COLUMNS);
    const name = col('event_name');
    return {
      value: this.typedJson(sql`event_params`, 'value').num,
      msec: this.typedJson(sql`event_params`, 'engagement_time_msec').num,
      engagedFlag: sql`COALESCE(${this.typedJson(sql`event_params`, 'session_engaged').str} = '1', FALSE)`,
      view: sql`${name} IN ('page_view', 'screen_view')`,
      revenue: col('ecommerce_purchase_revenue'),
      refund: col('ecommerce_refund_value'),
      transaction: sql`(${name} = 'purchase' AND ${col('ecommerce_transaction_id')} IS NOT NULL)`,
      purchase: sql`(${name} = 'purchase')`,
    };
  }

  /** The metric over the one-event set {e} (reference MetricAcc fed one event). */
  metricOfEvent(metric: MetricName): Fragment {
    const m = this.metricInputs();
    const flag = (x: Fragment): Fragment => sql`(CASE WHEN ${x} THEN 1 ELSE 0 END)`;
    switch (metric) {
      case 'eventCount':
      case 'sessions':
        return sql`1`;
      case 'eventValue':
        return sql`COALESCE(${m.value}, 0)`;
      case 'engagedSessions':
        return flag(sql`(${m.engagedFlag} OR COALESCE(${m.msec}, 0) >= 10000)`);
      case 'userEngagementDuration':
        return sql`(COALESCE(${m.msec}, 0) / 1000)`;
      case 'purchaseRevenue':
      case 'totalRevenue':
      case 'userLtvRevenue':
        return sql`(COALESCE(${m.revenue}, 0) - COALESCE(${m.refund}, 0))`;
      case 'transactions':
        return flag(m.transaction);
      case 'ecommercePurchases':
        return flag(m.purchase);
    }
  }

  visitNumericFilter(num: Fragment, f: NumericFilter): Fragment {
    const p = param(numericValue(f.value));
    switch (f.operation) {
      case 'EQUAL':
        return sql`(${num} = ${p})`;
      case 'LESS_THAN':
        return sql`(${num} < ${p})`;
      case 'GREATER_THAN':
        return sql`(${num} > ${p})`;
    }
  }

  visitBetweenFilter(num: Fragment, f: BetweenFilter): Fragment {
    return sql`(${num} >= ${param(numericValue(f.fromValue))} AND ${num} <= ${param(numericValue(f.toValue))})`;
  }

  // --- values -------------------------------------------------------------------------------

  valueOf(ref: Exclude<FieldRef, { kind: 'metric' } | { item: string }>): ValueSql {
    if ('column' in ref) {
      const col = ident(ref.column, COLUMN_NAMES);
      return { str: col, num: this.parseNumber(col) };
    }
    if ('param' in ref) return this.typedJson(sql`event_params`, ref.param);
    if ('userProperty' in ref) return this.typedJson(sql`user_properties`, ref.userProperty);
    return this.derived(ref.derived);
  }

  /** A compact typed JSON value {"s"|"i"|"d": …}, with paramString's string form and paramNumber's number. */
  typedJson(column: Fragment, key: string): ValueSql {
    const d = this.dialect;
    const at = (arm: 's' | 'i' | 'd'): Param => param(d.jsonPath([key, arm]));
    const [s, i, x] = [at('s'), at('i'), at('d')].map((p) => d.jsonText(column, p)) as [
      Fragment,
      Fragment,
      Fragment,
    ];
    return {
      // Doubles are re-rendered from their value: imports store DuckDB's text ("50.0").
      str: sql`COALESCE(${s}, ${i}, ${d.jsNumberText(d.tryDouble(x))})`,
      num: sql`COALESCE(${d.tryDouble(i)}, ${d.tryDouble(x)}, ${this.parseNumber(s)})`,
    };
  }

  derived(name: 'pagePath' | 'hostName' | 'unifiedPagePathScreen'): ValueSql {
    const d = this.dialect;
    const location = this.typedJson(sql`event_params`, 'page_location').str;
    const path = sql`CASE WHEN ${location} IS NULL THEN NULL ELSE COALESCE(NULLIF(${d.regexGroup1(location, param(PAGE_PATH_PATTERN))}, ''), '/') END`;
    let str: Fragment;
    if (name === 'pagePath') str = path;
    else if (name === 'hostName') str = sql`NULLIF(${d.regexGroup1(location, param(HOST_NAME_PATTERN))}, '')`;
    else str = sql`COALESCE(${this.typedJson(sql`event_params`, 'firebase_screen').str}, ${path})`;
    return { str, num: this.parseNumber(str) };
  }

  /** parseDecimal: only plain decimals count as numbers; non-finite results are NULL. */
  parseNumber(str: Fragment): Fragment {
    const n = this.dialect.tryDouble(str);
    return sql`CASE WHEN ${this.dialect.regexFullMatch(str, this.numericPattern)} AND ${this.dialect.isFinite(n)} THEN ${n} END`;
  }

  private readonly numericPattern = param(NUMERIC_STRING_PATTERN);
}

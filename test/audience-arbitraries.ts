// fast-check arbitraries for the differential test: audiences drawn from the whole grammar (in the
// normalised AudienceDefinition form) and small GA4-like event histories that hit their leaves.
// Filter values are drawn mostly from the values the events carry (so conditions do match), with
// hostile strings mixed in.

import fc from 'fast-check';
import type {
  AudienceDefinition,
  DimensionOrMetricFilter,
  EventFilter,
  FilterClause,
  FilterExpression,
  FilterScope,
  NumericValue,
  SequenceStep,
} from '../src/domain/audience.ts';
import type { Params, ParamValue, StoredEvent, UserPropertyValue } from '../src/domain/event.ts';
import { baseEvent } from './helpers/event-fixtures.ts';

export const EVENT_NAMES = [
  'page_view',
  'purchase',
  'add_to_cart',
  'view_item',
  'sign_up',
  'refund',
  'scroll',
] as const;
const SCOPES: FilterScope[] = [
  'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
  'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
  'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
];
const RANK: Record<FilterScope, number> = {
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 0,
  AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 1,
  AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 2,
};

/** Strings that must match literally: quotes, backslashes, LIKE and regex metacharacters, NUL, unicode. */
export const HOSTILE = [
  "it's",
  'a"b',
  'back\\slash',
  '50%',
  'under_score',
  '%',
  '_',
  '.*',
  '(a|b)',
  '[x]',
  'nul\u0000byte',
  'Ünïcödé ✓ 𝄞',
  '$1',
  '?',
];
const PATHS = ['/pricing', '/PRICING', '/pricing/team', '/home', '/p/1', '/', '/a%b', '/a_b'];
const HOSTS = ['https://x.com', 'http://Shop.Example.com', 'https://x.com:8080', 'android-app://com.x', ''];
const STRINGS = [
  'EUR',
  'USD',
  'eur',
  'pro',
  'Pro',
  'free',
  'enterprise',
  'desktop',
  'mobile',
  'US',
  'CA',
  'us',
  '1',
  '20',
  '2.5',
  '1e2',
  'abc',
  ...HOSTILE,
];

/** Values each dimension takes in the generated events (plus near misses). */
const POOLS: Record<string, readonly string[]> = {
  eventName: [...EVENT_NAMES, 'PAGE_VIEW', 'page'],
  deviceCategory: ['desktop', 'mobile', 'Mobile', 'tablet'],
  countryId: ['US', 'CA', 'us'],
  pagePath: PATHS,
  unifiedPagePathScreen: [...PATHS, 'Home'],
  hostName: ['x.com', 'shop.example.com', 'Shop.Example.com', 'com.x'],
  pageLocation: ['https://x.com/pricing', 'https://x.com', 'http://Shop.Example.com/home?q=1', '/a%b'],
  page_location: ['https://x.com/pricing', 'https://x.com', 'http://Shop.Example.com/home?q=1', '/a%b'],
  currencyCode: ['EUR', 'USD', 'eur'],
  currency: ['EUR', 'USD', 'eur'],
  'customUser:plan': ['pro', 'Pro', 'free', 'enterprise'],
  platform: ['WEB', 'web', 'IOS'],
  transactionId: ['T1', 'T2', 't3'],
  itemId: ['a', 'B', '50%', '1'],
  itemName: ['a', 'B', '50%', '1', "it's"],
  'customItem:color': ['red', 'Red', '20', '2.5e1', '1e-7'],
};

const T0 = Date.UTC(2024, 4, 20) * 1000; // 2024-05-20 (µs)
export const CREATE_TIME = BigInt(Date.UTC(2024, 5, 1)) * 1000n;
const SPAN_MINUTES = 24 * 24 * 60; // events over ~24 days: crosses day boundaries and the createTime

// ---------------------------------------------------------------------------------------------
// Audiences

/**
 * 'any': the whole grammar; 'sql': the closed forms of members-sql.ts; 'engine': everything the
 * SQL path compiles (planAudience must answer 'sql'): all but sequence steps over a range with
 * metric leaves.
 */
type Mode = 'any' | 'sql' | 'engine';

const numericValue: fc.Arbitrary<NumericValue> = fc.oneof(
  fc.integer({ min: -2, max: 60 }).map((n) => ({ int64Value: BigInt(n) })),
  fc.constantFrom(0, 1.5, 2.5, 20, 49.99, 100, -1).map((d) => ({ doubleValue: d })),
);

function numOf(v: NumericValue): number {
  return 'int64Value' in v ? Number(v.int64Value) : v.doubleValue;
}

function stringValue(field: string): fc.Arbitrary<string> {
  const pool = POOLS[field] ?? STRINGS;
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 3 }) },
  );
}

const regexValue = fc.constantFrom(
  'pro|enterprise',
  '/pricing.*',
  '.*%.*',
  'E.R',
  '[0-9]+',
  'u.',
  '.*',
  'a\\.b',
  '(?:/p/)?\\d',
  'page_.*',
  'DESKTOP|mobile',
);

type LeafFilter = Pick<
  DimensionOrMetricFilter,
  'stringFilter' | 'inListFilter' | 'numericFilter' | 'betweenFilter'
>;

function stringish(field: string): fc.Arbitrary<LeafFilter> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record({
          matchType: fc.constantFrom('EXACT', 'BEGINS_WITH', 'ENDS_WITH', 'CONTAINS' as const),
          value: stringValue(field),
          caseSensitive: fc.boolean(),
        })
        .map((stringFilter) => ({ stringFilter })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ value: regexValue, caseSensitive: fc.boolean() })
        .map((r) => ({ stringFilter: { matchType: 'FULL_REGEXP' as const, ...r } })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          values: fc.uniqueArray(stringValue(field), { minLength: 1, maxLength: 3 }),
          caseSensitive: fc.boolean(),
        })
        .map((inListFilter) => ({ inListFilter })),
    },
  );
}

const numericish: fc.Arbitrary<LeafFilter> = fc.oneof(
  fc
    .record({
      operation: fc.constantFrom('EQUAL', 'LESS_THAN', 'GREATER_THAN' as const),
      value: numericValue,
    })
    .map((numericFilter) => ({ numericFilter })),
  fc
    .tuple(numericValue, numericValue)
    .map(([a, b]) =>
      numOf(a) <= numOf(b)
        ? { betweenFilter: { fromValue: a, toValue: b } }
        : { betweenFilter: { fromValue: b, toValue: a } },
    ),
);

const NUMERIC_FIELDS = new Set([
  'customUser:score',
  'customEvent:k1',
  'customEvent:value',
  'customItem:price',
  'customItem:color',
  'value',
  'k1',
]);

function filterFor(field: string): fc.Arbitrary<LeafFilter> {
  return NUMERIC_FIELDS.has(field)
    ? fc.oneof({ weight: 3, arbitrary: numericish }, { weight: 1, arbitrary: stringish(field) })
    : fc.oneof({ weight: 5, arbitrary: stringish(field) }, { weight: 1, arbitrary: numericish });
}

const DIMENSIONS = [
  'eventName',
  'deviceCategory',
  'countryId',
  'pagePath',
  'hostName',
  'unifiedPagePathScreen',
  'pageLocation',
  'currencyCode',
  'customUser:plan',
  'customUser:score',
  'customEvent:k1',
  'customEvent:value',
  'itemId',
  'itemName',
  'customItem:price',
  'customItem:color',
  'platform',
  'transactionId',
];
const SQL_DIMENSIONS = DIMENSIONS;
const METRICS = [
  'eventCount',
  'eventValue',
  'sessions',
  'engagedSessions',
  'userEngagementDuration',
  'purchaseRevenue',
  'totalRevenue',
  'userLtvRevenue',
  'transactions',
  'ecommercePurchases',
];
/** Metrics the SQL path takes in a static N-day window: all of them. */
const N_DAY_METRICS = new Set(METRICS);
const EVENT_PARAMS = [
  'value',
  'currency',
  'k1',
  'page_location',
  'customEvent:k1',
  'itemName',
  'customItem:price',
  'customItem:color',
];
const SQL_EVENT_PARAMS = EVENT_PARAMS;

function timing(
  scope: FilterScope,
  mode: Mode,
): fc.Arbitrary<Pick<DimensionOrMetricFilter, 'atAnyPointInTime' | 'inAnyNDayPeriod'>> {
  if (scope !== 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS') return fc.constant({ atAnyPointInTime: false });
  if (mode === 'sql')
    return fc.record({
      atAnyPointInTime: fc.constant(true),
      inAnyNDayPeriod: fc.option(fc.constantFrom(1, 7), { nil: undefined }),
    });
  if (mode === 'engine')
    return fc.oneof(
      fc.record({ atAnyPointInTime: fc.boolean() }),
      // Static and dynamic N-day windows, of dimensions and of metrics.
      fc.record({
        atAnyPointInTime: fc.boolean(),
        inAnyNDayPeriod: fc.constantFrom(1, 2, 7),
      }),
    );
  return fc.record({
    atAnyPointInTime: fc.boolean(),
    inAnyNDayPeriod: fc.option(fc.constantFrom(1, 2, 3, 7), { nil: undefined }),
  });
}

function fieldLeaf(
  fields: readonly string[],
  scope: FilterScope,
  mode: Mode,
): fc.Arbitrary<DimensionOrMetricFilter> {
  return fc
    .constantFrom(...fields)
    .chain((fieldName) =>
      fc.tuple(filterFor(fieldName), timing(scope, mode)).map(([f, t]) => ({ fieldName, ...f, ...t })),
    );
}

function dimensionLeaf(scope: FilterScope, mode: Mode): fc.Arbitrary<DimensionOrMetricFilter> {
  if (mode === 'sql') return fieldLeaf(SQL_DIMENSIONS, scope, mode);
  return fc.oneof(
    { weight: 3, arbitrary: fieldLeaf(mode === 'engine' ? SQL_DIMENSIONS : DIMENSIONS, scope, mode) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...METRICS), numericish, timing(scope, mode))
        .map(([fieldName, f, t]) =>
          // The SQL path's N-day metrics (static ones: all).
          mode === 'engine' && !N_DAY_METRICS.has(fieldName)
            ? { fieldName, ...f, atAnyPointInTime: t.atAnyPointInTime }
            : { fieldName, ...f, ...t },
        ),
    },
  );
}

function eventFilter(scope: FilterScope, mode: Mode): fc.Arbitrary<EventFilter> {
  const paramLeaf: fc.Arbitrary<FilterExpression> = fc
    .tuple(
      fc
        .constantFrom(...(mode === 'any' ? EVENT_PARAMS : SQL_EVENT_PARAMS))
        .chain((fieldName) =>
          filterFor(fieldName).map((f) => ({ fieldName, ...f, atAnyPointInTime: false })),
        ),
      fc.boolean(),
    )
    .map(([leaf, neg]) =>
      neg ? { notExpression: { dimensionOrMetricFilter: leaf } } : { dimensionOrMetricFilter: leaf },
    );
  const countLeaf: fc.Arbitrary<FilterExpression> =
    mode === 'sql'
      ? fc
          .record({ x: fc.integer({ min: 0, max: 3 }), atAnyPointInTime: fc.boolean() })
          .map(({ x, atAnyPointInTime }) => ({
            dimensionOrMetricFilter: {
              fieldName: 'eventCount',
              numericFilter: { operation: 'GREATER_THAN' as const, value: { int64Value: BigInt(x) } },
              atAnyPointInTime,
            },
          }))
      : fc
          .tuple(numericish, timing(scope, mode))
          .map(([f, t]) => ({ dimensionOrMetricFilter: { fieldName: 'eventCount', ...f, ...t } }));
  const withCount = mode === 'sql' && scope !== 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS' ? 0 : 2;
  return fc
    .record({
      eventName: fc.constantFrom(...EVENT_NAMES),
      params: fc.oneof(
        { weight: 4, arbitrary: fc.constant([] as FilterExpression[]) },
        { weight: 2, arbitrary: fc.array(paramLeaf, { minLength: 1, maxLength: 2 }) },
        {
          weight: withCount,
          arbitrary: fc.tuple(countLeaf, fc.array(paramLeaf, { maxLength: 1 })).map(([c, ps]) => [c, ...ps]),
        },
      ),
    })
    .map(({ eventName, params }) =>
      params.length === 0
        ? { eventName }
        : { eventName, eventParameterFilterExpression: { andGroup: { filterExpressions: params } } },
    );
}

function leafExpr(scope: FilterScope, mode: Mode): fc.Arbitrary<FilterExpression> {
  return fc.oneof(
    { weight: 4, arbitrary: eventFilter(scope, mode).map((eventFilter) => ({ eventFilter })) },
    {
      weight: 3,
      arbitrary: dimensionLeaf(scope, mode).map((dimensionOrMetricFilter) => ({ dimensionOrMetricFilter })),
    },
    {
      weight: 1,
      arbitrary: dimensionLeaf(scope, mode).map((dimensionOrMetricFilter) => ({
        notExpression: { dimensionOrMetricFilter },
      })),
    },
  );
}

function cnf(scope: FilterScope, mode: Mode): fc.Arbitrary<FilterExpression> {
  return fc
    .array(fc.array(leafExpr(scope, mode), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 })
    .map((groups) => ({
      andGroup: { filterExpressions: groups.map((g) => ({ orGroup: { filterExpressions: g } })) },
    }));
}

// Durations that the burst offsets below hit exactly (inclusive limits are edges worth testing).
const duration = fc.option(
  fc.constantFrom(60n, 600n, 1800n, 3600n, 86400n, 604800n).map((s) => s * 1_000_000n),
  { nil: undefined },
);

function simpleClause(mode: Mode): fc.Arbitrary<Omit<FilterClause, 'clauseType'>> {
  return fc
    .constantFrom(...SCOPES)
    .chain((scope) =>
      cnf(scope, mode).map((filterExpression) => ({ simpleFilter: { scope, filterExpression } })),
    );
}

function sequenceClause(mode: Mode): fc.Arbitrary<Omit<FilterClause, 'clauseType'>> {
  const scopes: FilterScope[] = [
    'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION',
    'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
  ];
  return fc
    .constantFrom<FilterScope>(...scopes)
    .chain((scope) => {
      const stepScopes = mode !== 'any' ? SCOPES.slice(0, 1) : SCOPES.filter((s) => RANK[s] <= RANK[scope]);
      const step: fc.Arbitrary<SequenceStep> = fc.constantFrom(...stepScopes).chain((stepScope) =>
        fc.record({
          scope: fc.constant(stepScope),
          immediatelyFollows: mode !== 'any' ? fc.constant(false) : fc.boolean(),
          constraintDurationMicros: duration,
          // Steps: what the sequence compiler takes today (its own engineer widens it).
          filterExpression: cnf(stepScope, mode === 'engine' ? 'sql' : mode),
        }),
      );
      return fc.record({
        scope: fc.constant(scope),
        sequenceMaximumDurationMicros: duration,
        sequenceSteps: fc.array(step, { minLength: 1, maxLength: 3 }),
      });
    })
    .map((sequenceFilter) => ({ sequenceFilter }));
}

function clause(type: 'INCLUDE' | 'EXCLUDE', mode: Mode): fc.Arbitrary<FilterClause> {
  return fc
    .oneof({ weight: 3, arbitrary: simpleClause(mode) }, { weight: 1, arbitrary: sequenceClause(mode) })
    .map((c) => ({ clauseType: type, ...c }));
}

function audience(mode: Mode): fc.Arbitrary<AudienceDefinition> {
  return fc.record({
    displayName: fc.constant('Random'),
    description: fc.constant('x'),
    membershipDurationDays: fc.constantFrom(1, 3, 7, 30, 30, 540),
    exclusionDurationMode:
      mode === 'sql'
        ? fc.constant('EXCLUDE_PERMANENTLY' as const)
        : fc.constantFrom('EXCLUDE_TEMPORARILY', 'EXCLUDE_PERMANENTLY' as const),
    filterClauses: fc
      .tuple(
        fc.array(clause('INCLUDE', mode), { minLength: 1, maxLength: 2 }),
        fc.oneof(
          { weight: 2, arbitrary: fc.constant([] as FilterClause[]) },
          { weight: 1, arbitrary: fc.array(clause('EXCLUDE', mode), { minLength: 1, maxLength: 2 }) },
        ),
      )
      .map(([i, e]) => [...i, ...e]),
  });
}

/** Half from the whole grammar, half from the closed forms of members-sql.ts. */
export const audienceArb: fc.Arbitrary<AudienceDefinition> = fc.oneof(audience('any'), audience('sql'));

/** Audiences of the grammar the SQL path compiles: the planner must never send one to the fold. */
export const engineAudienceArb: fc.Arbitrary<AudienceDefinition> = audience('engine');

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// Events

const paramValue: fc.Arbitrary<ParamValue> = fc.oneof(
  fc.constantFrom(...STRINGS).map((s) => ({ string_value: s })),
  fc.integer({ min: -3, max: 120 }).map((n) => ({ int_value: BigInt(n) })),
  fc.constantFrom(0.5, 1.5, 20, 25.25, 50, 1e-7, 100.125, -2).map((d) => ({ double_value: d })),
);

/**
 * An item param as stored (src/ingest/items.ts), plus shapes only a hand-made import could hold: a
 * non-integral int_value (not an int: the next arm counts), a string int_value, two arms at once.
 */
const itemParam: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom('red', 'Red', '20', '2.5e1', ' 20', ...HOSTILE)
      .map((s) => ({ string_value: s })),
  },
  { weight: 2, arbitrary: fc.constantFrom(0, 5, 20, -3, 100).map((n) => ({ int_value: n })) },
  { weight: 2, arbitrary: fc.constantFrom(1e-7, 1.5, 20, 25.25, 1e21).map((d) => ({ double_value: d })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { int_value: 1.5, double_value: 20 },
      { int_value: '7' },
      { string_value: 'x', int_value: 20 },
      { string_value: 5, double_value: 100 },
      {},
    ),
  },
);

/** Items: own fields (strings, numbers, null), custom params under item_params (D8). */
const itemArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    item_id: fc.constantFrom('a', 'B', '50%', '1'),
    item_name: fc.constantFrom('a', 'B', '50%', '1', "it's", 'Ünïcödé ✓ 𝄞'),
    price: fc.constantFrom<unknown>(1.5, 20, 100, 1e-7, null, '20', '2.5e1', 'abc'),
    color: fc.constantFrom<unknown>('red', 20, null),
    item_params: fc.record({ price: itemParam, color: itemParam }, { requiredKeys: [] }),
  },
  { requiredKeys: ['item_id'] },
);

interface RawEvent {
  name: string;
  offsetMinutes: number;
  session: number;
  params: Params;
  plan: string | null;
  score: ParamValue | null;
  device: string | null;
  country: string | null;
  items: Record<string, unknown>[];
  revenue: number | null;
}

const rawEvent: fc.Arbitrary<RawEvent> = fc.record({
  name: fc.constantFrom(...EVENT_NAMES),
  // ~24 days from 05-20, so spans cross day boundaries and the createTime.
  // Spread over SPAN_MINUTES, or in bursts (a few minutes apart) so sequences and durations bite.
  offsetMinutes: fc.oneof(
    fc.integer({ min: 0, max: SPAN_MINUTES }),
    fc
      .tuple(
        fc.constantFrom(0, 600, 1439, 7 * 1440 + 5, 12 * 1440 + 1430, 14 * 1440),
        fc.oneof(fc.constantFrom(0, 0, 1, 10, 11, 30, 60, 61), fc.integer({ min: 0, max: 90 })),
      )
      .map(([a, b]) => a + b),
    fc.constantFrom(0, 10, 600, 14 * 24 * 60),
  ),
  // 4 = no session id (MP without session_id): each such event is a session of its own (D3).
  session: fc.integer({ min: 0, max: 4 }),
  params: fc.record(
    {
      page_location: fc
        .tuple(fc.constantFrom(...HOSTS), fc.constantFrom(...PATHS), fc.constantFrom('', '?q=1', '#x'))
        .map(([h, p, q]) => ({ string_value: `${h}${p}${q}` })),
      value: paramValue,
      currency: fc.constantFrom('EUR', 'USD', 'eur').map((s) => ({ string_value: s })),
      k1: paramValue,
      firebase_screen: fc.constantFrom('Home', '/pricing').map((s) => ({ string_value: s })),
      engagement_time_msec: fc.integer({ min: 0, max: 20000 }).map((n) => ({ int_value: BigInt(n) })),
      session_engaged: fc.constantFrom({ string_value: '1' }, { int_value: 1n }, { string_value: '0' }),
    },
    { requiredKeys: [] },
  ),
  plan: fc.option(fc.constantFrom('pro', 'Pro', 'free', 'enterprise'), { nil: null }),
  score: fc.option(paramValue, { nil: null }),
  device: fc.option(fc.constantFrom('desktop', 'mobile', 'Mobile'), { nil: null }),
  country: fc.option(fc.constantFrom('US', 'CA', 'us'), { nil: null }),
  items: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as Record<string, unknown>[]) },
    { weight: 2, arbitrary: fc.array(itemArb, { minLength: 1, maxLength: 3 }) },
  ),
  revenue: fc.option(fc.constantFrom(15, 25, 60, 120), { nil: null }),
});

export const historyArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), rawEvent), {
  minLength: 1,
  maxLength: 40,
});

/** Builds StoredEvents; ingest_seq follows array order (so ties on timestamp have a defined order). */
export function buildEvents(raw: readonly [number, RawEvent][], propertyId: bigint): StoredEvent[] {
  return raw.map(([user, r], i) => {
    const ts = BigInt(T0 + r.offsetMinutes * 60_000_000);
    const userProps: Record<string, UserPropertyValue> = {};
    if (r.plan) userProps.plan = { value: { string_value: r.plan }, set_timestamp_micros: ts };
    if (r.score) userProps.score = { value: r.score, set_timestamp_micros: ts };
    const isPurchase = r.name === 'purchase';
    const isRefund = r.name === 'refund';
    return {
      ...baseEvent(),
      property_id: propertyId,
      stream_id: 's1',
      platform: 'WEB',
      ingest_seq: BigInt(i + 1),
      event_name: r.name,
      event_timestamp: ts,
      event_date: new Date(Number(ts / 1000n)).toISOString().slice(0, 10).replaceAll('-', ''),
      received_at: ts,
      source: 'mp',
      user_pseudo_id: `u${user}`,
      user_id: user === 0 ? 'user-0' : null,
      ga_session_id: r.session === 4 ? null : BigInt(1000 + user * 10 + r.session),
      ga_session_number: r.session === 4 ? null : r.session + 1,
      event_params: r.params,
      user_properties: userProps,
      device_category: r.device,
      geo_country_id: r.country,
      ecommerce_transaction_id: isPurchase && r.revenue !== null ? `T${i}` : null,
      ecommerce_purchase_revenue: isPurchase ? r.revenue : null,
      ecommerce_refund_value: isRefund ? r.revenue : null,
      items: r.items,
    };
  });
}

export const timeZoneArb = fc.constantFrom(
  'UTC',
  'UTC',
  'America/New_York',
  'Asia/Kolkata',
  'Pacific/Auckland',
);

/**
 * Evaluation times: at, just before and just after event times and their expiries (the edges where
 * off-by-one errors live), plus free instants. Resolved against a history by `resolveNows`.
 */
export interface NowSpec {
  event: number;
  /** Added days; 'D' = the audience's membershipDurationDays. */
  days: number | 'D';
  deltaMicros: bigint;
}

export const nowsArb: fc.Arbitrary<(NowSpec | bigint)[]> = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        event: fc.nat(),
        days: fc.constantFrom<number | 'D'>(0, 0, 1, 7, 'D', 'D'),
        deltaMicros: fc.constantFrom(-1n, 0n, 0n, 1n, -60_000_000n, 3_600_000_000n),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: SPAN_MINUTES + 2 * 1440 }).map((m) => BigInt(T0 + m * 60_000_000)),
    },
  ),
  { minLength: 2, maxLength: 4 },
);

export function resolveNows(
  specs: readonly (NowSpec | bigint)[],
  events: readonly StoredEvent[],
  durationDays: number,
): bigint[] {
  const out = specs.map((s) => {
    if (typeof s === 'bigint') return s;
    const e = events[s.event % events.length]!;
    const days = s.days === 'D' ? durationDays : s.days;
    return e.event_timestamp + BigInt(days) * 86_400_000_000n + s.deltaMicros;
  });
  return [...new Set(out)];
}

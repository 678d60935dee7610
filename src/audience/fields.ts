// The field registry (docs/audiences.md §3): which fieldNames an audience condition may
// use and where each one's value comes from. Validation, the reference evaluator and the SQL
// compilers all resolve names here, so a field means the same thing everywhere.

import type { DimensionColumnName } from '../domain/event.ts';

/** Event-level values that are columns of the stored event (`dimension` in EVENT_SCHEMA). */
export type ColumnName = DimensionColumnName;

/**
 * Values computed from the page_location param by one fixed rule (both sides use these patterns):
 * - pagePath: capture group 1 of PAGE_PATH_PATTERN; an empty result is "/".
 * - hostName: capture group 1 of HOST_NAME_PATTERN; no match (or empty) is null.
 * - unifiedPagePathScreen: the firebase_screen param when present, else pagePath.
 */
export type DerivedName = 'pagePath' | 'hostName' | 'unifiedPagePathScreen';
export const PAGE_PATH_PATTERN = '^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?([^?#]*)';
export const HOST_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]*)';

export type MetricName =
  | 'eventCount' // events in the unit (only the enclosing eventFilter's name, inside one)
  | 'eventValue' // Σ numeric `value` param
  | 'sessions' // distinct ga_session_id
  | 'engagedSessions' // sessions with session_engaged = "1"/1, or Σ engagement_time_msec >= 10000, or >= 2 page_view/screen_view
  | 'userEngagementDuration' // Σ engagement_time_msec / 1000 (seconds)
  | 'purchaseRevenue' // Σ ecommerce_purchase_revenue − Σ ecommerce_refund_value (nulls count as 0)
  | 'totalRevenue' // same as purchaseRevenue (audex has no subscription or ad revenue)
  | 'userLtvRevenue' // same as purchaseRevenue over the window
  | 'transactions' // purchase events with a non-null ecommerce_transaction_id
  | 'ecommercePurchases'; // purchase events

export type FieldRef =
  | { kind: 'dimension'; column: ColumnName }
  | { kind: 'dimension'; param: string }
  | { kind: 'dimension'; userProperty: string }
  | { kind: 'dimension'; derived: DerivedName }
  /** True when any item of the event has a matching value for this item key. */
  | { kind: 'dimension'; item: string }
  | { kind: 'metric'; metric: MetricName };

const COLUMNS: Record<string, ColumnName> = {
  eventName: 'event_name',
  platform: 'platform',
  streamId: 'stream_id',
  deviceCategory: 'device_category',
  operatingSystem: 'device_operating_system',
  operatingSystemVersion: 'device_operating_system_version',
  osVersion: 'device_operating_system_version',
  browser: 'device_browser',
  browserVersion: 'device_browser_version',
  language: 'device_language',
  mobileDeviceBranding: 'device_mobile_brand_name',
  mobileDeviceModel: 'device_mobile_model_name',
  continent: 'geo_continent',
  subContinent: 'geo_sub_continent',
  country: 'geo_country',
  countryId: 'geo_country_id',
  region: 'geo_region',
  city: 'geo_city',
  firstUserSource: 'traffic_source_source',
  firstUserMedium: 'traffic_source_medium',
  firstUserCampaignName: 'traffic_source_name',
  transactionId: 'ecommerce_transaction_id',
};

/** Data API names that read an event param. */
const PARAMS: Record<string, string> = {
  pageLocation: 'page_location',
  pageTitle: 'page_title',
  pageReferrer: 'page_referrer',
  currencyCode: 'currency',
  linkUrl: 'link_url',
  fileName: 'file_name',
  sessionSource: 'source',
  sessionMedium: 'medium',
  sessionCampaignName: 'campaign',
  appVersion: 'app_version',
};

const ITEMS: Record<string, string> = {
  itemId: 'item_id',
  itemName: 'item_name',
  itemBrand: 'item_brand',
  itemVariant: 'item_variant',
  itemCategory: 'item_category',
  itemCategory2: 'item_category2',
  itemCategory3: 'item_category3',
  itemCategory4: 'item_category4',
  itemCategory5: 'item_category5',
};

const METRICS: ReadonlySet<string> = new Set<MetricName>([
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
]);

const DERIVED: ReadonlySet<string> = new Set<DerivedName>(['pagePath', 'hostName', 'unifiedPagePathScreen']);

/** Param keys and custom names: what GA accepts as a parameter name (plus item keys). */
const CUSTOM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/**
 * Resolves a fieldName. `context` is 'condition' for a dimensionOrMetricFilter in a clause, or
 * 'eventParameter' inside an eventFilter's eventParameterFilterExpression, where a bare key names
 * a param of that event. Returns null for unknown names.
 */
export function resolveField(fieldName: string, context: 'condition' | 'eventParameter'): FieldRef | null {
  if (METRICS.has(fieldName)) return { kind: 'metric', metric: fieldName as MetricName };
  const column = COLUMNS[fieldName];
  if (column) return { kind: 'dimension', column };
  const param = PARAMS[fieldName];
  if (param) return { kind: 'dimension', param };
  if (DERIVED.has(fieldName)) return { kind: 'dimension', derived: fieldName as DerivedName };
  const item = ITEMS[fieldName];
  if (item) return { kind: 'dimension', item };
  const colon = fieldName.indexOf(':');
  if (colon > 0) {
    const prefix = fieldName.slice(0, colon);
    const name = fieldName.slice(colon + 1);
    if (!CUSTOM_NAME.test(name)) return null;
    if (prefix === 'customEvent') return { kind: 'dimension', param: name };
    if (prefix === 'customUser') return { kind: 'dimension', userProperty: name };
    if (prefix === 'customItem') return { kind: 'dimension', item: name };
    return null;
  }
  if (context === 'eventParameter' && CUSTOM_NAME.test(fieldName))
    return { kind: 'dimension', param: fieldName };
  return null;
}

/** Every registered name, for documentation and the UI. */
export function registeredFieldNames(): { dimensions: string[]; metrics: string[] } {
  return {
    dimensions: [...Object.keys(COLUMNS), ...Object.keys(PARAMS), ...DERIVED, ...Object.keys(ITEMS)].sort(),
    metrics: [...METRICS].sort(),
  };
}

// Constants of the BigQuery export shape shared by both import paths: the JS converter
// (bigquery-row.ts) and the engine's INSERT … SELECT (src/storage/duckdb/import-sql.ts).
// No imports: the storage backend may depend on this file without pulling in the ingest code.

/** BigQuery's item fields, in BigQuery's order: the stored item keeps this order. */
const ITEM_STRING_FIELDS = [
  'item_id',
  'item_name',
  'item_brand',
  'item_variant',
  'item_category',
  'item_category2',
  'item_category3',
  'item_category4',
  'item_category5',
] as const;
const ITEM_NUMBER_FIELDS = [
  'price_in_usd',
  'price',
  'quantity',
  'item_revenue_in_usd',
  'item_revenue',
  'item_refund_in_usd',
  'item_refund',
] as const;
const ITEM_STRING_FIELDS_2 = [
  'coupon',
  'affiliation',
  'location_id',
  'item_list_id',
  'item_list_name',
  'item_list_index',
  'promotion_id',
  'promotion_name',
  'creative_name',
  'creative_slot',
] as const;
/** Every stored item field in order; item_params comes last. */
export const ITEM_FIELDS: readonly { name: string; kind: 'string' | 'number' }[] = [
  ...ITEM_STRING_FIELDS.map((name) => ({ name, kind: 'string' as const })),
  ...ITEM_NUMBER_FIELDS.map((name) => ({ name, kind: 'number' as const })),
  ...ITEM_STRING_FIELDS_2.map((name) => ({ name, kind: 'string' as const })),
];

/** Largest accepted event_timestamp: 9999-12-31T23:59:59.999999Z. */
export const MAX_EVENT_TIMESTAMP = 253402300799999999n;

// Ecommerce items, shared by MP (JSON objects) and gtag (pr<N> strings). Items are stored
// JSON-safe (no bigint): known fields at the top level as BigQuery names them, custom item
// parameters under `item_params` as `{key: {string_value} | {int_value: number} | {double_value}}`.

import {
  MAX_ITEM_CUSTOM_PARAMS,
  MAX_NAME_LENGTH,
  MAX_PARAM_VALUE_LENGTH,
  RESERVED_PARAM_NAMES,
  RESERVED_PARAM_PREFIXES,
  charLength,
  hasReservedPrefix,
  nameProblem,
  nameProblemText,
  setOwn,
  type ValidationMessage,
} from './common.ts';
import { parseDecimal } from '../domain/event.ts';

export const ITEM_STRING_FIELDS: ReadonlySet<string> = new Set([
  'item_id',
  'item_name',
  'affiliation',
  'coupon',
  'item_brand',
  'item_category',
  'item_category2',
  'item_category3',
  'item_category4',
  'item_category5',
  'item_list_id',
  'item_list_name',
  'item_list_index',
  'item_variant',
  'location_id',
  'promotion_id',
  'promotion_name',
  'creative_name',
  'creative_slot',
]);

/** Numeric item fields; `quantity` must be an integer. */
export const ITEM_NUMBER_FIELDS: ReadonlySet<string> = new Set([
  'price',
  'quantity',
  'discount',
  'item_revenue',
  'item_refund',
]);

export type JsonParamValue = { string_value: string } | { int_value: number } | { double_value: number };

/** Item params as stored: one arm set; int_value a JS number (items are JSON-safe). */
export function jsonParamValue(v: string | number | boolean): JsonParamValue {
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { string_value: v ? 'true' : 'false' };
  return Number.isSafeInteger(v) ? { int_value: v } : { double_value: v };
}

/**
 * Validates one item given as a map of raw values and builds the stored item. Returns null when
 * the item must be dropped (no item_id and no item_name). Messages go to `out`; `path` is the
 * item's fieldPath (e.g. `events[0].params.items[2]`).
 */
export function buildItem(
  raw: Record<string, unknown>,
  path: string,
  out: ValidationMessage[],
  maxCustom = MAX_ITEM_CUSTOM_PARAMS,
): Record<string, unknown> | null {
  const item: Record<string, unknown> = {};
  const custom: Record<string, JsonParamValue> = {};
  let customCount = 0;
  let customTotal = 0;
  for (const key of Object.keys(raw)) {
    const v = raw[key];
    const fieldPath = `${path}.${key}`;
    if (key === 'index') {
      // MP's `index` is BigQuery's item_list_index.
      if (typeof v === 'number' || typeof v === 'string') item['item_list_index'] = String(v);
      else
        out.push({
          fieldPath,
          description: `Item param [index] must be a number.`,
          validationCode: 'VALUE_INVALID',
        });
      continue;
    }
    if (ITEM_STRING_FIELDS.has(key)) {
      if (typeof v === 'number' && Number.isFinite(v)) item[key] = String(v);
      else if (typeof v === 'string') {
        const len = charLength(v);
        if (len > MAX_PARAM_VALUE_LENGTH) {
          out.push({
            fieldPath,
            description: `Item param [${key}] has value with length [${len}], the maximum is ${MAX_PARAM_VALUE_LENGTH}.`,
            validationCode: 'VALUE_OUT_OF_BOUNDS',
          });
        } else if (v !== '') item[key] = v;
      } else
        out.push({
          fieldPath,
          description: `Item param [${key}] must be a string.`,
          validationCode: 'VALUE_INVALID',
        });
      continue;
    }
    if (ITEM_NUMBER_FIELDS.has(key)) {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parseDecimal(v) : null;
      if (n === null || !Number.isFinite(n)) {
        out.push({
          fieldPath,
          description: `Item param [${key}] must be a number.`,
          validationCode: 'VALUE_INVALID',
        });
      } else if (key === 'quantity' && !Number.isSafeInteger(n)) {
        out.push({
          fieldPath,
          description: `Item param [quantity] must be an integer.`,
          validationCode: 'VALUE_INVALID',
        });
      } else item[key] = n;
      continue;
    }
    // A custom item parameter.
    customTotal++;
    const problem = nameProblem(key, MAX_NAME_LENGTH);
    if (problem) {
      out.push({
        fieldPath: path,
        description: `Item param [${key}] has invalid name. ${nameProblemText(problem, MAX_NAME_LENGTH)}`,
        validationCode: 'NAME_INVALID',
      });
      continue;
    }
    if (RESERVED_PARAM_NAMES.has(key) || hasReservedPrefix(key, RESERVED_PARAM_PREFIXES)) {
      out.push({
        fieldPath: path,
        description: `Item param [${key}] is reserved.`,
        validationCode: 'NAME_RESERVED',
      });
      continue;
    }
    if (typeof v === 'string') {
      const len = charLength(v);
      if (len > MAX_PARAM_VALUE_LENGTH) {
        out.push({
          fieldPath,
          description: `Item param [${key}] has value with length [${len}], the maximum is ${MAX_PARAM_VALUE_LENGTH}.`,
          validationCode: 'VALUE_OUT_OF_BOUNDS',
        });
        continue;
      }
    } else if (typeof v !== 'number' && typeof v !== 'boolean') {
      out.push({
        fieldPath,
        description: `Item param [${key}] has a value of an unsupported type; use a string or a number.`,
        validationCode: 'VALUE_INVALID',
      });
      continue;
    }
    if (customCount >= maxCustom) continue;
    customCount++;
    setOwn(custom, key, jsonParamValue(v));
  }
  if (customTotal > maxCustom) {
    out.push({
      fieldPath: path,
      description: `Item has [${customTotal}] custom params, the maximum is ${maxCustom}.`,
      validationCode: 'EXCEEDED_MAX_ENTITIES',
    });
  }
  if (item['item_id'] === undefined && item['item_name'] === undefined) {
    out.push({
      fieldPath: path,
      description: 'Item requires an item_id or an item_name.',
      validationCode: 'VALUE_REQUIRED',
    });
    return null;
  }
  if (customCount > 0) item['item_params'] = custom;
  return item;
}

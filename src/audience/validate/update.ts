// UpdateAudience: applying a PATCH body under an update_mask.

import type { AudienceDefinition } from '../../domain/audience.ts';
import { errors, type FieldViolation } from '../../domain/errors.ts';
import { AUDIENCE_FIELDS, toSnake, toCamel } from './proto-json.ts';
import { fail, collecting, isPlainObject, readMessage } from './json-readers.ts';
import { parseAudience } from './parse.ts';
import { audienceToJson } from './render.ts';

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

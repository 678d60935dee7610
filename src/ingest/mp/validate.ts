// Measurement Protocol request validation. Pure: the caller parses the JSON
// body, authenticates api_secret, and stores the returned events (never in debug mode).
// What is dropped on which failure is tabled in ./README.md.

import type { ParamValue, Params } from '../../domain/event.ts';
import {
  BACKDATE_LIMIT_MICROS,
  FUTURE_TOLERANCE_MICROS,
  MAX_BODY_BYTES,
  MAX_CLIENT_ID_LENGTH,
  MAX_EVENTS,
  MAX_ITEMS,
  MAX_NAME_LENGTH,
  MAX_PARAMS,
  MAX_USER_ID_LENGTH,
  MAX_USER_PROPERTIES,
  MAX_USER_PROPERTY_VALUE_LENGTH,
  RESERVED_APP_EVENT_NAMES,
  RESERVED_EVENT_NAMES,
  RESERVED_PARAM_NAMES,
  RESERVED_PARAM_PREFIXES,
  SESSION_PARAM_NAMES,
  charLength,
  hasReservedPrefix,
  emptyDevice,
  isPlainObject,
  nameProblem,
  nameProblemText,
  numberParam,
  paramValueLimit,
  setOwn,
  show,
  type ConsentState,
  type ParsedDevice,
  type ParsedEvent,
  type ParsedLocation,
  type ParsedUserProperty,
  type ValidationCode,
  type ValidationMessage,
  userPropertyNameIssue,
} from '../common.ts';
import { buildItem } from '../items.ts';
import { deviceFromUserAgent, mergeDevice } from '../user-agent.ts';

export type { ParsedEvent, ValidationMessage, ValidationCode } from '../common.ts';

export interface MeasurementContext {
  query: { measurement_id?: string; api_secret?: string; firebase_app_id?: string };
  /** Size of the raw POST body in bytes. */
  bodyBytes: number;
  /** true for /debug/mp/collect: every issue is reported (production may stop at the first fatal one). */
  debug: boolean;
  /** Server time, µs since epoch. */
  nowMicros: bigint;
}

export interface ValidationResult {
  /** Every issue found (in debug mode: all of them). Non-empty does not mean nothing is stored. */
  messages: ValidationMessage[];
  /** The events production would store; empty when the whole request is dropped. */
  events: ParsedEvent[];
}

export type ValidationBehavior = 'RELAXED' | 'ENFORCE_RECOMMENDATIONS';

const CONSENT_VALUES: ReadonlySet<string> = new Set(['GRANTED', 'DENIED']);
const COUNTRY_ID = /^[A-Z]{2}$/;
const REGION_ID = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;
const M49_ID = /^\d{3}$/;
const SCREEN_RESOLUTION = /^\d{1,5}x\d{1,5}$/;
const DIGITS = /^\d{1,19}$/;
const CURRENCY = /^[A-Z]{3}$/;
const APP_INSTANCE_ID = /^[0-9a-fA-F]{32}$/;
const INT64_MAX = 9223372036854775807n;
const MAX_DEVICE_FIELD_LENGTH = 100;

const DEVICE_FIELDS: readonly (readonly [string, keyof ParsedDevice])[] = [
  ['category', 'category'],
  ['language', 'language'],
  ['screen_resolution', 'screenResolution'],
  ['operating_system', 'operatingSystem'],
  ['operating_system_version', 'operatingSystemVersion'],
  ['model', 'model'],
  ['brand', 'brand'],
  ['browser', 'browser'],
  ['browser_version', 'browserVersion'],
];

const LOCATION_FIELDS: readonly (readonly [string, keyof ParsedLocation, RegExp | null])[] = [
  ['city', 'city', null],
  ['region_id', 'regionId', REGION_ID],
  ['country_id', 'countryId', COUNTRY_ID],
  ['subcontinent_id', 'subcontinentId', M49_ID],
  ['continent_id', 'continentId', M49_ID],
];

class Run {
  readonly messages: ValidationMessage[] = [];
  /** The whole request is dropped. */
  fatal = false;

  add(fieldPath: string, validationCode: ValidationCode, description: string): void {
    this.messages.push({ fieldPath, description, validationCode });
  }

  fail(fieldPath: string, validationCode: ValidationCode, description: string): void {
    this.add(fieldPath, validationCode, description);
    this.fatal = true;
  }
}

/** A µs timestamp from a JSON number or a digit string; undefined when absent, null when invalid. */
function parseMicros(v: unknown): bigint | null | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null;
  if (typeof v === 'string' && DIGITS.test(v)) {
    const b = BigInt(v);
    return b <= INT64_MAX ? b : null;
  }
  return null;
}

/** A session id: a non-negative integer or a string of digits. */
function parseSessionId(v: unknown): bigint | null {
  return parseMicros(v) ?? null;
}

/**
 * Checks a timestamp against the 72 h backdating window and the future tolerance. Returns the
 * timestamp to use, or null when the owner (request or event) must be dropped.
 */
function checkWindow(
  run: Run,
  ts: bigint,
  fieldPath: string,
  label: string,
  now: bigint,
  behavior: ValidationBehavior,
): bigint | null {
  if (ts > now + FUTURE_TOLERANCE_MICROS) {
    run.add(fieldPath, 'VALUE_INVALID', `${label} [${ts}] is in the future.`);
    return null;
  }
  const floor = now - BACKDATE_LIMIT_MICROS;
  if (ts < floor) {
    if (behavior === 'ENFORCE_RECOMMENDATIONS') {
      run.add(fieldPath, 'VALUE_INVALID', `${label} [${ts}] is more than 72 hours in the past.`);
      return null;
    }
    run.add(
      fieldPath,
      'VALUE_INVALID',
      `${label} [${ts}] is more than 72 hours in the past; it is moved to the 72-hour mark.`,
    );
    return floor;
  }
  return ts;
}

function validateUserProperties(
  run: Run,
  raw: Record<string, unknown>,
  debug: boolean,
): Record<string, ParsedUserProperty> {
  const out: Record<string, ParsedUserProperty> = {};
  const names = Object.keys(raw);
  if (names.length > MAX_USER_PROPERTIES) {
    run.add(
      'user_properties',
      'EXCEEDED_MAX_ENTITIES',
      `Measurement has [${names.length}] user properties, the maximum is ${MAX_USER_PROPERTIES}.`,
    );
  }
  const limit = debug ? names.length : Math.min(names.length, MAX_USER_PROPERTIES);
  for (let idx = 0; idx < limit; idx++) {
    const name = names[idx]!;
    // Spec §6.4: every issue of a property (name or value) is reported at `user_properties.<name>`;
    // only its own timestamp_micros gets a deeper path.
    const path = `user_properties.${name}`;
    const keep = idx < MAX_USER_PROPERTIES;
    const issue = userPropertyNameIssue(name);
    if (issue) {
      run.add(path, issue.code, issue.description);
      continue;
    }
    const entry = raw[name];
    if (!isPlainObject(entry)) {
      run.add(path, 'VALUE_INVALID', `User property [${name}] must be an object with a value.`);
      continue;
    }
    const v = entry['value'];
    let value: ParamValue;
    if (v === undefined) {
      run.add(path, 'VALUE_REQUIRED', `User property [${name}] requires a value.`);
      continue;
    } else if (typeof v === 'string') {
      const len = charLength(v);
      if (len > MAX_USER_PROPERTY_VALUE_LENGTH) {
        run.add(
          path,
          'VALUE_OUT_OF_BOUNDS',
          `User property [${name}] has value with length [${len}], the maximum is ${MAX_USER_PROPERTY_VALUE_LENGTH}.`,
        );
        continue;
      }
      value = { string_value: v };
    } else if (typeof v === 'number') value = numberParam(v);
    else if (typeof v === 'boolean') value = { string_value: v ? 'true' : 'false' };
    else {
      run.add(
        path,
        'VALUE_INVALID',
        `User property [${name}] has a value of an unsupported type; use a string or a number.`,
      );
      continue;
    }
    const ts = parseMicros(entry['timestamp_micros']);
    if (ts === null) {
      run.add(
        `${path}.timestamp_micros`,
        'VALUE_INVALID',
        `User property [${name}] has an invalid timestamp_micros.`,
      );
      continue;
    }
    if (keep) setOwn(out, name, { value, timestampMicros: ts ?? null });
  }
  return out;
}

function validateConsent(run: Run, raw: Record<string, unknown>): ParsedEvent['consent'] {
  const out: ParsedEvent['consent'] = { adUserData: null, adPersonalization: null };
  for (const [key, field] of [
    ['ad_user_data', 'adUserData'],
    ['ad_personalization', 'adPersonalization'],
  ] as const) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && CONSENT_VALUES.has(v)) out[field] = v as ConsentState;
    else
      run.add(
        `consent.${key}`,
        'VALUE_INVALID',
        `Consent value [${show(v)}] for [${key}] is invalid; use GRANTED or DENIED.`,
      );
  }
  return out;
}

function validateLocation(run: Run, raw: Record<string, unknown>): ParsedLocation {
  const out: ParsedLocation = {
    city: null,
    regionId: null,
    countryId: null,
    subcontinentId: null,
    continentId: null,
  };
  for (const [key, field, pattern] of LOCATION_FIELDS) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (
      typeof v !== 'string' ||
      (pattern !== null && !pattern.test(v)) ||
      charLength(v) > MAX_DEVICE_FIELD_LENGTH
    ) {
      run.add(
        `user_location.${key}`,
        'VALUE_INVALID',
        `User location field [${key}] has invalid value [${show(v)}].`,
      );
      continue;
    }
    if (v !== '') out[field] = v;
  }
  return out;
}

function validateDevice(run: Run, raw: Record<string, unknown>): ParsedDevice {
  const out = emptyDevice();
  for (const [key, field] of DEVICE_FIELDS) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || (key === 'screen_resolution' && !SCREEN_RESOLUTION.test(v))) {
      run.add(`device.${key}`, 'VALUE_INVALID', `Device field [${key}] has invalid value [${show(v)}].`);
      continue;
    }
    const len = charLength(v);
    if (len > MAX_DEVICE_FIELD_LENGTH) {
      run.add(
        `device.${key}`,
        'VALUE_OUT_OF_BOUNDS',
        `Device field [${key}] has value with length [${len}], the maximum is ${MAX_DEVICE_FIELD_LENGTH}.`,
      );
      continue;
    }
    if (v !== '') out[field] = v;
  }
  return out;
}

interface Shared {
  platform: ParsedEvent['platform'];
  app: boolean;
  behavior: ValidationBehavior;
  clientId: string;
  userId: string | null;
  requestTs: bigint | null;
  userProperties: Record<string, ParsedUserProperty>;
  consent: ParsedEvent['consent'];
  nonPersonalizedAds: boolean | null;
  location: ParsedLocation | null;
  device: ParsedDevice | null;
}

function validateEvent(
  run: Run,
  raw: unknown,
  i: number,
  shared: Shared,
  ctx: MeasurementContext,
): ParsedEvent | null {
  const at = `events[${i}]`;
  if (!isPlainObject(raw)) {
    run.add(at, 'VALUE_INVALID', `Event at index: [${i}] must be an object.`);
    return null;
  }
  let ok = true;
  const name = raw['name'];
  if (name === undefined || name === null || name === '') {
    run.add(`${at}.name`, 'VALUE_REQUIRED', `Event at index: [${i}] requires a name.`);
    ok = false;
  } else if (typeof name !== 'string') {
    run.add(`${at}.name`, 'VALUE_INVALID', `Event at index: [${i}] has a name that is not a string.`);
    ok = false;
  } else {
    const problem = nameProblem(name, MAX_NAME_LENGTH);
    if (problem) {
      run.add(
        'events',
        'NAME_INVALID',
        `Event at index: [${i}] has invalid name [${name}]. ${nameProblemText(problem, MAX_NAME_LENGTH)}`,
      );
      ok = false;
    } else if (RESERVED_EVENT_NAMES.has(name) || (shared.app && RESERVED_APP_EVENT_NAMES.has(name))) {
      run.add('events', 'NAME_RESERVED', `Event at index: [${i}] has name [${name}] which is reserved.`);
      ok = false;
    }
  }

  const rawParams = raw['params'];
  if (rawParams !== undefined && rawParams !== null && !isPlainObject(rawParams)) {
    run.add(`${at}.params`, 'VALUE_INVALID', `Event at index: [${i}] has params that are not an object.`);
    return null;
  }
  const params: Params = {};
  let items: Record<string, unknown>[] = [];
  let sessionId: bigint | null = null;
  let sessionKey: string | null = null;
  let eventTsRaw: unknown = raw['timestamp_micros'];
  let eventTsPath = `${at}.timestamp_micros`;

  if (rawParams) {
    const keys = Object.keys(rawParams);
    let counted = 0;
    for (const k of keys) if (k !== 'items') counted++;
    if (counted > MAX_PARAMS) {
      run.add(
        `${at}.params`,
        'EXCEEDED_MAX_ENTITIES',
        `Event at index: [${i}] has [${counted}] params, the maximum is ${MAX_PARAMS}.`,
      );
    }
    let seen = 0;
    for (const k of keys) {
      const v = rawParams[k];
      if (k === 'items') {
        items = validateItems(run, v, `${at}.params.items`, ctx.debug);
        continue;
      }
      seen++;
      const keep = seen <= MAX_PARAMS;
      if (!keep && !ctx.debug) continue; // still reach a later `items` key
      if (k === 'timestamp_micros') {
        if (eventTsRaw !== undefined) {
          run.add(
            `${at}.params`,
            'NAME_DUPLICATED',
            `Event at index: [${i}] has timestamp_micros both as a field and as a param.`,
          );
          continue;
        }
        eventTsRaw = v;
        eventTsPath = `${at}.params.${k}`;
        continue;
      }
      if (SESSION_PARAM_NAMES.has(k)) {
        const sid = parseSessionId(v);
        if (sid === null) {
          run.add(
            `${at}.params.${k}`,
            'VALUE_INVALID',
            `Event param [${k}] at index [${i}] must contain only digits.`,
          );
        } else if (sessionKey !== null && sessionId !== sid) {
          run.add(
            `${at}.params`,
            'NAME_DUPLICATED',
            `Event param [${k}] at index [${i}] conflicts with [${sessionKey}].`,
          );
        } else if (keep) {
          sessionId = sid;
          sessionKey = k;
        }
        continue;
      }
      const problem = nameProblem(k, MAX_NAME_LENGTH);
      if (problem) {
        run.add(
          `${at}.params`,
          'NAME_INVALID',
          `Event param [${k}] at index [${i}] has invalid name. ${nameProblemText(problem, MAX_NAME_LENGTH)}`,
        );
        continue;
      }
      if (RESERVED_PARAM_NAMES.has(k) || hasReservedPrefix(k, RESERVED_PARAM_PREFIXES)) {
        run.add(`${at}.params`, 'NAME_RESERVED', `Event param [${k}] at index [${i}] is reserved.`);
        continue;
      }
      let value: ParamValue;
      if (typeof v === 'string') {
        const max = paramValueLimit(k);
        const len = charLength(v);
        if (len > max) {
          run.add(
            `${at}.params.${k}`,
            'VALUE_OUT_OF_BOUNDS',
            `Event param [${k}] has value with length [${len}], the maximum is ${max}.`,
          );
          continue;
        }
        value = { string_value: v };
      } else if (typeof v === 'number') value = numberParam(v);
      else if (typeof v === 'boolean') value = { string_value: v ? 'true' : 'false' };
      else {
        run.add(
          `${at}.params.${k}`,
          'VALUE_INVALID',
          `Event param [${k}] at index [${i}] has a value of an unsupported type; use a string or a number.`,
        );
        continue;
      }
      // Recommendations (reported always; enforced only under ENFORCE_RECOMMENDATIONS).
      if (k === 'currency' && (typeof v !== 'string' || !CURRENCY.test(v))) {
        run.add(
          `${at}.params.${k}`,
          'VALUE_INVALID',
          `Event param [currency] at index [${i}] must be a 3-letter ISO 4217 code.`,
        );
      } else if (k === 'value' && typeof v !== 'number') {
        run.add(
          `${at}.params.${k}`,
          'VALUE_INVALID',
          `Event param [value] at index [${i}] must be a number.`,
        );
      } else if (k === 'engagement_time_msec' && !(typeof v === 'number' && v >= 0)) {
        run.add(
          `${at}.params.${k}`,
          'VALUE_INVALID',
          `Event param [engagement_time_msec] at index [${i}] must be a non-negative number.`,
        );
      }
      if (keep) setOwn(params, k, value);
    }
  }

  // Event time: the event's own timestamp_micros, else the request's, else now.
  let ts = shared.requestTs ?? ctx.nowMicros;
  const eventTs = parseMicros(eventTsRaw);
  if (eventTs === null) {
    run.add(eventTsPath, 'VALUE_INVALID', `Event at index: [${i}] has an invalid timestamp_micros.`);
    ok = false;
  } else if (eventTs !== undefined) {
    const checked = checkWindow(
      run,
      eventTs,
      eventTsPath,
      `Event at index: [${i}] timestamp_micros`,
      ctx.nowMicros,
      shared.behavior,
    );
    if (checked === null) ok = false;
    else ts = checked;
  }
  if (!ok) return null;
  return {
    source: 'mp',
    platform: shared.platform,
    name: name as string,
    params,
    items,
    timestampMicros: ts,
    sessionId,
    sessionNumber: null,
    clientId: shared.clientId,
    userId: shared.userId,
    userProperties: shared.userProperties,
    consent: shared.consent,
    nonPersonalizedAds: shared.nonPersonalizedAds,
    location: shared.location,
    device: shared.device,
  };
}

function validateItems(run: Run, v: unknown, path: string, debug: boolean): Record<string, unknown>[] {
  if (!Array.isArray(v)) {
    run.add(path, 'VALUE_INVALID', 'Event param [items] must be an array of objects.');
    return [];
  }
  if (v.length > MAX_ITEMS) {
    run.add(path, 'EXCEEDED_MAX_ENTITIES', `Event has [${v.length}] items, the maximum is ${MAX_ITEMS}.`);
  }
  const out: Record<string, unknown>[] = [];
  const n = debug ? v.length : Math.min(v.length, MAX_ITEMS);
  for (let j = 0; j < n; j++) {
    const raw: unknown = v[j];
    if (!isPlainObject(raw)) {
      run.add(`${path}[${j}]`, 'VALUE_INVALID', `Item at index: [${j}] must be an object.`);
      continue;
    }
    const item = buildItem(raw, `${path}[${j}]`, run.messages);
    if (item && j < MAX_ITEMS) out.push(item);
  }
  return out;
}

function platformOf(firebaseAppId: string): ParsedEvent['platform'] {
  return firebaseAppId.includes(':ios:') ? 'IOS' : 'ANDROID';
}

/**
 * Validates one Measurement Protocol request body (already JSON-parsed) and returns every issue
 * and the events production stores. See README.md for what each failure drops.
 */
export function validateMeasurement(body: unknown, ctx: MeasurementContext): ValidationResult {
  const run = new Run();
  const none = (): ValidationResult => ({ messages: run.messages, events: [] });

  if (ctx.bodyBytes >= MAX_BODY_BYTES) {
    run.fail('', 'VALUE_OUT_OF_BOUNDS', 'Post body must be smaller than 130kB.');
    return none();
  }

  const { query } = ctx;
  const app = !query.measurement_id && !!query.firebase_app_id;
  if (!query.measurement_id && !query.firebase_app_id) {
    run.fail(
      'measurement_id',
      'VALUE_REQUIRED',
      'Unable to find non-empty parameter [measurement_id] value in request.',
    );
  }
  if (!query.api_secret) {
    run.fail(
      'api_secret',
      'VALUE_REQUIRED',
      'Unable to find non-empty parameter [api_secret] value in request.',
    );
  }
  if (run.fatal && !ctx.debug) return none();

  if (!isPlainObject(body)) {
    run.fail('', 'VALUE_INVALID', 'Request body must be a JSON object.');
    return none();
  }

  // validation_behavior
  let behavior: ValidationBehavior = 'RELAXED';
  const vb = body['validation_behavior'];
  if (vb === 'ENFORCE_RECOMMENDATIONS') behavior = 'ENFORCE_RECOMMENDATIONS';
  else if (vb !== undefined && vb !== 'RELAXED' && vb !== 'VALIDATION_BEHAVIOR_UNSPECIFIED') {
    run.fail(
      'validation_behavior',
      'VALUE_INVALID',
      `Value [${show(vb)}] for validation_behavior is invalid; use RELAXED or ENFORCE_RECOMMENDATIONS.`,
    );
  }

  // identity
  const idKey = app
    ? 'app_instance_id'
    : body['client_id'] === undefined && body['app_instance_id'] !== undefined
      ? 'app_instance_id'
      : 'client_id';
  const idRaw = body[idKey];
  let clientId = '';
  if (idRaw === undefined || idRaw === null || idRaw === '') {
    if (app) run.fail('app_instance_id', 'VALUE_REQUIRED', 'Measurement requires an app_instance_id.');
    else run.fail('client_id', 'VALUE_REQUIRED', 'Measurement requires a client_id.');
  } else if (typeof idRaw !== 'string') {
    run.fail(idKey, 'VALUE_INVALID', `Measurement ${idKey} must be a string.`);
  } else if (idKey === 'app_instance_id' && !APP_INSTANCE_ID.test(idRaw)) {
    run.fail(
      idKey,
      'VALUE_INVALID',
      `Measurement app_instance_id [${idRaw}] must be 32 hexadecimal characters.`,
    );
  } else if (charLength(idRaw) > MAX_CLIENT_ID_LENGTH) {
    run.fail(
      idKey,
      'VALUE_OUT_OF_BOUNDS',
      `Measurement ${idKey} has length [${charLength(idRaw)}], the maximum is ${MAX_CLIENT_ID_LENGTH}.`,
    );
  } else clientId = idRaw;

  let userId: string | null = null;
  const uid = body['user_id'];
  if (uid !== undefined && uid !== null && uid !== '') {
    if (typeof uid !== 'string')
      run.fail('user_id', 'VALUE_INVALID', 'Measurement user_id must be a string.');
    else if (charLength(uid) > MAX_USER_ID_LENGTH) {
      run.fail(
        'user_id',
        'VALUE_OUT_OF_BOUNDS',
        `Measurement user_id has length [${charLength(uid)}], the maximum is ${MAX_USER_ID_LENGTH}.`,
      );
    } else userId = uid;
  }

  // request timestamp
  let requestTs: bigint | null = null;
  const rts = parseMicros(body['timestamp_micros']);
  if (rts === null)
    run.fail(
      'timestamp_micros',
      'VALUE_INVALID',
      'Measurement timestamp_micros must be a non-negative integer.',
    );
  else if (rts !== undefined) {
    const checked = checkWindow(
      run,
      rts,
      'timestamp_micros',
      'Measurement timestamp_micros',
      ctx.nowMicros,
      behavior,
    );
    if (checked === null) run.fatal = true;
    else requestTs = checked;
  }

  // request-level objects: the wrong JSON type is malformed; a bad field inside drops only that field
  let userProperties: Record<string, ParsedUserProperty> = {};
  const up = body['user_properties'];
  if (up !== undefined && up !== null) {
    if (isPlainObject(up)) userProperties = validateUserProperties(run, up, ctx.debug);
    else run.fail('user_properties', 'VALUE_INVALID', 'Measurement user_properties must be an object.');
  }
  let consent: ParsedEvent['consent'] = { adUserData: null, adPersonalization: null };
  const c = body['consent'];
  if (c !== undefined && c !== null) {
    if (isPlainObject(c)) consent = validateConsent(run, c);
    else run.fail('consent', 'VALUE_INVALID', 'Measurement consent must be an object.');
  }
  let nonPersonalizedAds: boolean | null = null;
  const npa = body['non_personalized_ads'];
  if (npa !== undefined && npa !== null) {
    if (typeof npa === 'boolean') nonPersonalizedAds = npa;
    else
      run.add('non_personalized_ads', 'VALUE_INVALID', 'Measurement non_personalized_ads must be a boolean.');
  }
  let location: ParsedLocation | null = null;
  const loc = body['user_location'];
  if (loc !== undefined && loc !== null) {
    if (isPlainObject(loc)) location = validateLocation(run, loc);
    else run.fail('user_location', 'VALUE_INVALID', 'Measurement user_location must be an object.');
  }
  let device: ParsedDevice | null = null;
  const dev = body['device'];
  if (dev !== undefined && dev !== null) {
    if (isPlainObject(dev)) device = validateDevice(run, dev);
    else run.fail('device', 'VALUE_INVALID', 'Measurement device must be an object.');
  }
  const userAgent = body['user_agent'];
  if (userAgent !== undefined && userAgent !== null) {
    // Fills what `device` leaves out (src/ingest/user-agent.ts).
    if (typeof userAgent === 'string') device = mergeDevice(device, deviceFromUserAgent(userAgent));
    else run.fail('user_agent', 'VALUE_INVALID', 'Measurement user_agent must be a string.');
  }

  // events
  const rawEvents = body['events'];
  if (rawEvents === undefined || rawEvents === null || (Array.isArray(rawEvents) && rawEvents.length === 0)) {
    run.fail('events', 'VALUE_REQUIRED', 'Measurement requires at least one event.');
    return none();
  }
  if (!Array.isArray(rawEvents)) {
    run.fail('events', 'VALUE_INVALID', 'Measurement events must be an array.');
    return none();
  }
  if (rawEvents.length > MAX_EVENTS) {
    run.fail(
      'events',
      'EXCEEDED_MAX_ENTITIES',
      `Measurement has [${rawEvents.length}] events, the maximum is ${MAX_EVENTS}.`,
    );
  }
  if (run.fatal && !ctx.debug) return none();

  const shared: Shared = {
    platform: app ? platformOf(query.firebase_app_id!) : 'WEB',
    app,
    behavior,
    clientId,
    userId,
    requestTs,
    userProperties,
    consent,
    nonPersonalizedAds,
    location,
    device,
  };
  const events: ParsedEvent[] = [];
  for (let i = 0; i < rawEvents.length; i++) {
    const e = validateEvent(run, rawEvents[i], i, shared, ctx);
    if (e) events.push(e);
  }
  if (run.fatal) return none();
  if (behavior === 'ENFORCE_RECOMMENDATIONS' && run.messages.length > 0) return none();
  return { messages: run.messages, events };
}

/** The message for a body that is not valid JSON. */
export const UNPARSABLE_BODY: ValidationMessage = {
  fieldPath: '',
  description: 'Unable to parse request body.',
  validationCode: 'VALUE_INVALID',
};

/**
 * Convenience for the HTTP layer: size check before parsing, JSON.parse, then validateMeasurement.
 * `bodyBytes` is taken from the raw body.
 */
export function validateMeasurementBody(
  raw: string | Buffer,
  ctx: Omit<MeasurementContext, 'bodyBytes'>,
): ValidationResult {
  const bodyBytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bodyBytes >= MAX_BODY_BYTES) return validateMeasurement(undefined, { ...ctx, bodyBytes });
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { messages: [{ ...UNPARSABLE_BODY }], events: [] };
  }
  return validateMeasurement(body, { ...ctx, bodyBytes });
}

// Shared by every ingest path (Measurement Protocol, gtag, BigQuery import): the parsed-event shape,
// validation messages, GA's collection limits and small value helpers.
// Pure logic: no I/O.

import type { ParamValue, Params } from '../domain/event.ts';

export type ValidationCode =
  | 'VALUE_INVALID'
  | 'VALUE_REQUIRED'
  | 'NAME_INVALID'
  | 'NAME_RESERVED'
  | 'VALUE_OUT_OF_BOUNDS'
  | 'EXCEEDED_MAX_ENTITIES'
  | 'NAME_DUPLICATED';

/** One entry of the debug endpoint's `validationMessages`. */
export interface ValidationMessage {
  fieldPath: string;
  description: string;
  validationCode: ValidationCode;
}

export type ConsentState = 'GRANTED' | 'DENIED';

export interface ParsedUserProperty {
  value: ParamValue;
  /** µs; from the MP `timestamp_micros` of the property, else null (the event time is used). */
  timestampMicros: bigint | null;
}

export interface ParsedLocation {
  city: string | null;
  /** ISO 3166-2, e.g. `US-CA`. */
  regionId: string | null;
  /** ISO 3166-1 alpha-2. */
  countryId: string | null;
  /** UN M49, 3 digits. */
  subcontinentId: string | null;
  /** UN M49, 3 digits. */
  continentId: string | null;
}

export interface ParsedDevice {
  category: string | null;
  language: string | null;
  screenResolution: string | null;
  operatingSystem: string | null;
  operatingSystemVersion: string | null;
  model: string | null;
  brand: string | null;
  browser: string | null;
  browserVersion: string | null;
}

/** A device with no field set (gtag fills it from client hints, MP from `device`). */
export function emptyDevice(): ParsedDevice {
  return {
    category: null,
    language: null,
    screenResolution: null,
    operatingSystem: null,
    operatingSystemVersion: null,
    model: null,
    brand: null,
    browser: null,
    browserVersion: null,
  };
}

/**
 * One validated event with everything needed to store it. The request-level parts
 * (identity, user properties, consent, location, device) are shared by reference between the
 * events of one request; treat them as read-only.
 */
export interface ParsedEvent {
  source: 'mp' | 'gtag';
  platform: 'WEB' | 'ANDROID' | 'IOS';
  name: string;
  /** Typed params as stored; without session_id / ga_session_id / timestamp_micros / items. */
  params: Params;
  /** JSON-safe items (no bigint), see README. */
  items: Record<string, unknown>[];
  /** Resolved event time, µs since epoch (already moved to the 72 h mark when RELAXED). */
  timestampMicros: bigint;
  sessionId: bigint | null;
  sessionNumber: number | null;
  /** client_id or app_instance_id; becomes user_pseudo_id. */
  clientId: string;
  userId: string | null;
  userProperties: Record<string, ParsedUserProperty>;
  consent: { adUserData: ConsentState | null; adPersonalization: ConsentState | null };
  nonPersonalizedAds: boolean | null;
  location: ParsedLocation | null;
  device: ParsedDevice | null;
}

// ---------------------------------------------------------------------------------------------
// Limits

/** "The POST body must be < 130 kB" (kB as written: 1,000 bytes), so a body of 130,000 bytes or more is rejected. */
export const MAX_BODY_BYTES = 130_000;
export const MAX_EVENTS = 25;
export const MAX_PARAMS = 25;
export const MAX_USER_PROPERTIES = 25;
export const MAX_ITEMS = 200;
/** MP limitation: at most 10 custom parameters per item. */
export const MAX_ITEM_CUSTOM_PARAMS = 10;
export const MAX_NAME_LENGTH = 40;
export const MAX_USER_PROPERTY_NAME_LENGTH = 24;
export const MAX_USER_PROPERTY_VALUE_LENGTH = 36;
export const MAX_PARAM_VALUE_LENGTH = 100;
export const MAX_USER_ID_LENGTH = 256;
/** Not a documented GA limit: our cap on client_id / app_instance_id to protect the store. */
export const MAX_CLIENT_ID_LENGTH = 256;
export const BACKDATE_LIMIT_MICROS = 72n * 3600n * 1_000_000n;
/** Clock-skew tolerance for timestamps in the future (our decision, see mp/README.md). */
export const FUTURE_TOLERANCE_MICROS = 60n * 1_000_000n;

const PARAM_VALUE_LIMITS: ReadonlyMap<string, number> = new Map([
  ['page_title', 300],
  ['page_referrer', 420],
  ['page_location', 1000],
]);

export function paramValueLimit(name: string): number {
  return PARAM_VALUE_LIMITS.get(name) ?? MAX_PARAM_VALUE_LENGTH;
}

export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  'ad_activeview',
  'ad_click',
  'ad_exposure',
  'ad_query',
  'ad_reward',
  'adunit_exposure',
  'app_clear_data',
  'app_exception',
  'app_install',
  'app_remove',
  'app_store_refund',
  'app_update',
  'app_upgrade',
  'dynamic_link_app_open',
  'dynamic_link_app_update',
  'dynamic_link_first_open',
  'error',
  'firebase_campaign',
  'firebase_in_app_message_action',
  'firebase_in_app_message_dismiss',
  'firebase_in_app_message_impression',
  'first_open',
  'first_visit',
  'notification_dismiss',
  'notification_foreground',
  'notification_open',
  'notification_receive',
  'notification_send',
  'os_update',
  'session_start',
  'user_engagement',
]);

export const RESERVED_APP_EVENT_NAMES: ReadonlySet<string> = new Set([
  'ad_impression',
  'in_app_purchase',
  'screen_view',
]);

export const RESERVED_PARAM_NAMES: ReadonlySet<string> = new Set(['firebase_conversion']);
export const RESERVED_PARAM_PREFIXES: readonly string[] = ['_', 'firebase_', 'ga_', 'google_', 'gtag.'];
/** Reserved-looking keys that are the documented way to send a session id. */
export const SESSION_PARAM_NAMES: ReadonlySet<string> = new Set(['session_id', 'ga_session_id']);

export const RESERVED_USER_PROPERTY_NAMES: ReadonlySet<string> = new Set([
  'first_open_time',
  'first_visit_time',
  'last_deep_link_referrer',
  'user_id',
  'first_open_after_install',
]);
export const RESERVED_USER_PROPERTY_PREFIXES: readonly string[] = ['_', 'firebase_', 'ga_', 'google_'];

// ---------------------------------------------------------------------------------------------
// Name rules

export type NameProblem = 'start' | 'charset' | 'length' | null;

const NAME_START = /^[A-Za-z]/;
const NAME_CHARSET = /^[A-Za-z0-9_]*$/;

/** GA's rule for event, param and user property names (ASCII letters, digits, `_`, letter first). */
export function nameProblem(name: string, maxLength: number): NameProblem {
  if (!NAME_START.test(name)) return 'start';
  if (!NAME_CHARSET.test(name)) return 'charset';
  if (name.length > maxLength) return 'length';
  return null;
}

export function nameProblemText(problem: Exclude<NameProblem, null>, maxLength: number): string {
  switch (problem) {
    case 'start':
      return 'Names must start with an alphabetic character.';
    case 'charset':
      return 'Names must only contain alphanumeric characters and underscores.';
    case 'length':
      return `Names must be ${maxLength} characters or fewer.`;
  }
}

export function hasReservedPrefix(name: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (name.startsWith(p)) return true;
  return false;
}

/** The name rule and the reserved names of user properties (MP and gtag alike); null when valid. */
export function userPropertyNameIssue(name: string): { code: ValidationCode; description: string } | null {
  const problem = nameProblem(name, MAX_USER_PROPERTY_NAME_LENGTH);
  if (problem) {
    return {
      code: 'NAME_INVALID',
      description: `User property [${name}] has invalid name. ${nameProblemText(problem, MAX_USER_PROPERTY_NAME_LENGTH)}`,
    };
  }
  if (RESERVED_USER_PROPERTY_NAMES.has(name) || hasReservedPrefix(name, RESERVED_USER_PROPERTY_PREFIXES)) {
    return { code: 'NAME_RESERVED', description: `User property name [${name}] is reserved.` };
  }
  return null;
}

/** Length in characters (code points), as GA counts them. */
export function charLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** The first `max` characters (code points) of `s`. */
export function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  let count = 0;
  let i = 0;
  while (i < s.length && count < max) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    count++;
  }
  return s.slice(0, i);
}

// ---------------------------------------------------------------------------------------------
// Values

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON number as a typed param value: safe integers → int_value, anything else → double_value. */
export function numberParam(n: number): ParamValue {
  return Number.isSafeInteger(n) ? { int_value: BigInt(n) } : { double_value: n };
}

/**
 * Sets an own property even for the key `__proto__` (a plain assignment would change the
 * object's prototype instead). Use for every key that comes from input.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

export function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

// ---------------------------------------------------------------------------------------------
// Dates

const dateFormatters = new Map<string, Intl.DateTimeFormat>();
const dateCache = new Map<string, string>();
const MICROS_PER_MINUTE = 60_000_000n;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = dateFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormatters.set(timeZone, f);
  }
  return f;
}

/**
 * YYYYMMDD of an instant (µs since epoch) in an IANA time zone. Cached per minute: every time
 * zone offset in use today is a whole number of minutes.
 */
export function eventDate(micros: bigint, timeZone: string): string {
  const minute =
    micros >= 0n ? micros / MICROS_PER_MINUTE : (micros - MICROS_PER_MINUTE + 1n) / MICROS_PER_MINUTE;
  const key = `${timeZone}|${minute}`;
  const hit = dateCache.get(key);
  if (hit !== undefined) return hit;
  let year = '';
  let month = '';
  let day = '';
  for (const part of formatterFor(timeZone).formatToParts(new Date(Number(minute) * 60_000))) {
    if (part.type === 'year') year = part.value;
    else if (part.type === 'month') month = part.value;
    else if (part.type === 'day') day = part.value;
  }
  const out = `${year.padStart(4, '0')}${month}${day}`;
  if (dateCache.size >= 50_000) dateCache.clear();
  dateCache.set(key, out);
  return out;
}

// UN M49 codes as GA names them in geo.continent / geo.sub_continent.
const M49_CONTINENTS: ReadonlyMap<string, string> = new Map([
  ['002', 'Africa'],
  ['019', 'Americas'],
  ['142', 'Asia'],
  ['150', 'Europe'],
  ['009', 'Oceania'],
]);
const M49_SUBCONTINENTS: ReadonlyMap<string, string> = new Map([
  ['015', 'Northern Africa'],
  ['011', 'Western Africa'],
  ['017', 'Middle Africa'],
  ['014', 'Eastern Africa'],
  ['018', 'Southern Africa'],
  ['021', 'Northern America'],
  ['029', 'Caribbean'],
  ['013', 'Central America'],
  ['005', 'South America'],
  ['030', 'Eastern Asia'],
  ['034', 'Southern Asia'],
  ['035', 'Southeast Asia'],
  ['143', 'Central Asia'],
  ['145', 'Western Asia'],
  ['151', 'Eastern Europe'],
  ['154', 'Northern Europe'],
  ['039', 'Southern Europe'],
  ['155', 'Western Europe'],
  ['053', 'Australasia'],
  ['054', 'Melanesia'],
  ['057', 'Micronesia'],
  ['061', 'Polynesia'],
]);

export function continentName(code: string): string {
  return M49_CONTINENTS.get(code) ?? code;
}

export function subcontinentName(code: string): string {
  return M49_SUBCONTINENTS.get(code) ?? code;
}

let regionNames: Intl.DisplayNames | null = null;

/** English country name of an ISO 3166-1 alpha-2 code ("US" → "United States"), else the code. */
export function countryName(code: string): string {
  regionNames ??= new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });
  try {
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
}

/** A short printable form of an input value for messages (at most 100 characters). */
export function show(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else {
    try {
      s = JSON.stringify(v) ?? typeof v;
    } catch {
      s = typeof v;
    }
  }
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

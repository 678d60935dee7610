// gtag.js `/g/collect` hits (GA4 protocol v=2) → ParsedEvent[]. Pure; the caller looks up the
// stream by the returned measurementId, turns events into NewEvents with mp/to-events.ts and runs
// the sessionizer. Decisions are documented in ./README.md.

import type { ParamValue, Params } from '../../domain/event.ts';
import { parseDecimal } from '../../domain/event.ts';
import {
  MAX_ITEMS,
  MAX_NAME_LENGTH,
  MAX_PARAMS,
  MAX_USER_ID_LENGTH,
  MAX_USER_PROPERTIES,
  MAX_USER_PROPERTY_VALUE_LENGTH,
  RESERVED_PARAM_NAMES,
  RESERVED_PARAM_PREFIXES,
  charLength,
  emptyDevice,
  hasReservedPrefix,
  nameProblem,
  nameProblemText,
  numberParam,
  paramValueLimit,
  setOwn,
  truncateChars,
  type ConsentState,
  type ParsedEvent,
  type ParsedUserProperty,
  type ValidationMessage,
  userPropertyNameIssue,
} from '../common.ts';
import { buildItem } from '../items.ts';
import { deviceFromUserAgent, mergeDevice } from '../user-agent.ts';

/** Events per request (lines of a batched POST body); more are dropped. Not a GA figure. */
export const MAX_GTAG_EVENTS = 50;

export interface GtagHitInput {
  /** The URL query string (with or without the leading `?`) or its parsed form. */
  query: string | URLSearchParams;
  /** The POST body: zero or more lines, each a query string whose params override the URL's. */
  body?: string | null;
  /** Server time, µs: the event time of every event of the hit. */
  nowMicros: bigint;
  /** The request's User-Agent header: fills the device fields the client hints leave out. */
  userAgent?: string | null;
}

export interface GtagParseResult {
  /** `tid` of the hit; the caller maps it to a web stream. Null when missing. */
  measurementId: string | null;
  messages: ValidationMessage[];
  events: ParsedEvent[];
}

const DIGITS = /^\d{1,19}$/;
const ITEM_KEY = /^pr([1-9]\d{0,2})$/;

/** Two-letter codes of the `pr<N>` item encoding. */
const ITEM_CODES: ReadonlyMap<string, string> = new Map([
  ['id', 'item_id'],
  ['nm', 'item_name'],
  ['af', 'affiliation'],
  ['cp', 'coupon'],
  ['ds', 'discount'],
  ['lp', 'index'],
  ['br', 'item_brand'],
  ['ca', 'item_category'],
  ['c2', 'item_category2'],
  ['c3', 'item_category3'],
  ['c4', 'item_category4'],
  ['c5', 'item_category5'],
  ['li', 'item_list_id'],
  ['ln', 'item_list_name'],
  ['va', 'item_variant'],
  ['lo', 'location_id'],
  ['pr', 'price'],
  ['qt', 'quantity'],
  ['pi', 'promotion_id'],
  ['pn', 'promotion_name'],
  ['cn', 'creative_name'],
  ['cs', 'creative_slot'],
]);

/**
 * Consent from `gcd` (consent mode v2), else from `gcs` (v1). See README.md for the mapping.
 * gcd letters, in order ad_storage, analytics_storage, ad_user_data, ad_personalization:
 * granted = t r n v (r, n, v: after an update), denied = p q m u, l = not set.
 */
export function parseConsent(gcs: string | null, gcd: string | null): ParsedEvent['consent'] {
  if (gcd) {
    const letters = gcd.match(/[a-z]/g);
    if (letters && letters.length >= 4) {
      return { adUserData: gcdState(letters[2]!), adPersonalization: gcdState(letters[3]!) };
    }
  }
  if (gcs && /^G1[01-][01-]$/.test(gcs)) {
    // G1<ad_storage><analytics_storage>. Denied ad storage denies ads use; granted ad storage
    // alone is no explicit grant of ad_user_data / ad_personalization.
    if (gcs[2] === '0') return { adUserData: 'DENIED', adPersonalization: 'DENIED' };
  }
  return { adUserData: null, adPersonalization: null };
}

function gcdState(letter: string): ConsentState | null {
  if ('trnv'.includes(letter)) return 'GRANTED';
  if ('pqmu'.includes(letter)) return 'DENIED';
  return null;
}

/** Browser and version from the client-hint full version list `Brand;1.2.3|Other;4.5`. */
function browserFromHints(list: string): [string, string] | null {
  let fallback: [string, string] | null = null;
  for (const entry of list.split('|')) {
    const semi = entry.lastIndexOf(';');
    if (semi <= 0) continue;
    const brand = decodeURIComponentSafe(entry.slice(0, semi));
    const version = entry.slice(semi + 1);
    if (/not.?a.?brand/i.test(brand)) continue;
    if (brand === 'Chromium') {
      fallback ??= ['Chrome', version];
      continue;
    }
    return [brand === 'Google Chrome' ? 'Chrome' : brand, version];
  }
  return fallback;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function toMap(q: string | URLSearchParams): Map<string, string> {
  const sp = typeof q === 'string' ? new URLSearchParams(q.startsWith('?') ? q.slice(1) : q) : q;
  const m = new Map<string, string>();
  for (const [k, v] of sp) m.set(k, v);
  return m;
}

class Collector {
  readonly messages: ValidationMessage[] = [];
  add(fieldPath: string, validationCode: ValidationMessage['validationCode'], description: string): void {
    this.messages.push({ fieldPath, description, validationCode });
  }
}

function stringParam(c: Collector, path: string, key: string, v: string): ParamValue {
  const max = paramValueLimit(key);
  const len = charLength(v);
  if (len > max) {
    c.add(
      path,
      'VALUE_OUT_OF_BOUNDS',
      `Event param [${key}] has value with length [${len}], the maximum is ${max}; it is truncated.`,
    );
    return { string_value: truncateChars(v, max) };
  }
  return { string_value: v };
}

function checkParamName(c: Collector, at: string, key: string): boolean {
  const problem = nameProblem(key, MAX_NAME_LENGTH);
  if (problem) {
    c.add(
      at,
      'NAME_INVALID',
      `Event param [${key}] has invalid name. ${nameProblemText(problem, MAX_NAME_LENGTH)}`,
    );
    return false;
  }
  if (RESERVED_PARAM_NAMES.has(key) || hasReservedPrefix(key, RESERVED_PARAM_PREFIXES)) {
    c.add(at, 'NAME_RESERVED', `Event param [${key}] is reserved.`);
    return false;
  }
  return true;
}

function parseItem(c: Collector, encoded: string, path: string): Record<string, unknown> | null {
  const raw: Record<string, unknown> = {};
  const custom = new Map<string, { key?: string; value?: string }>();
  for (const part of encoded.split('~')) {
    if (part.length < 2) continue;
    const code = part.slice(0, 2);
    const value = part.slice(2);
    const field = ITEM_CODES.get(code);
    if (field) {
      setOwn(raw, field, value);
      continue;
    }
    // Custom item params: k<d><name> and v<d><value>, d a slot digit 0-9.
    const kind = part[0];
    const slot = part[1]!;
    if ((kind === 'k' || kind === 'v') && slot >= '0' && slot <= '9') {
      const entry = custom.get(slot) ?? {};
      if (kind === 'k') entry.key = value;
      else entry.value = value;
      custom.set(slot, entry);
    }
  }
  for (const { key, value } of custom.values()) {
    if (key === undefined || value === undefined) continue;
    if (ITEM_CODES.has(key) || Object.prototype.hasOwnProperty.call(raw, key)) continue;
    setOwn(raw, key, value);
  }
  return buildItem(raw, path, c.messages);
}

function parseEvent(
  c: Collector,
  m: Map<string, string>,
  i: number,
  nowMicros: bigint,
  userAgent: string | null,
): ParsedEvent[] {
  const at = `events[${i}]`;
  const v = m.get('v');
  if (v !== '2') {
    c.add(
      `${at}.v`,
      'VALUE_INVALID',
      `Hit at index: [${i}] has protocol version [${v ?? ''}]; only 2 is supported.`,
    );
    return [];
  }
  const cid = m.get('cid');
  if (!cid) {
    c.add(`${at}.cid`, 'VALUE_REQUIRED', `Hit at index: [${i}] requires a client id (cid).`);
    return [];
  }
  if (!m.get('tid')) {
    c.add(`${at}.tid`, 'VALUE_REQUIRED', `Hit at index: [${i}] requires a measurement id (tid).`);
    return [];
  }
  const name = m.get('en');
  if (!name) {
    c.add(`${at}.en`, 'VALUE_REQUIRED', `Event at index: [${i}] requires a name.`);
    return [];
  }
  const problem = nameProblem(name, MAX_NAME_LENGTH);
  if (problem) {
    c.add(
      'events',
      'NAME_INVALID',
      `Event at index: [${i}] has invalid name [${name}]. ${nameProblemText(problem, MAX_NAME_LENGTH)}`,
    );
    return [];
  }

  const params: Params = {};
  let paramCount = 0;
  const userProperties: Record<string, ParsedUserProperty> = {};
  let upCount = 0;
  const items: Record<string, unknown>[] = [];
  const device = emptyDevice();
  let hasDevice = false;
  let sessionId: bigint | null = null;
  let sessionNumber: number | null = null;
  let userId: string | null = null;
  let nonPersonalizedAds: boolean | null = null;

  const putParam = (key: string, value: ParamValue): void => {
    if (paramCount >= MAX_PARAMS && !Object.prototype.hasOwnProperty.call(params, key)) {
      c.add(
        `${at}.params`,
        'EXCEEDED_MAX_ENTITIES',
        `Event at index: [${i}] has more than ${MAX_PARAMS} params; [${key}] is dropped.`,
      );
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(params, key)) paramCount++;
    setOwn(params, key, value);
  };

  for (const [k, val] of m) {
    const path = `${at}.${k}`;
    if (k.startsWith('ep.')) {
      const key = k.slice(3);
      if (checkParamName(c, `${at}.params`, key)) putParam(key, stringParam(c, path, key, val));
    } else if (k.startsWith('epn.')) {
      const key = k.slice(4);
      if (!checkParamName(c, `${at}.params`, key)) continue;
      const n = parseDecimal(val);
      if (n === null)
        c.add(
          path,
          'VALUE_INVALID',
          `Event param [${key}] has a non-numeric value [${truncateChars(val, 100)}].`,
        );
      else putParam(key, numberParam(n));
    } else if (k.startsWith('up.') || k.startsWith('upn.')) {
      const numeric = k.startsWith('upn.');
      const key = k.slice(numeric ? 4 : 3);
      const upPath = `${at}.user_properties.${key}`;
      const upIssue = userPropertyNameIssue(key);
      if (upIssue) {
        c.add(upPath, upIssue.code, upIssue.description);
        continue;
      }
      if (upCount >= MAX_USER_PROPERTIES) {
        c.add(
          upPath,
          'EXCEEDED_MAX_ENTITIES',
          `Hit has more than ${MAX_USER_PROPERTIES} user properties; [${key}] is dropped.`,
        );
        continue;
      }
      let value: ParamValue;
      if (numeric) {
        const n = parseDecimal(val);
        if (n === null) {
          c.add(upPath, 'VALUE_INVALID', `User property [${key}] has a non-numeric value.`);
          continue;
        }
        value = numberParam(n);
      } else {
        const len = charLength(val);
        if (len > MAX_USER_PROPERTY_VALUE_LENGTH) {
          c.add(
            upPath,
            'VALUE_OUT_OF_BOUNDS',
            `User property [${key}] has value with length [${len}], the maximum is ${MAX_USER_PROPERTY_VALUE_LENGTH}; it is truncated.`,
          );
        }
        value = { string_value: truncateChars(val, MAX_USER_PROPERTY_VALUE_LENGTH) };
      }
      if (!Object.prototype.hasOwnProperty.call(userProperties, key)) upCount++;
      setOwn(userProperties, key, { value, timestampMicros: null });
    } else if (ITEM_KEY.test(k)) {
      const n = Number(k.slice(2));
      if (n > MAX_ITEMS) {
        c.add(
          `${at}.items`,
          'EXCEEDED_MAX_ENTITIES',
          `Event at index: [${i}] has more than ${MAX_ITEMS} items; [${k}] is dropped.`,
        );
        continue;
      }
      const item = parseItem(c, val, `${at}.items[${n - 1}]`);
      if (item) items.push(item);
    } else {
      switch (k) {
        case 'dl':
          putParam('page_location', stringParam(c, path, 'page_location', val));
          break;
        case 'dt':
          putParam('page_title', stringParam(c, path, 'page_title', val));
          break;
        case 'dr':
          if (val !== '') putParam('page_referrer', stringParam(c, path, 'page_referrer', val));
          break;
        case 'cu':
          putParam('currency', stringParam(c, path, 'currency', val));
          break;
        case '_et': {
          const n = parseDecimal(val);
          if (n === null || n < 0)
            c.add(
              path,
              'VALUE_INVALID',
              `Engagement time [${truncateChars(val, 100)}] is not a non-negative number.`,
            );
          else putParam('engagement_time_msec', numberParam(Math.round(n)));
          break;
        }
        case 'seg':
          putParam('session_engaged', { string_value: val === '1' ? '1' : '0' });
          break;
        case 'sid':
          if (DIGITS.test(val)) sessionId = BigInt(val);
          else
            c.add(path, 'VALUE_INVALID', `Session id [${truncateChars(val, 100)}] must contain only digits.`);
          break;
        case 'sct':
          if (/^\d{1,9}$/.test(val)) sessionNumber = Number(val);
          else
            c.add(
              path,
              'VALUE_INVALID',
              `Session number [${truncateChars(val, 100)}] must be a positive integer.`,
            );
          break;
        case 'uid':
          if (val === '') break;
          if (charLength(val) > MAX_USER_ID_LENGTH) {
            c.add(
              path,
              'VALUE_OUT_OF_BOUNDS',
              `User id has length [${charLength(val)}], the maximum is ${MAX_USER_ID_LENGTH}; it is dropped.`,
            );
          } else userId = val;
          break;
        case 'ul':
          device.language = truncateChars(val.toLowerCase(), 100);
          hasDevice = true;
          break;
        case 'sr':
          if (/^\d{1,5}x\d{1,5}$/.test(val)) {
            device.screenResolution = val;
            hasDevice = true;
          }
          break;
        case 'uap':
          device.operatingSystem = truncateChars(val, 100);
          hasDevice = true;
          break;
        case 'uapv':
          device.operatingSystemVersion = truncateChars(val, 100);
          hasDevice = true;
          break;
        case 'uam':
          if (val !== '') {
            device.model = truncateChars(val, 100);
            hasDevice = true;
          }
          break;
        case 'uamb':
          device.category = val === '1' ? 'mobile' : 'desktop';
          hasDevice = true;
          break;
        case 'uafvl': {
          const b = browserFromHints(val);
          if (b) {
            device.browser = truncateChars(b[0], 100);
            device.browserVersion = truncateChars(b[1], 100);
            hasDevice = true;
          }
          break;
        }
        case 'npa':
          nonPersonalizedAds = val === '1';
          break;
        default:
          break; // _p, _s, _ss, _fv, _nsi, gcs, gcd, tid, cid, en, v and unknown keys
      }
    }
  }

  const base: ParsedEvent = {
    source: 'gtag',
    platform: 'WEB',
    name,
    params,
    items,
    timestampMicros: nowMicros,
    sessionId,
    sessionNumber,
    clientId: cid,
    userId,
    userProperties,
    consent: parseConsent(m.get('gcs') ?? null, m.get('gcd') ?? null),
    nonPersonalizedAds,
    location: null,
    device: mergeDevice(hasDevice ? device : null, deviceFromUserAgent(userAgent)),
  };
  // GA synthesises first_visit / session_start from the flags of the hit that carries them.
  const out: ParsedEvent[] = [];
  const pageParams = (): Params => {
    const p: Params = {};
    for (const key of ['page_location', 'page_title', 'page_referrer'] as const) {
      const pv = params[key];
      if (pv) p[key] = pv;
    }
    return p;
  };
  if (m.get('_fv') === '1' && name !== 'first_visit')
    out.push({ ...base, name: 'first_visit', params: pageParams(), items: [] });
  if (m.get('_ss') === '1' && name !== 'session_start')
    out.push({ ...base, name: 'session_start', params: pageParams(), items: [] });
  out.push(base);
  return out;
}

/**
 * Parses one `/g/collect` request. A POST body with lines yields one event per non-empty line
 * (line params override the URL's); without body lines the URL alone is one event.
 */
export function parseGtagHit(input: GtagHitInput): GtagParseResult {
  const c = new Collector();
  const url = toMap(input.query);
  const lines = (input.body ?? '').split(/\r?\n/).filter((l) => l.trim() !== '');
  const merged: Map<string, string>[] = [];
  if (lines.length === 0) merged.push(url);
  else {
    if (lines.length > MAX_GTAG_EVENTS) {
      c.add(
        'events',
        'EXCEEDED_MAX_ENTITIES',
        `Hit has [${lines.length}] events, the maximum is ${MAX_GTAG_EVENTS}.`,
      );
    }
    for (const line of lines.slice(0, MAX_GTAG_EVENTS)) {
      const m = new Map(url);
      for (const [k, v] of toMap(line)) m.set(k, v);
      merged.push(m);
    }
  }
  const measurementId = merged[0]?.get('tid') || null;
  const events: ParsedEvent[] = [];
  merged.forEach((m, i) => {
    const tid = m.get('tid');
    if (tid && measurementId && tid !== measurementId) {
      c.add(
        `events[${i}].tid`,
        'VALUE_INVALID',
        `Hit at index: [${i}] has measurement id [${tid}], expected [${measurementId}].`,
      );
      return;
    }
    events.push(...parseEvent(c, m, i, input.nowMicros, input.userAgent ?? null));
  });
  return { measurementId, messages: c.messages, events };
}

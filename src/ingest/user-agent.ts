// Device fields derived from a User-Agent string: the Measurement Protocol's top-level
// `user_agent` ("used to derive device info", as GA4 documents the field) and the User-Agent header of gtag.js
// hits. Parsing is ua-parser-js 1.x; its names are mapped to the ones GA4 reports (BigQuery
// export): "Mac OS" -> "Macintosh", "Chromium OS" -> "Chrome OS", "Mobile Safari" -> "Safari",
// "Chrome WebView" -> "Android Webview", device types -> desktop / mobile / tablet / smart tv.
// Versions are stored bare ("14", "17.1.2"), as a Measurement Protocol client sends
// `device.operating_system_version`. Values the sender states explicitly (MP `device`, gtag's
// client hints uap/uapv/uamb/uafvl/ul) win over derived ones (mergeDevice).
// Geography is not derived: audex ships no IP-to-location database (MP `user_location` is the
// way to set it).

import UAParser from 'ua-parser-js';
import type { ParsedDevice } from './common.ts';

const OS_NAMES: Record<string, string> = {
  'Mac OS': 'Macintosh',
  'Chromium OS': 'Chrome OS',
};

const BROWSER_NAMES: Record<string, string> = {
  'Mobile Safari': 'Safari',
  'Mobile Chrome': 'Chrome',
  'Chrome Mobile': 'Chrome',
  'Mobile Firefox': 'Firefox',
  'Chrome WebView': 'Android Webview',
  'Chrome Headless': 'Chrome',
};

const CATEGORIES: Record<string, string> = {
  mobile: 'mobile',
  wearable: 'mobile',
  tablet: 'tablet',
  smarttv: 'smart tv',
};

/** Longer strings are cut before parsing (real User-Agents are a few hundred characters). */
const MAX_UA_LENGTH = 512;
/** Distinct User-Agents remembered: real traffic repeats a few hundred strings, and parsing one costs ~13 µs. */
const CACHE_SIZE = 2_000;
const cache = new Map<string, ParsedDevice | null>();

/** The device a User-Agent describes, or null when it names neither an OS nor a browser. */
export function deviceFromUserAgent(userAgent: string | null | undefined): ParsedDevice | null {
  if (!userAgent) return null;
  const ua = userAgent.length > MAX_UA_LENGTH ? userAgent.slice(0, MAX_UA_LENGTH) : userAgent;
  const hit = cache.get(ua);
  if (hit !== undefined) return hit;
  // Frozen: one cached object is shared by every event with this User-Agent.
  const device = parse(ua);
  if (device) Object.freeze(device);
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(ua, device);
  return device;
}

function parse(ua: string): ParsedDevice | null {
  const r = new UAParser(ua).getResult();
  if (!r.os.name && !r.browser.name) return null;
  return {
    category: CATEGORIES[r.device.type ?? ''] ?? 'desktop',
    language: null,
    screenResolution: null,
    operatingSystem: r.os.name ? (OS_NAMES[r.os.name] ?? r.os.name) : null,
    operatingSystemVersion: r.os.version ?? null,
    model: r.device.model ?? null,
    brand: r.device.vendor ?? null,
    browser: r.browser.name ? (BROWSER_NAMES[r.browser.name] ?? r.browser.name) : null,
    browserVersion: r.browser.version ?? null,
  };
}

/**
 * The explicit device with the gaps filled from the derived one. A name and its version go
 * together (OS, browser; brand and model), so an explicit "iOS" never gets an Android version.
 */
export function mergeDevice(
  explicit: ParsedDevice | null,
  derived: ParsedDevice | null,
): ParsedDevice | null {
  if (!derived) return explicit;
  if (!explicit) return derived;
  const os =
    explicit.operatingSystem !== null || explicit.operatingSystemVersion !== null ? explicit : derived;
  const browser = explicit.browser !== null || explicit.browserVersion !== null ? explicit : derived;
  const hardware = explicit.brand !== null || explicit.model !== null ? explicit : derived;
  return {
    category: explicit.category ?? derived.category,
    language: explicit.language,
    screenResolution: explicit.screenResolution,
    operatingSystem: os.operatingSystem,
    operatingSystemVersion: os.operatingSystemVersion,
    model: hardware.model,
    brand: hardware.brand,
    browser: browser.browser,
    browserVersion: browser.browserVersion,
  };
}

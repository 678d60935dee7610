// Session device and geography for server-side Measurement Protocol events (docs/audiences.md
// §3, src/ingest/mp/README.md). GA4 documents that an MP event carrying the `session_id` of a
// session seen within the last 24 hours takes that session's device and geography when it sends
// none of its own, so a purchase sent by a server over MP still counts for "mobile purchasers".
// audex does it at ingest: the stored event carries the inherited fields, so the SQL plan and the
// reference evaluator agree by construction, and exports need no join.
//
// Rules:
// - Every collected event (gtag or MP) with a session id and device (resp. geography) fields of its
//   own records them for (property, user_pseudo_id, ga_session_id), with its timestamp.
// - An MP event that arrives with a session id (not one the sessionizer assigned) and no device
//   field at all takes the recorded device of that session when the recording event is at most
//   24 h from it (event time, either side); geography likewise, independently.
// - Memory is bounded: a least-recently-used map of sessions (default 100,000), like the
//   sessionizer's. Limitation: after a restart, or once a session is evicted, MP events of that
//   session are stored without the session's device and geography.

import type { NewEvent } from '../domain/event.ts';

export const SESSION_CONTEXT_MAX_AGE_MICROS = 24n * 60n * 60n * 1_000_000n;

const DEVICE_FIELDS = [
  'device_category',
  'device_operating_system',
  'device_operating_system_version',
  'device_browser',
  'device_browser_version',
  'device_language',
  'device_mobile_brand_name',
  'device_mobile_model_name',
] as const;
const GEO_FIELDS = [
  'geo_continent',
  'geo_sub_continent',
  'geo_country',
  'geo_country_id',
  'geo_region',
  'geo_city',
] as const;

type FieldGroup = typeof DEVICE_FIELDS | typeof GEO_FIELDS;
/** A group's values in the group's field order, and when they were seen. */
interface Seen {
  values: (string | null)[];
  at: bigint;
}
interface SessionEntry {
  device: Seen | null;
  geo: Seen | null;
}

export interface SessionContextOptions {
  /** Sessions kept in memory (LRU). Default 100,000. */
  maxSessions?: number;
  /** How far (µs of event time) a recorded session's fields reach. Default 24 h. */
  maxAgeMicros?: bigint;
}

export class SessionContext {
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly maxSessions: number;
  private readonly maxAge: bigint;
  private evictCursor: MapIterator<string> | undefined;

  constructor(options: SessionContextOptions = {}) {
    this.maxSessions = options.maxSessions ?? 100_000;
    this.maxAge = options.maxAgeMicros ?? SESSION_CONTEXT_MAX_AGE_MICROS;
  }

  /** Sessions currently tracked (at most maxSessions). */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * In input order, in place: fills the device and geography of `inherit` events (MP) that carry
   * a session id and none of their own, then records what each event carries. Call it before the
   * sessionizer, so that only session ids the client sent count.
   */
  apply(events: NewEvent[], inherit: boolean): void {
    let key = '';
    let entry: SessionEntry | undefined;
    for (const e of events) {
      if (e.ga_session_id === null) continue;
      const k = `${e.property_id}\u0000${e.user_pseudo_id}\u0000${e.ga_session_id}`;
      if (k !== key) {
        key = k;
        entry = this.sessions.get(k);
      }
      const ownDevice = hasAny(e, DEVICE_FIELDS);
      const ownGeo = hasAny(e, GEO_FIELDS);
      if (inherit && entry) {
        if (!ownDevice) this.fill(e, DEVICE_FIELDS, entry.device);
        if (!ownGeo) this.fill(e, GEO_FIELDS, entry.geo);
      }
      if (!ownDevice && !ownGeo) continue;
      if (!entry) {
        entry = { device: null, geo: null };
        this.sessions.set(k, entry);
        this.evictIfFull();
      } else {
        // Most recently used last.
        this.sessions.delete(k);
        this.sessions.set(k, entry);
      }
      if (ownDevice) entry.device = record(e, DEVICE_FIELDS, entry.device);
      if (ownGeo) entry.geo = record(e, GEO_FIELDS, entry.geo);
    }
  }

  private fill(e: NewEvent, fields: FieldGroup, seen: Seen | null): void {
    if (!seen) return;
    const gap = e.event_timestamp > seen.at ? e.event_timestamp - seen.at : seen.at - e.event_timestamp;
    if (gap > this.maxAge) return;
    fields.forEach((f, i) => (e[f] = seen.values[i]!));
  }

  /** Drops the least recently used session (the kept iterator: see Sessionizer.oldestKey). */
  private evictIfFull(): void {
    if (this.sessions.size <= this.maxSessions) return;
    let next = this.evictCursor?.next();
    if (!next || next.done) {
      this.evictCursor = this.sessions.keys();
      next = this.evictCursor.next();
    }
    if (!next.done) this.sessions.delete(next.value);
  }
}

function hasAny(e: NewEvent, fields: FieldGroup): boolean {
  for (const f of fields) if (e[f] !== null) return true;
  return false;
}

/** The group's values of `e`, unless a later event of the session already recorded its own. */
function record(e: NewEvent, fields: FieldGroup, seen: Seen | null): Seen {
  if (seen && seen.at > e.event_timestamp) return seen;
  // Most events of a session repeat its values (every gtag.js hit): no new array for those.
  if (seen && fields.every((f, i) => e[f] === seen.values[i])) {
    seen.at = e.event_timestamp;
    return seen;
  }
  return { values: fields.map((f) => e[f]), at: e.event_timestamp };
}

// Sessions on flat rows (flat-rows.ts): the session context (device and geography of a known
// session, src/ingest/session-context.ts) and the sessionizer (session ids and numbers,
// src/ingest/sessionizer.ts) keep their state on the main thread and work on event objects. Here
// they run on light stand-ins holding only the fields they read and fill, and their answers are
// written back into the rows, so collection and NDJSON imports apply exactly the rules of the
// object path.

import type { NewEvent } from '../../domain/event.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';
import type { SessionContext } from '../../ingest/session-context.ts';
import { CELL, CELLS_PER_ROW, FlatRowsReader, STRING_KIND, withStrings, type FlatRows } from './flat-rows.ts';

type Light = Pick<
  NewEvent,
  'property_id' | 'user_pseudo_id' | 'event_timestamp' | 'ga_session_id' | 'ga_session_number'
>;

/** The sessionizer over flat rows: assigns ga_session_id and ga_session_number in place. */
export function sessionizeFlat(rows: FlatRowsReader, sessionizer: Sessionizer): void {
  const offsets = rows.rowTextOffsets();
  const n = rows.f.rows;
  const light = new Array<Light>(n);
  for (let r = 0; r < n; r++) {
    light[r] = {
      property_id: rows.big(r, CELL.property_id)!,
      user_pseudo_id: rows.stringAt(r, CELL.user_pseudo_id, offsets[r]!),
      event_timestamp: rows.big(r, CELL.event_timestamp)!,
      ga_session_id: rows.big(r, CELL.ga_session_id),
      ga_session_number: rows.int(r, CELL.ga_session_number),
    };
  }
  sessionizer.assign(light as NewEvent[]);
  writeSessions(rows, light);
}

function writeSessions(rows: FlatRowsReader, light: Light[]): void {
  for (let r = 0; r < light.length; r++) {
    rows.setBig(r, CELL.ga_session_id, light[r]!.ga_session_id ?? null);
    rows.setInt(r, CELL.ga_session_number, light[r]!.ga_session_number ?? null);
  }
}

const CONTEXT_FIELDS = [
  'device_category',
  'device_operating_system',
  'device_operating_system_version',
  'device_browser',
  'device_browser_version',
  'device_language',
  'device_mobile_brand_name',
  'device_mobile_model_name',
  'geo_continent',
  'geo_sub_continent',
  'geo_country',
  'geo_country_id',
  'geo_region',
  'geo_city',
] as const;
const CONTEXT_CELLS = CONTEXT_FIELDS.map((f) => CELL[f]);
/** Per cell: its position in CONTEXT_FIELDS, or -1. */
const CONTEXT_AT = new Int8Array(CELLS_PER_ROW).fill(-1);
CONTEXT_CELLS.forEach((cell, k) => (CONTEXT_AT[cell] = k));
const K = CONTEXT_FIELDS.length;

/**
 * What the collection routes do to each request's events before storing them, on flat rows:
 * SessionContext.apply (`inherit`: MP events take a known session's device and geography), then
 * the sessionizer. Returns the rows to store: `f` itself, or a copy when a row inherited fields.
 */
export function assignSessionsFlat(
  f: FlatRows,
  deps: { sessionContext: SessionContext; sessionizer: Sessionizer; inherit: boolean },
): FlatRows {
  const n = f.rows;
  const light = new Array<Light & Record<(typeof CONTEXT_FIELDS)[number], string | null>>(n);
  // What each row carried, to see afterwards what the session context filled in.
  const carried = new Array<string | null>(n * K).fill(null);
  const { kinds, lens, text } = f;
  const upid = CELL.user_pseudo_id;
  let reader = new FlatRowsReader(f);
  let off = 0;
  // One pass over the rows' strings, slicing only the ones read here.
  for (let r = 0; r < n; r++) {
    const base = r * CELLS_PER_ROW;
    let user = '';
    for (let c = 0; c < CELLS_PER_ROW; c++) {
      if (kinds[base + c] !== STRING_KIND) continue;
      const end = off + lens[base + c]!;
      if (c === upid) user = text.slice(off, end);
      else if (CONTEXT_AT[c]! >= 0) carried[r * K + CONTEXT_AT[c]!] = text.slice(off, end);
      off = end;
    }
    const o = r * K;
    light[r] = {
      property_id: reader.big(r, CELL.property_id)!,
      user_pseudo_id: user,
      event_timestamp: reader.big(r, CELL.event_timestamp)!,
      ga_session_id: reader.big(r, CELL.ga_session_id),
      ga_session_number: reader.int(r, CELL.ga_session_number),
      device_category: carried[o]!,
      device_operating_system: carried[o + 1]!,
      device_operating_system_version: carried[o + 2]!,
      device_browser: carried[o + 3]!,
      device_browser_version: carried[o + 4]!,
      device_language: carried[o + 5]!,
      device_mobile_brand_name: carried[o + 6]!,
      device_mobile_model_name: carried[o + 7]!,
      geo_continent: carried[o + 8]!,
      geo_sub_continent: carried[o + 9]!,
      geo_country: carried[o + 10]!,
      geo_country_id: carried[o + 11]!,
      geo_region: carried[o + 12]!,
      geo_city: carried[o + 13]!,
    };
  }
  deps.sessionContext.apply(light as unknown as NewEvent[], deps.inherit);
  let patches: Map<number, Map<number, string | null>> | null = null;
  for (let r = 0; r < n; r++) {
    const e = light[r]!;
    for (let k = 0; k < K; k++) {
      const v = e[CONTEXT_FIELDS[k]!];
      if (v === carried[r * K + k]) continue;
      patches ??= new Map();
      let p = patches.get(r);
      if (!p) patches.set(r, (p = new Map()));
      p.set(CONTEXT_CELLS[k]!, v);
    }
  }
  if (patches) reader = new FlatRowsReader(withStrings(f, patches));
  deps.sessionizer.assign(light as unknown as NewEvent[]);
  writeSessions(reader, light);
  return reader.f;
}

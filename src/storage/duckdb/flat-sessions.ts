// Sessions on flat rows (flat-rows.ts): the session context (device and geography of a known
// session, src/ingest/session-context.ts) and the sessionizer (session ids and numbers,
// src/ingest/sessionizer.ts) keep their state on the main thread and work on event objects. Here
// they run on light stand-ins holding only the fields they read and fill, and their answers are
// written back into the rows, so collection and NDJSON imports apply exactly the rules of the
// object path.

import type { NewEvent } from '../../domain/event.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';
import type { SessionContext } from '../../ingest/session-context.ts';
import { CELL, CELLS_PER_ROW, FlatRowsReader, withStrings, type FlatRows } from './flat-rows.ts';

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
const CONTEXT_CELLS = CONTEXT_FIELDS.map((f) => CELL[f]!);

/**
 * What the collection routes do to each request's events before storing them, on flat rows:
 * SessionContext.apply (`inherit`: MP events take a known session's device and geography), then
 * the sessionizer. Returns the rows to store: `f` itself, or a copy when a row inherited fields.
 */
export function assignSessionsFlat(
  f: FlatRows,
  deps: { sessionContext: SessionContext; sessionizer: Sessionizer; inherit: boolean },
): FlatRows {
  let rows = new FlatRowsReader(f);
  const offsets = rows.rowTextOffsets();
  const n = f.rows;
  const light = new Array<Light & Record<(typeof CONTEXT_FIELDS)[number], string | null>>(n);
  const cells = new Array<string | null>(CELLS_PER_ROW);
  for (let r = 0; r < n; r++) {
    rows.rowStrings(r, offsets[r]!, cells);
    const e = {
      property_id: rows.big(r, CELL.property_id)!,
      user_pseudo_id: cells[CELL.user_pseudo_id!]!,
      event_timestamp: rows.big(r, CELL.event_timestamp)!,
      ga_session_id: rows.big(r, CELL.ga_session_id),
      ga_session_number: rows.int(r, CELL.ga_session_number),
    } as (typeof light)[number];
    for (let k = 0; k < CONTEXT_FIELDS.length; k++) e[CONTEXT_FIELDS[k]!] = cells[CONTEXT_CELLS[k]!]!;
    light[r] = e;
  }
  // Remember what each row carried, to see what the session context filled in.
  const before = light.map((e) => CONTEXT_FIELDS.map((k) => e[k]));
  deps.sessionContext.apply(light as unknown as NewEvent[], deps.inherit);
  let patches: Map<number, Map<number, string | null>> | null = null;
  for (let r = 0; r < n; r++) {
    const e = light[r]!;
    const was = before[r]!;
    for (let k = 0; k < CONTEXT_FIELDS.length; k++) {
      const v = e[CONTEXT_FIELDS[k]!];
      if (v === was[k]) continue;
      patches ??= new Map();
      let p = patches.get(r);
      if (!p) patches.set(r, (p = new Map()));
      p.set(CONTEXT_CELLS[k]!, v);
    }
  }
  if (patches) rows = new FlatRowsReader(withStrings(f, patches));
  deps.sessionizer.assign(light as unknown as NewEvent[]);
  writeSessions(rows, light);
  return rows.f;
}

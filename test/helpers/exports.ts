// Shared pieces of the export tests: stored events (read back through the events endpoint) as
// StoredEvents for the reference evaluator, and the expected export attributes per device.
import assert from 'node:assert/strict';
import { api } from './server.ts';
import { EVENT_COLUMNS, type StoredEvent } from '../../src/domain/event.ts';

/** The events endpoint's JSON (int64 as strings) back into StoredEvents. */
export function toStoredEvent(j: Record<string, any>): StoredEvent {
  const out: Record<string, unknown> = {};
  const param = (v: any) => ('int_value' in v ? { int_value: BigInt(v.int_value) } : v);
  for (const [name, type] of EVENT_COLUMNS) {
    const v = j[name];
    if (name === 'event_params')
      out[name] = Object.fromEntries(Object.entries(v ?? {}).map(([k, p]) => [k, param(p)]));
    else if (name === 'user_properties')
      out[name] = Object.fromEntries(
        Object.entries(v ?? {}).map(([k, p]: [string, any]) => [
          k,
          { value: param(p.value), set_timestamp_micros: BigInt(p.set_timestamp_micros) },
        ]),
      );
    else if (type === 'BIGINT') out[name] = v === null || v === undefined ? null : BigInt(v);
    else out[name] = v ?? null;
  }
  return out as unknown as StoredEvent;
}

export async function allEvents(server: { url: string }, property: string): Promise<StoredEvent[]> {
  const r = await api(server, 'GET', `/audex/v1/${property}/events?limit=10000`);
  return (r.json.events as Record<string, any>[]).map(toStoredEvent);
}

function later(a: StoredEvent, b: StoredEvent): boolean {
  return a.event_timestamp !== b.event_timestamp
    ? a.event_timestamp > b.event_timestamp
    : a.ingest_seq > b.ingest_seq;
}

/** Expected export values per device as of asOf (docs/exports.md), independent of the SQL. */
export function expectedAttributes(
  events: StoredEvent[],
  asOf: bigint,
  maxSeq = 1n << 62n,
): Map<string, Record<string, string>> {
  const latest = new Map<string, Record<string, StoredEvent>>();
  for (const e of events) {
    if (e.event_timestamp > asOf || e.ingest_seq > maxSeq) continue;
    const m = latest.get(e.user_pseudo_id) ?? {};
    for (const f of [
      'user_id',
      'consent_ad_personalization',
      'non_personalized_ads',
      'device_is_limited_ad_tracking',
    ] as const) {
      if (e[f] !== null && (!m[f] || later(e, m[f]))) m[f] = e;
    }
    latest.set(e.user_pseudo_id, m);
  }
  const out = new Map<string, Record<string, string>>();
  for (const [dev, m] of latest) {
    const consent = m.consent_ad_personalization?.consent_ad_personalization ?? null;
    const npa = m.non_personalized_ads?.non_personalized_ads ?? null;
    const lat = m.device_is_limited_ad_tracking?.device_is_limited_ad_tracking ?? null;
    out.set(dev, {
      deviceId: dev,
      userId: m.user_id?.user_id ?? '',
      isAdsPersonalizationAllowed:
        consent === 'DENIED' || npa === true
          ? 'false'
          : consent !== null || npa !== null
            ? 'true'
            : '(not set)',
      isLimitedAdTracking: lat === null ? '(not set)' : String(lat),
    });
  }
  return out;
}

/**
 * Creates an export over REST and polls GetAudienceExport until it leaves CREATING (fails the
 * test unless it is ACTIVE); returns the resource.
 */
export async function createExportAndWait(
  server: { url: string },
  property: string,
  audience: string,
  dimensions: string[],
  pollMs = 100,
): Promise<any> {
  const op = await api(server, 'POST', `/v1beta/${property}/audienceExports`, {
    audience,
    dimensions: dimensions.map((dimensionName) => ({ dimensionName })),
  });
  assert.equal(op.status, 200, JSON.stringify(op.json));
  const name = op.json.response.name as string;
  let e: any;
  for (let i = 0; i < 600; i++) {
    e = (await api(server, 'GET', `/v1beta/${name}`)).json;
    if (e.state !== 'CREATING') break;
    await new Promise<void>((r) => setTimeout(r, pollMs));
  }
  assert.equal(e.state, 'ACTIVE', JSON.stringify(e));
  return e;
}

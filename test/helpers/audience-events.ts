// Test helpers shared by the reference-evaluator tests and the SQL-compiler tests: build complete
// StoredEvents tersely, parse ISO times to µs, and the worked examples' evaluation config.
//
//   ev('u1', 'purchase', '2024-05-20T10:00', { session: 1, params: { value: 50 } })
//   ev('u2', 'page_view', '2024-06-02', { geo_country_id: 'US', userProps: { plan: 'pro' } })

import { DateTime } from 'luxon';
import type { EvaluationConfig } from '../../src/domain/audience.ts';
import { paramNumber, paramString, type ParamValue, type StoredEvent } from '../../src/domain/event.ts';
import { baseEvent } from './event-fixtures.ts';

/** A param given as a plain value: string → string_value, bigint → int_value, number → double_value. */
export type ParamInput = string | number | bigint | ParamValue;

export interface EvOpts extends Partial<
  Omit<StoredEvent, 'user_pseudo_id' | 'event_name' | 'event_timestamp' | 'event_params' | 'user_properties'>
> {
  params?: Record<string, ParamInput>;
  /** User properties (snapshot on this event); set_timestamp_micros = the event time. */
  userProps?: Record<string, ParamInput>;
  /** ga_session_id. Default: the event's unix seconds (so unrelated events are separate sessions). */
  session?: bigint | number | null;
  /** ingest_seq. Default: a global counter (see resetSeq), so creation order breaks ties. */
  seq?: bigint | number;
  /** Time zone for event_date (default UTC). */
  timeZone?: string;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * µs since epoch of an ISO-8601 time. Date only = midnight; no zone = UTC (unlike `Date.parse`);
 * up to 6 fractional digits are kept exactly.
 */
export function micros(iso: string): bigint {
  const m = ISO.exec(iso);
  if (!m) throw new Error(`bad ISO time: ${iso}`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return BigInt(ms) * 1000n + BigInt(frac.padEnd(6, '0'));
}

/** ISO text of a µs instant (ms precision), for messages. */
export function iso(t: bigint): string {
  return new Date(Number(t / 1000n)).toISOString();
}

export function toParam(v: ParamInput): ParamValue {
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'bigint') return { int_value: v };
  if (typeof v === 'number') return { double_value: v };
  return v;
}

let nextSeq = 1n;

/** Restarts the ingest_seq counter (call in beforeEach for reproducible seqs). */
export function resetSeq(next: bigint = 1n): void {
  nextSeq = next;
}

/**
 * A complete StoredEvent with defaults. Like ingest, a `purchase` (`refund`) event's `value`
 * param fills ecommerce_purchase_revenue (ecommerce_refund_value), and a `transaction_id` param
 * fills ecommerce_transaction_id, unless those are given.
 */
export function ev(user: string, name: string, time: string | bigint, opts: EvOpts = {}): StoredEvent {
  const { params = {}, userProps = {}, session, seq, timeZone = 'UTC', ...rest } = opts;
  const ts = typeof time === 'bigint' ? time : micros(time);
  const event_params = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, toParam(v)]));
  const user_properties = Object.fromEntries(
    Object.entries(userProps).map(([k, v]) => [k, { value: toParam(v), set_timestamp_micros: ts }]),
  );
  const value = paramNumber(event_params['value']);
  const ingestSeq = seq === undefined ? nextSeq++ : BigInt(seq);
  const floorSeconds = ts >= 0n || ts % 1_000_000n === 0n ? ts / 1_000_000n : ts / 1_000_000n - 1n;
  return {
    ...baseEvent(),
    property_id: 1n,
    stream_id: '1',
    platform: 'WEB',
    ingest_seq: ingestSeq,
    event_name: name,
    event_timestamp: ts,
    event_date: DateTime.fromMillis(Number(ts / 1000n), { zone: timeZone }).toFormat('yyyyLLdd'),
    received_at: ts,
    source: 'mp',
    user_pseudo_id: user,
    ga_session_id: session === undefined ? floorSeconds : session === null ? null : BigInt(session),
    event_params,
    user_properties,
    ecommerce_transaction_id: paramString(event_params['transaction_id']),
    ecommerce_purchase_revenue: name === 'purchase' ? value : null,
    ecommerce_refund_value: name === 'refund' ? value : null,
    ...rest,
  };
}

/** The worked examples' common fixture: createTime 2024-06-01Z, backfill 30 days, UTC, no adjacency list. */
export const SPEC_CREATE_TIME = micros('2024-06-01T00:00:00Z');

export function specConfig(overrides: Partial<EvaluationConfig> = {}): EvaluationConfig {
  return {
    createTimeMicros: SPEC_CREATE_TIME,
    backfillDays: 30,
    timeZone: 'UTC',
    ignoreEventNamesForAdjacency: [],
    ...overrides,
  };
}

// The evaluation window (reference D2): one property's events from windowStart up to
// asOf, without synthetic audience-trigger events.

import type { EvaluationConfig } from '../../domain/audience.ts';
import { param, sql, type Fragment } from './sql.ts';

export const MICROS_PER_DAY = 86_400_000_000n;

export interface QueryContext {
  propertyId: bigint;
  asOfMicros: bigint;
  config: EvaluationConfig;
  /** Snapshot high-water mark: events stored after it (even backdated ones) do not count. */
  maxIngestSeq?: bigint;
}

/** µs of the first event that counts, or null for full history. */
export function windowStartMicros(config: EvaluationConfig): bigint | null {
  return config.backfillDays === null
    ? null
    : config.createTimeMicros - BigInt(config.backfillDays) * MICROS_PER_DAY;
}

/** `filter`: an extra condition for the scan (a necessary condition, so the result is unchanged). */
export function eventWindow(ctx: QueryContext, columns: Fragment, filter?: Fragment): Fragment {
  const start = windowStartMicros(ctx.config);
  const lower = start === null ? sql`` : sql` AND event_timestamp >= ${param(start)}`;
  const upper = ctx.maxIngestSeq === undefined ? sql`` : sql` AND ingest_seq <= ${param(ctx.maxIngestSeq)}`;
  const extra = filter === undefined ? sql`` : sql` AND ${filter}`;
  return sql`SELECT ${columns} FROM events WHERE property_id = ${param(ctx.propertyId)}${lower} AND event_timestamp <= ${param(ctx.asOfMicros)}${upper} AND source <> 'audience_trigger'${extra}`;
}

/**
 * D3: an event's session key over the event columns; a null ga_session_id is a session of its own.
 * (COALESCE: ClickHouse casts both branches, and a NULL to VARCHAR fails there.)
 */
export const EVENT_SESSION_KEY: Fragment = sql`(CASE WHEN ga_session_id IS NULL THEN 'e' || CAST(ingest_seq AS VARCHAR) ELSE 's' || CAST(COALESCE(ga_session_id, 0) AS VARCHAR) END)`;

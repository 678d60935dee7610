// The events table, built from the event schema (EVENT_SCHEMA in src/domain/event.ts).
//
// Decisions (measured in the lab, 1M rows, 2 threads):
// - JSON-typed columns use DuckDB's JSON type (an alias of VARCHAR). Appending and `->>`
//   extraction timed the same as plain VARCHAR (±10 %, noise); the alias documents intent and
//   lets `->`/`->>` work without casts. The appender does not validate JSON, so every JSON value
//   must come from encodeParams / encodeUserProperties / JSON.stringify.
// - No index and no PRIMARY KEY: an ART index slows every append and DuckDB answers the audience
//   queries by scans. Rows are stored in arrival order, so ingest_seq (and received_at) are
//   physically sorted and their zonemaps prune perfectly; event_timestamp is nearly sorted for
//   live traffic. Imports append a file's rows in file order.
// - Required fields are NOT NULL so that a bug upstream fails the batch instead of storing a
//   half-empty event.

import { EVENT_COLUMNS, NULLABLE_EVENT_COLUMNS } from '../../domain/event.ts';
import type { Session } from './connection.ts';
import { quoteIdent } from './sql.ts';
import { StorageError } from '../errors.ts';
import { ensureDeviceAttributesSchema } from './device-attributes.ts';

export const EVENTS_TABLE = 'events';

const NULLABLE = NULLABLE_EVENT_COLUMNS;

export function isNullableColumn(name: string): boolean {
  return NULLABLE.has(name);
}

export function createEventsTableSql(): string {
  const cols = EVENT_COLUMNS.map(
    ([name, type]) => `  ${quoteIdent(name)} ${type}${NULLABLE.has(name) ? '' : ' NOT NULL'}`,
  );
  return `CREATE TABLE IF NOT EXISTS ${EVENTS_TABLE} (\n${cols.join(',\n')}\n)`;
}

/** Creates the table if missing and checks that an existing one has exactly EVENT_COLUMNS. */
export async function ensureSchema(writer: Session): Promise<void> {
  await writer.run(createEventsTableSql());
  await ensureDeviceAttributesSchema(writer);
  const rows = await writer.all(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    [EVENTS_TABLE],
  );
  const have = rows.map((r) => `${String(r.column_name)} ${String(r.data_type)}`);
  const want = EVENT_COLUMNS.map(([n, t]) => `${n} ${t}`);
  if (have.join(',') !== want.join(',')) {
    throw new StorageError(
      'other',
      `events table does not match EVENT_COLUMNS (have ${have.length} columns, want ${want.length}); migrate or use a new data folder`,
    );
  }
}

/** The next ingest_seq to hand out: max(ingest_seq)+1 over everything committed, or 1. */
export async function nextIngestSeq(session: Session): Promise<bigint> {
  const rows = await session.all(`SELECT coalesce(max(ingest_seq), 0) + 1 AS next FROM ${EVENTS_TABLE}`);
  return BigInt(rows[0]?.next as bigint | number);
}

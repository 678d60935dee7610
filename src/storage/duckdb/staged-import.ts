// All-or-nothing NDJSON imports and the import ledger (issue 13 item 2).
//
// An import streams its rows into a staging table of its own (`import_stage_<hex>`, the events
// table's shape, ingest_seq holding the row's ordinal), batch by batch, so memory stays bounded
// whatever the file's size. Nothing of it is visible until `commit`, which in ONE transaction
// copies the staged rows into `events` (their ingest_seq handed out then, so ingest_seq keeps
// following commit order), records the import's result under its client-chosen importId in
// `import_ledger`, and drops the staging table. A crash before COMMIT leaves only a staging table,
// which the start-up sweep drops; a crash after leaves the rows and the ledger entry, so a client
// that resends the same importId gets the first result and never stores the rows twice.

import type { DuckDBConnection } from '@duckdb/node-api';
import { randomBytes } from 'node:crypto';
import { EVENTS_TABLE } from './schema.ts';
import type { ImportLedgerEntry } from '../contract.ts';

export const LEDGER_TABLE = 'import_ledger';
const STAGE_PREFIX = 'import_stage_';

export function ledgerTableSql(): string {
  return `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
  property_id BIGINT NOT NULL,
  import_id VARCHAR NOT NULL,
  result VARCHAR NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (property_id, import_id)
)`;
}

/** A fresh staging table name (hex only: it is spliced into DDL, never user text). */
export function newStageName(): string {
  return `${STAGE_PREFIX}${randomBytes(8).toString('hex')}`;
}

export function isStageName(name: string): boolean {
  return /^import_stage_[0-9a-f]{16}$/.test(name);
}

export async function createStage(con: DuckDBConnection, stage: string): Promise<void> {
  if (!isStageName(stage)) throw new Error(`bad stage name ${stage}`);
  await con.run(`CREATE TABLE ${stage} AS SELECT * FROM ${EVENTS_TABLE} LIMIT 0`);
}

export async function dropStage(con: DuckDBConnection, stage: string): Promise<void> {
  if (!isStageName(stage)) throw new Error(`bad stage name ${stage}`);
  await con.run(`DROP TABLE IF EXISTS ${stage}`);
}

/** Staging tables left by imports that never committed (the process died). */
export async function leftoverStages(con: DuckDBConnection): Promise<string[]> {
  const rows = (
    await con.runAndReadAll(
      `SELECT table_name FROM information_schema.tables WHERE starts_with(table_name, $1)`,
      [STAGE_PREFIX],
    )
  ).getRowObjectsJS();
  return rows.map((r) => r.table_name as string).filter(isStageName);
}

export async function ledgerResult(
  con: DuckDBConnection,
  propertyId: bigint,
  importId: string,
): Promise<string | null> {
  const rows = (
    await con.runAndReadAll(`SELECT result FROM ${LEDGER_TABLE} WHERE property_id = $1 AND import_id = $2`, [
      propertyId,
      importId,
    ])
  ).getRowObjectsJS();
  return rows.length > 0 ? (rows[0]!.result as string) : null;
}

/** Every ledger entry (`audex migrate`). */
export async function ledgerEntries(con: DuckDBConnection): Promise<ImportLedgerEntry[]> {
  const rows = (
    await con.runAndReadAll(`SELECT * FROM ${LEDGER_TABLE} ORDER BY property_id, import_id`)
  ).getRowObjectsJS();
  return rows.map((r) => ({
    propertyId: BigInt(r.property_id as bigint),
    importId: r.import_id as string,
    result: r.result as string,
    createdAtMicros: BigInt(r.created_at as bigint),
  }));
}

export async function recordLedger(
  con: DuckDBConnection,
  propertyId: bigint,
  importId: string,
  result: string,
  nowMicros: bigint,
): Promise<void> {
  await con.run(`INSERT INTO ${LEDGER_TABLE} VALUES ($1, $2, $3, $4)`, [
    propertyId,
    importId,
    result,
    nowMicros,
  ]);
}

/** Copies the staged rows into events with ingest_seq = base + ordinal; returns the row count. */
export async function copyStage(con: DuckDBConnection, stage: string, base: bigint): Promise<number> {
  if (!isStageName(stage)) throw new Error(`bad stage name ${stage}`);
  return (
    await con.run(
      `INSERT INTO ${EVENTS_TABLE} SELECT * REPLACE (ingest_seq + $1 AS ingest_seq) FROM ${stage}`,
      [base],
    )
  ).rowsChanged;
}

// Parquet (and NDJSON) file imports on ClickHouse. ClickHouse 18.16 has no Parquet input format,
// so the file is read by an in-process DuckDB (already a dependency) through the very mapping the
// DuckDB backend runs (src/storage/duckdb/import-sql.ts: same rules, same rejections and
// messages), and DuckDB also renders each mapped row as a JSONEachRow line (to_json of the row).
// The lines go to the import's stage table in bulk INSERTs of about CHUNK_BYTES; JavaScript only
// joins the finished lines. The caller commits the stage (one INSERT … SELECT that assigns the
// final ingest_seq) as for NDJSON imports.

import { DuckDBInstance } from '@duckdb/node-api';
import { ident, join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import type { ImportReport } from '../contract.ts';
import { buildImportSql, describeSource, type ImportFormat } from '../duckdb/import-sql.ts';
import { statement } from '../duckdb/import/fragments.ts';
import { checkImportPath } from '../duckdb/import/path.ts';
import { CH_EVENT_COLUMNS } from './schema.ts';

/** About this many bytes of JSONEachRow per INSERT into the stage. */
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Rows the report names, as on DuckDB. */
const EXAMPLES = 5;

export interface MappedFile {
  /** Rows in the file. */
  total: number;
  /** Rows sent to the stage (the ones the mapping accepted). */
  sent: number;
  examples: ImportReport['examples'];
}

/**
 * One JSONEachRow line per accepted row, the stage's columns in order: ingest_seq holds the row's
 * number in the file (the stage's convention), booleans are 0/1 (UInt8 on ClickHouse).
 */
function linesSql(selectSql: string): string {
  const fields: Fragment[] = CH_EVENT_COLUMNS.map((c) => {
    const name = param(c.name);
    const value = sql`"${ident(c.name)}"`;
    return c.type === 'BOOLEAN' ? sql`${name}: CAST(${value} AS INTEGER)` : sql`${name}: ${value}`;
  });
  // selectSql is import-sql.ts's statement text (its constants already literals; $1…$5 bound).
  return `SELECT CAST(to_json(${statement(sql`{${join(fields, ', ')}}`)}) AS VARCHAR) AS line FROM (${selectSql})`;
}

/** Settings of the DuckDB that reads an imported file (the server's --threads and --memory-limit). */
export interface FileReaderLimits {
  threads?: number;
  memoryLimit?: string;
}

/**
 * Reads `path` with DuckDB through the import mapping and hands the accepted rows to `send` as
 * JSONEachRow text, in chunks; returns the counts and the first rejected rows.
 */
export async function sendMappedFile(
  path: string,
  format: ImportFormat,
  opts: { propertyId: bigint; timeZone: string; receivedAt: bigint; limits?: FileReaderLimits },
  send: (lines: string) => Promise<void>,
): Promise<MappedFile> {
  const file = checkImportPath(path);
  // The server's engine settings (--threads, --memory-limit), so a big file stays in the budget.
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(opts.limits?.threads ?? 2),
    ...(opts.limits?.memoryLimit ? { memory_limit: opts.limits.memoryLimit } : {}),
  });
  const con = await instance.connect();
  try {
    const q = buildImportSql(await describeSource(con, file, format));
    const total = Number((await con.runAndReadAll(q.countSql, [file])).getRowObjectsJS()[0]?.total ?? 0);
    const result = await con.stream(linesSql(q.selectSql), [
      file,
      opts.propertyId,
      0n,
      opts.receivedAt,
      opts.timeZone,
    ]);
    let sent = 0;
    let buffered: string[] = [];
    let bytes = 0;
    for await (const chunk of result) {
      for (const line of chunk.getColumnValues(0) as string[]) {
        buffered.push(line);
        bytes += line.length + 1;
      }
      if (bytes >= CHUNK_BYTES) {
        sent += buffered.length;
        await send(buffered.join('\n') + '\n');
        buffered = [];
        bytes = 0;
      }
    }
    if (buffered.length > 0) {
      sent += buffered.length;
      await send(buffered.join('\n') + '\n');
    }
    const examples =
      sent === total
        ? []
        : (await con.runAndReadAll(q.examplesSql, [file, EXAMPLES])).getRowObjectsJS().map((e) => ({
            row: Number(e.row),
            reason: e.reason as string,
          }));
    return { total, sent, examples };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

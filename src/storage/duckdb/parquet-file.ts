// Parquet files of string columns, for the CLI (`audex exports download --format parquet`) and its
// tests. An in-memory DuckDB converts an NDJSON file (one object per row, every value a string)
// into Parquet, streaming: DuckDB reads and writes in chunks, so the rows never sit in JS memory.
// The source path is a bound parameter; COPY's target cannot be bound, so it is a quoted literal.

import { DuckDBInstance } from '@duckdb/node-api';
import { quoteLiteral } from './sql.ts';
import { wrapDuckDbError } from './connection.ts';

async function withConnection<T>(
  fn: (con: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await instance.connect();
  try {
    return await fn(con);
  } catch (err) {
    throw wrapDuckDbError(err);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/**
 * Converts newline-delimited JSON (objects keyed by `columns`, string values) into a Parquet file
 * with those VARCHAR columns in that order. Returns the number of rows written.
 */
export async function ndjsonToParquet(
  ndjsonFile: string,
  parquetFile: string,
  columns: string[],
): Promise<number> {
  if (columns.length === 0) throw new TypeError('ndjsonToParquet needs at least one column');
  const struct = `{${columns.map((c) => `${quoteLiteral(c)}: 'VARCHAR'`).join(', ')}}`;
  const select = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
  return withConnection(async (con) => {
    const prepared = await con.prepare(
      `COPY (SELECT ${select} FROM read_json($1, format = 'newline_delimited', columns = ${struct})) ` +
        `TO ${quoteLiteral(parquetFile)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    prepared.bindVarchar(1, ndjsonFile);
    const result = await prepared.run();
    return Number(result.rowsChanged);
  });
}

/** A scalar from getRowObjectsJS as text (every column here is VARCHAR; others are stringified). */
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The rows of a Parquet file as objects of strings (nulls as null), in file order. For tests and small files. */
export async function readParquetRows(parquetFile: string): Promise<Record<string, string | null>[]> {
  return withConnection(async (con) => {
    const reader = await con.runAndReadAll('SELECT * FROM read_parquet($1)', [parquetFile]);
    return reader.getRowObjectsJS().map((row) => {
      const out: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(row)) out[k] = text(v);
      return out;
    });
  });
}

/** Column names and DuckDB types of a Parquet file. */
export async function parquetSchema(parquetFile: string): Promise<{ name: string; type: string }[]> {
  return withConnection(async (con) => {
    const reader = await con.runAndReadAll(
      'SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($1))',
      [parquetFile],
    );
    return reader
      .getRowObjectsJS()
      .map((r) => ({ name: text(r.column_name) ?? '', type: text(r.column_type) ?? '' }));
  });
}

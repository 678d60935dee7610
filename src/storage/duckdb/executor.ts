// QueryExecutor on DuckDB: runs the audience compiler's SQL (duckdbDialect) on a reader of the
// database, or on a bare connection (tests, bench), and decodes event rows.

import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { EVENT_COLUMNS, type StoredEvent } from '../../domain/event.ts';
import { duckdbDialect, type CompiledQuery } from '../../audience/compile/index.ts';
import type { QueryExecutor } from '../contract.ts';
import { wrapDuckDbError, type DuckDbDatabase } from './connection.ts';
import { decodeEventColumn } from './event-store.ts';
import { EVENTS_TABLE } from './schema.ts';

type Runner = <T>(fn: (con: DuckDBConnection) => Promise<T>, sql: string) => Promise<T>;

export class DuckDbExecutor implements QueryExecutor {
  readonly dialect = duckdbDialect;
  readonly qualifiedEventsTable = ['main', EVENTS_TABLE] as const;
  private readonly runOn: Runner;

  constructor(source: DuckDbDatabase | DuckDBConnection) {
    if ('reader' in source) {
      this.runOn = (fn, sql) => source.reader().exclusive(fn, sql);
    } else {
      this.runOn = async (fn, sql) => {
        try {
          return await fn(source);
        } catch (err) {
          throw wrapDuckDbError(err, sql);
        }
      };
    }
  }

  rows(query: CompiledQuery): Promise<Record<string, unknown>[]> {
    return this.runOn(
      async (con) =>
        (await con.runAndReadAll(query.sql, query.parameters as DuckDBValue[])).getRowObjectsJS(),
      query.sql,
    );
  }

  firstColumn(query: CompiledQuery): Promise<unknown[]> {
    return this.runOn(
      async (con) =>
        (await con.runAndReadAll(query.sql, query.parameters as DuckDBValue[])).getColumnsJS()[0] ?? [],
      query.sql,
    );
  }

  streamEvents(query: CompiledQuery, onChunk: (events: StoredEvent[]) => void): Promise<void> {
    return this.runOn(async (con) => {
      const result = await con.stream(query.sql, query.parameters as DuckDBValue[]);
      const decode = rowDecoder(result.columnNames());
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const columns = chunk.getColumns();
        const events: StoredEvent[] = new Array<StoredEvent>(chunk.rowCount);
        for (let r = 0; r < chunk.rowCount; r++) events[r] = decode(columns, r);
        onChunk(events);
      }
    }, query.sql);
  }
}

/** Column-index based decoding of event rows into StoredEvents (JSON columns decoded). */
function rowDecoder(names: string[]): (columns: DuckDBValue[][], row: number) => StoredEvent {
  const index = new Map(names.map((n, i) => [n, i]));
  const plan = EVENT_COLUMNS.map(([name, type]) => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`event query lacks column ${name}`);
    return { name, type, i };
  });
  return (columns, row) => {
    const out: Record<string, unknown> = {};
    for (const { name, type, i } of plan) out[name] = decodeEventColumn(name, type, columns[i]![row]);
    return out as unknown as StoredEvent;
  };
}

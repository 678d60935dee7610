// QueryExecutor on ClickHouse: runs SQL written in the ClickHouse dialect (values already inlined
// as escaped literals) on the query node, and decodes event rows streamed as JSONEachRow.

import { clickhouseDialect } from '../../audience/compile/clickhouse-dialect.ts';
import type { CompiledQuery } from '../../audience/compile/index.ts';
import type { StoredEvent } from '../../domain/event.ts';
import type { QueryExecutor } from '../contract.ts';
import type { ClickHouseNodes } from './connection.ts';
import { decodeEventRow } from './codec.ts';
import { EVENTS } from './schema.ts';

export class ClickHouseExecutor implements QueryExecutor {
  readonly dialect = clickhouseDialect;
  readonly qualifiedEventsTable: readonly [string, string];

  constructor(private readonly nodes: ClickHouseNodes) {
    this.qualifiedEventsTable = [nodes.target.database, EVENTS] as const;
  }

  rows(query: CompiledQuery): Promise<Record<string, unknown>[]> {
    return this.nodes.typedRows(this.text(query));
  }

  async firstColumn(query: CompiledQuery): Promise<unknown[]> {
    const rows = await this.rows(query);
    return rows.map((r) => Object.values(r)[0]);
  }

  streamEvents(query: CompiledQuery, onChunk: (events: StoredEvent[]) => void): Promise<void> {
    return this.nodes.stream(this.text(query), (rows) => onChunk(rows.map(decodeEventRow)));
  }

  /**
   * The dialect's placeholders are the values themselves (escaped literals), so a compiled query
   * is complete text; the parameter list is kept only for logs and tests.
   */
  private text(query: CompiledQuery): string {
    return query.sql;
  }
}

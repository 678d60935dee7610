// QueryExecutor on ClickHouse: runs SQL written in the ClickHouse dialect (values already inlined
// as escaped literals) on the query node, and decodes event rows streamed as JSONEachRow. Audience
// statements can also run shard-locally (shardLocalColumn, shards.ts).

import { clickhouseDialect } from '../../audience/compile/clickhouse-dialect.ts';
import type { CompiledQuery } from '../../audience/compile/index.ts';
import type { StoredEvent } from '../../domain/event.ts';
import type { QueryExecutor } from '../contract.ts';
import type { ClickHouseNodes } from './connection.ts';
import { decodeEventRow } from './codec.ts';
import { EVENTS } from './schema.ts';
import { mergeSortedBy } from './shards.ts';

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

  /**
   * The first column (as text) of a statement over `events` that returns one row per device sorted
   * by it (an audience's members), run on every shard over its own events and merged in byte order.
   */
  async shardLocalColumn(query: CompiledQuery): Promise<string[]> {
    const perShard = await this.nodes.eachShard(this.text(query));
    const lists = perShard.map((rows) => rows.map((r) => String(Object.values(r)[0])));
    return mergeSortedBy(lists, (id) => id);
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

// The ClickHouse nodes of one events URL, through the official @clickhouse/client over HTTP.
//
// Every statement is a fragment of the SQL builder (src/audience/compile/sql.ts) rendered with the
// ClickHouse dialect, whose placeholders inline escaped literals (clickhouseLiteral): 18.16 has no
// server-side query parameters, and no user string is ever pasted into SQL text.
//
// Rows come back as JSONEachRow text and are parsed here: 18.16 quotes 64-bit integers in JSON
// (output_format_json_quote_64bit_integers), so Int64 columns arrive as exact strings.

import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { clickhouseDialect } from '../../audience/compile/clickhouse-dialect.ts';
import { ident, render, sql, type Fragment } from '../../audience/compile/sql.ts';
import { StorageError } from '../errors.ts';
import type { ClickHouseTarget } from './url.ts';
import { shardEventsTable } from './schema.ts';
import { readingTable } from './shards.ts';

/** A fragment as ClickHouse SQL text (values inlined as escaped literals). */
export function chText(f: Fragment): string {
  return render(f, (i, v) => clickhouseDialect.placeholder(i, v)).sql;
}

// Insert into a Distributed table returns only after every shard has its rows, so an append is
// acknowledged only once the data is stored on the shard that keeps it.
// Progress headers keep a long query's HTTP response alive through idle-timeout proxies.
const SETTINGS = {
  insert_distributed_sync: 1,
  // A plain JOIN is an SQL inner join (every match), as the compiler means it.
  join_default_strictness: 'ALL',
  // An IN subquery over the Distributed table inside a query over it (the trigger pass's "rows of
  // the pass's users") reads each shard's local table on that shard: exact, since a device's events
  // live on one shard (schema.ts), where 18.16's default refuses the statement.
  distributed_product_mode: 'local',
  send_progress_in_http_headers: 1,
  http_headers_progress_interval_ms: '10000',
} as const;

export class ClickHouseNodes {
  private readonly clients: ClickHouseClient[];
  private closed = false;

  constructor(readonly target: ClickHouseTarget) {
    // Unqualified names (the compiler's `events`) resolve in the URL's database.
    this.clients = target.nodes.map((url) => this.client(url, target.database));
  }

  private client(url: string, database: string | undefined): ClickHouseClient {
    return createClient({
      url,
      username: this.target.username,
      password: this.target.password,
      ...(database === undefined ? {} : { database }),
      compression: { request: false, response: false },
      request_timeout: 600_000,
      max_open_connections: 8,
      clickhouse_settings: SETTINGS,
      // A pooled socket idle past the server's keep_alive_timeout (3 s before 23.11) has been
      // closed by the server; reusing it fails the request with EPIPE/ECONNRESET. The client's
      // idle timer cannot fire while the event loop is busy (encoding a large batch), so sockets
      // are also checked for staleness when taken from the pool.
      keep_alive: { idle_socket_ttl: 2000, eagerly_destroy_stale_sockets: true },
      // Failures reach audex as exceptions, wrapped once (wrapClickHouseError); no second report.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** Creates the URL's database on every node (a request without a current database). */
  async createDatabase(): Promise<void> {
    for (const url of this.target.nodes) {
      const c = this.client(url, undefined);
      const query = chText(sql`CREATE DATABASE IF NOT EXISTS ${ident(this.target.database)}`);
      try {
        await this.guard(query, () => c.command({ query }));
      } finally {
        await c.close();
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get nodeCount(): number {
    return this.clients.length;
  }

  /**
   * Runs a statement without a result (DDL, INSERT … SELECT) on node `node` (default: the first);
   * `queryId` names it in system.processes (import-moves.ts looks for a move's INSERT there).
   */
  async command(f: Fragment | string, node = 0, queryId?: string): Promise<void> {
    const query = typeof f === 'string' ? f : chText(f);
    await this.guard(query, () =>
      this.clients[node]!.command(queryId === undefined ? { query } : { query, query_id: queryId }),
    );
  }

  /** Runs a query on the first node and returns its rows as objects (Int64 as decimal strings). */
  rows(f: Fragment | string): Promise<Record<string, unknown>[]> {
    return this.rowsOn(0, f);
  }

  /** rows() on node `node`. */
  async rowsOn(node: number, f: Fragment | string): Promise<Record<string, unknown>[]> {
    const query = typeof f === 'string' ? f : chText(f);
    const text = await this.guard(query, async () => {
      const rs = await this.clients[node]!.query({ query, format: 'JSONEachRow' });
      return rs.text();
    });
    const out: Record<string, unknown>[] = [];
    for (const line of text.split('\n')) if (line) out.push(JSON.parse(line) as Record<string, unknown>);
    return out;
  }

  /** Like rows, with 64-bit integer columns (by the result's types) as bigint. */
  async typedRows(f: Fragment | string): Promise<Record<string, unknown>[]> {
    const query = typeof f === 'string' ? f : chText(f);
    const result = await this.guard(query, async () => {
      const rs = await this.clients[0]!.query({ query, format: 'JSON' });
      return (await rs.json()) as { meta: { name: string; type: string }[]; data: Record<string, unknown>[] };
    });
    const big = result.meta.filter((m) => /^(Nullable\()?U?Int64\b/.test(m.type)).map((m) => m.name);
    for (const row of result.data)
      for (const name of big)
        if (row[name] !== null && row[name] !== undefined) row[name] = BigInt(row[name] as string);
    return result.data;
  }

  /** Streams a query's rows (JSONEachRow) from the first node, in chunks of parsed objects. */
  stream(f: Fragment | string, onRows: (rows: Record<string, unknown>[]) => void): Promise<void> {
    return this.streamOn(0, f, onRows);
  }

  /**
   * Runs a statement written over `events` on every shard at once, each over its own events only
   * (shards.ts: `events_local` on a cluster), and returns each shard's rows as rows() does, in
   * node order. On a single node, the statement as it is.
   */
  eachShard(f: Fragment | string): Promise<Record<string, unknown>[][]> {
    const text = readingTable(typeof f === 'string' ? f : chText(f), shardEventsTable(this.target.cluster));
    return Promise.all(
      this.clients.map(async (_, node) => {
        const rows: Record<string, unknown>[] = [];
        await this.streamOn(node, text, (chunk) => {
          for (const r of chunk) rows.push(r);
        });
        return rows;
      }),
    );
  }

  /**
   * Runs a statement without a result (an INSERT … SELECT) written over `events` on every shard at
   * once, each over its own events only, as eachShard does for queries.
   */
  async commandEachShard(f: Fragment | string): Promise<void> {
    const text = readingTable(typeof f === 'string' ? f : chText(f), shardEventsTable(this.target.cluster));
    await Promise.all(this.clients.map((_, node) => this.command(text, node)));
  }

  /** stream() on node `node`. */
  async streamOn(
    node: number,
    f: Fragment | string,
    onRows: (rows: Record<string, unknown>[]) => void,
  ): Promise<void> {
    const query = typeof f === 'string' ? f : chText(f);
    await this.guard(query, async () => {
      const rs = await this.clients[node]!.query({ query, format: 'JSONEachRow' });
      for await (const batch of rs.stream()) {
        const rows: Record<string, unknown>[] = [];
        for (const row of batch as { text: string }[])
          rows.push(JSON.parse(row.text) as Record<string, unknown>);
        if (rows.length > 0) onRows(rows);
      }
    });
  }

  /**
   * INSERT INTO `table` FORMAT JSONEachRow with pre-encoded lines; returns once the server has them.
   * Sent once more when the first attempt could not write to its socket (EPIPE): a pooled
   * keep-alive socket the server had already closed, so the server never read the request.
   */
  async insertJsonLines(table: Fragment, lines: string, node = 0): Promise<void> {
    if (lines.length === 0) return;
    const query = `INSERT INTO ${chText(table)} FORMAT JSONEachRow`;
    const send = async () => {
      const res = await this.clients[node]!.exec({ query, values: Readable.from([lines]) });
      // The response body is empty; read it to the end so the connection is reused.
      for await (const _ of res.stream) void _;
    };
    await this.guard(query, () =>
      send().catch((err: unknown) => {
        if ((err as { code?: string }).code !== 'EPIPE') throw err;
        return send();
      }),
    );
  }

  async ping(node: number): Promise<void> {
    const r = await this.clients[node]!.ping();
    if (!r.success)
      throw new StorageError(
        'unavailable',
        `ClickHouse at ${this.target.nodes[node]} is unreachable: ${String((r as { error?: unknown }).error)}`,
      );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.clients.map((c) => c.close()));
  }

  private async guard<T>(query: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageError('unavailable', 'the ClickHouse connection is closed');
    try {
      return await fn();
    } catch (err) {
      throw wrapClickHouseError(err, query);
    }
  }
}

/** Maps a client or server failure to the storage contract's errors (src/storage/errors.ts). */
export function wrapClickHouseError(err: unknown, _query: string): StorageError {
  if (err instanceof StorageError) return err;
  const e = err as { message?: string; code?: string; type?: string };
  const message = e.message ?? String(err);
  if (
    /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up|Timeout error|EHOSTUNREACH|ENOTFOUND/i.test(
      message,
    )
  )
    return new StorageError('unavailable', `ClickHouse is unreachable: ${message}`, { cause: err });
  if (e.code === '241' || /MEMORY_LIMIT_EXCEEDED|Memory limit/i.test(message))
    return new StorageError('memory_limit', `ClickHouse memory limit: ${message}`, { cause: err });
  if (/Code: (62|47|46|43|60|81)\b/.test(message))
    return new StorageError('syntax', `ClickHouse: ${message}`, { cause: err });
  if (/Code: 243\b|Cannot reserve|not enough space/i.test(message))
    return new StorageError('disk_full', `ClickHouse: ${message}`, { cause: err });
  // The statement is not attached (`_query`): its values are inlined literals, not bound parameters.
  return new StorageError('other', `ClickHouse: ${message}`, { cause: err });
}

// The ClickHouse tables, built from the event schema (EVENT_SCHEMA in src/domain/event.ts).
//
// - events: MergeTree ORDER BY (property_id, user_pseudo_id, event_timestamp, ingest_seq): a user's
//   events are stored together in stream order, which is what the per-user fold reads. Event times
//   stay Int64 microseconds (18.16 has no DateTime64); JSON columns are String holding the compact
//   encodings of domain/event.ts; booleans are UInt8 (18.16 has no Bool).
// - With a cluster: `events_local` (that MergeTree) on every node, and `events` as a Distributed
//   table over them sharded by cityHash64(user_pseudo_id), so a device's events live on one shard.
//   Created on each node in turn (no ON CLUSTER: no ZooKeeper on Debian's 18.16).
//   Membership is computed on each shard over its own `events_local` (shards.ts).
// - Side tables (import ledger and moves, trigger progress, export snapshots) live on the first node only:
//   small, and read by offset there.

import { EVENT_SCHEMA, type EventColumnType } from '../../domain/event.ts';
import { ident, join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import type { ClickHouseNodes } from './connection.ts';
import { StorageError } from '../errors.ts';

export const EVENTS = 'events';
export const EVENTS_LOCAL = 'events_local';
export const LEDGER = 'import_ledger';
export const IMPORT_MOVES = 'import_moves';
export const TRIGGER_PROGRESS = 'audience_trigger_progress';
export const INGEST_WRITERS = 'ingest_writers';

/**
 * The table holding one shard's own events, which a shard-local statement reads (shards.ts):
 * `events_local` on a cluster node, `events` itself on a single node.
 */
export function shardEventsTable(cluster: string | null): string {
  return cluster === null ? EVENTS : EVENTS_LOCAL;
}

const CH_TYPE: Record<EventColumnType, string> = {
  BIGINT: 'Int64',
  VARCHAR: 'String',
  INTEGER: 'Int32',
  JSON: 'String',
  BOOLEAN: 'UInt8',
  DOUBLE: 'Float64',
};

/** Each event column with its ClickHouse type, in schema order. */
export const CH_EVENT_COLUMNS: readonly { name: string; type: EventColumnType; ch: string }[] =
  EVENT_SCHEMA.map((c) => {
    const base = CH_TYPE[c.type];
    return { name: c.name, type: c.type, ch: 'nullable' in c ? `Nullable(${base})` : base };
  });

/** The typed column list as DDL text (our own names and types only). */
function columnsDdl(): Fragment {
  return join(
    CH_EVENT_COLUMNS.map((c) => sql`${ident(c.name)} ${typeFragment(c.ch)}`),
    ', ',
  );
}

// Types are a closed set of texts written above; a fragment needs template text, hence the map.
const TYPE_FRAGMENTS: Record<string, Fragment> = {
  Int64: sql`Int64`,
  String: sql`String`,
  Int32: sql`Int32`,
  UInt8: sql`UInt8`,
  Float64: sql`Float64`,
  'Nullable(Int64)': sql`Nullable(Int64)`,
  'Nullable(String)': sql`Nullable(String)`,
  'Nullable(Int32)': sql`Nullable(Int32)`,
  'Nullable(UInt8)': sql`Nullable(UInt8)`,
  'Nullable(Float64)': sql`Nullable(Float64)`,
};

function typeFragment(t: string): Fragment {
  const f = TYPE_FRAGMENTS[t];
  if (!f) throw new Error(`no ClickHouse type fragment for ${t}`);
  return f;
}

/** db.table as a fragment. */
export function table(database: string, name: string): Fragment {
  return sql`${ident(database)}.${ident(name)}`;
}

/** A MergeTree with the event columns, sorted so a user's events are together in stream order. */
export function eventsTableDdl(database: string, name: string): Fragment {
  return sql`CREATE TABLE IF NOT EXISTS ${table(database, name)} (${columnsDdl()}) ENGINE = MergeTree() ORDER BY (property_id, user_pseudo_id, event_timestamp, ingest_seq)`;
}

/** Creates the database and tables on every node if missing, and checks the events columns. */
export async function ensureSchema(nodes: ClickHouseNodes): Promise<void> {
  const { database, cluster } = nodes.target;
  await nodes.createDatabase();
  for (let n = 0; n < nodes.nodeCount; n++) {
    if (cluster === null) {
      await nodes.command(eventsTableDdl(database, EVENTS), n);
    } else {
      await nodes.command(eventsTableDdl(database, EVENTS_LOCAL), n);
      await nodes.command(
        sql`CREATE TABLE IF NOT EXISTS ${table(database, EVENTS)} AS ${table(database, EVENTS_LOCAL)} ENGINE = Distributed(${param(cluster)}, ${param(database)}, ${param(EVENTS_LOCAL)}, cityHash64(user_pseudo_id))`,
        n,
      );
    }
  }
  await nodes.command(
    sql`CREATE TABLE IF NOT EXISTS ${table(database, LEDGER)} (property_id Int64, import_id String, result String, created_at Int64) ENGINE = MergeTree() ORDER BY (property_id, import_id)`,
  );
  // Imports' moves from stage to events, announced before they run and ended after (import-moves.ts).
  await nodes.command(
    sql`CREATE TABLE IF NOT EXISTS ${table(database, IMPORT_MOVES)} (move_id String, writer String, slot UInt8, property_id Int64, import_id String, first_tick Int64, last_tick Int64, rows UInt64, result String, created_at Int64, state UInt8) ENGINE = MergeTree() ORDER BY move_id`,
  );
  // Append-only versions of the trigger logger's state (ClickHouse has no cheap UPDATE); the
  // highest version is the state.
  await nodes.command(
    sql`CREATE TABLE IF NOT EXISTS ${table(database, TRIGGER_PROGRESS)} (version UInt64, watermark Int64, last_pass Nullable(Int64), audiences String) ENGINE = MergeTree() ORDER BY version`,
  );
  // The writer slots of the processes appending to this database (ingest-seq.ts): append-only
  // claims and heartbeats; a slot is live while its latest heartbeat is recent and not released.
  await nodes.command(
    sql`CREATE TABLE IF NOT EXISTS ${table(database, INGEST_WRITERS)} (slot UInt8, writer String, heartbeat Int64, released UInt8) ENGINE = MergeTree() ORDER BY (slot, writer, heartbeat)`,
  );
  if (cluster !== null) await checkCluster(nodes, cluster);
  const have = await nodes.rows(
    sql`SELECT name, type FROM system.columns WHERE database = ${param(database)} AND table = ${param(shardEventsTable(cluster))}`,
  );
  const got = have.map((r) => `${String(r.name)} ${String(r.type)}`).join(',');
  const want = CH_EVENT_COLUMNS.map((c) => `${c.name} ${c.ch}`).join(',');
  if (got !== want)
    throw new StorageError(
      'other',
      `ClickHouse ${database}.events does not match the event schema (have ${have.length} columns, want ${CH_EVENT_COLUMNS.length}); migrate or use a new database`,
    );
}

/** The cluster must be defined on the query node and list as many shards as the URL has nodes. */
async function checkCluster(nodes: ClickHouseNodes, cluster: string): Promise<void> {
  const rows = await nodes.rows(
    sql`SELECT count() AS shards FROM system.clusters WHERE cluster = ${param(cluster)}`,
  );
  const shards = Number(rows[0]?.shards ?? 0);
  if (shards === 0)
    throw new StorageError(
      'other',
      `cluster ${JSON.stringify(cluster)} is not defined in the remote_servers of ${nodes.target.nodes[0]}`,
    );
  if (shards !== nodes.nodeCount)
    throw new StorageError(
      'other',
      `cluster ${JSON.stringify(cluster)} has ${shards} shard replicas but the events URL lists ${nodes.nodeCount} hosts; list every shard's HTTP endpoint`,
    );
}

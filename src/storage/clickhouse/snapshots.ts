// SnapshotStore on ClickHouse: one table per export snapshot on the query node,
// `export_snapshot_<id>` (rn, device_id, user_id, ads_personalization, limited_ad_tracking),
// MergeTree ORDER BY rn, so a page is a primary-key range `rn >= offset AND rn < end` whatever the
// offset. Dropping an expired snapshot is a DROP TABLE.
//
// materialize(): the members with their export attributes as of asOf, sorted by device id, then
// written in rn order. An audience on the SQL plan: one statement per shard, members and
// attributes together over the shard's own events (shards.ts), numbered and written inside
// ClickHouse (no row passes through audex). On the hybrid plan: the fold's members, staged, and
// their attributes in one GROUP BY over the events (GLOBAL IN), numbered the same way.
// Attributes, over events with event_timestamp <= asOf and ingest_seq <= maxIngestSeq
// (docs/exports.md): userId = the latest non-null user_id; isAdsPersonalizationAllowed = 'false'
// when the latest non-null consent_ad_personalization is DENIED or the latest non-null
// non_personalized_ads is true, else 'true' when either exists, else '(not set)';
// isLimitedAdTracking = the latest non-null device_is_limited_ad_tracking or '(not set)'.
// ClickHouse aggregates skip NULL arguments, so argMax(x, (t, q)) is "the latest non-null x".

import type { AudienceEngine, MemberRow, MembershipRequest, SnapshotStore } from '../contract.ts';
import { ident, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import { StorageError } from '../errors.ts';
import { chText, type ClickHouseNodes } from './connection.ts';
import { EVENTS, table } from './schema.ts';
import { highWaterMark } from './event-store.ts';

const PREFIX = 'export_snapshot_';
/** Rows per INSERT when writing a snapshot. */
const WRITE_CHUNK = 100_000;

export class ClickHouseSnapshotStore implements SnapshotStore {
  constructor(
    private readonly nodes: ClickHouseNodes,
    private readonly engine: AudienceEngine,
  ) {}

  private tableOf(snapshotId: string, suffix = ''): Fragment {
    if (!/^[A-Za-z0-9_]{1,64}$/.test(snapshotId))
      throw new StorageError('other', `invalid snapshot id ${JSON.stringify(snapshotId)}`);
    // ident() takes lower-case names; snapshot ids are hex/uuid-like, mapped injectively.
    const name = `${PREFIX}${snapshotId.replace(/[A-Z_]/g, (c) => (c === '_' ? '__' : `_${c.toLowerCase()}`))}${suffix}`;
    return table(this.nodes.target.database, name);
  }

  highWaterMark(): Promise<bigint> {
    return highWaterMark(this.nodes);
  }

  async materialize(
    snapshotId: string,
    req: MembershipRequest,
    onProgress?: (pct: number) => void,
  ): Promise<number> {
    const target = this.tableOf(snapshotId);
    onProgress?.(5);
    const inEngine = this.engine.membersQuery?.(req) ?? null;
    await this.nodes.command(sql`DROP TABLE IF EXISTS ${target}`);
    await this.nodes.command(snapshotTableDdl(target));
    if (inEngine) await this.writeShardLocalRows(snapshotId, target, inEngine.sql, req);
    else await this.writeFoldedRows(snapshotId, target, req);
    onProgress?.(100);
    const n = await this.nodes.rows(sql`SELECT count() AS n FROM ${target}`);
    return Number(n[0]?.n ?? 0);
  }

  /**
   * The SQL plan, written inside ClickHouse: the members statement and the members' attributes in
   * one statement per shard, over the shard's own events (shards.ts), and the rows numbered in
   * device order into the snapshot table (numberedInsert). No row passes through audex (at 100M
   * events All Users has 10M rows). On a single node, one INSERT … SELECT. On a cluster, each shard
   * first writes its rows into a part table of its own (disjoint by device), and the first node
   * reads the parts through a Distributed table over them.
   */
  private async writeShardLocalRows(
    snapshotId: string,
    target: Fragment,
    membersSql: string,
    req: MembershipRequest,
  ): Promise<void> {
    const rows = snapshotRowsSelect(EVENTS_SCOPE, req, `IN (${membersSql})`);
    const { cluster, database } = this.nodes.target;
    if (cluster === null) {
      await this.nodes.command(numberedInsert(target, rows));
      return;
    }
    const part = this.tableOf(snapshotId, '_part');
    const parts = this.tableOf(snapshotId, '_parts');
    const eachNode = (f: Fragment) =>
      Promise.all(Array.from({ length: this.nodes.nodeCount }, (_, node) => this.nodes.command(f, node)));
    try {
      await eachNode(sql`DROP TABLE IF EXISTS ${part}`);
      await eachNode(
        sql`CREATE TABLE ${part} (device_id String, user_id Nullable(String), ads_personalization String, limited_ad_tracking String) ENGINE = Log`,
      );
      await this.nodes.commandEachShard(`INSERT INTO ${chText(part)} ${rows}`);
      await this.nodes.command(sql`DROP TABLE IF EXISTS ${parts}`);
      await this.nodes.command(
        sql`CREATE TABLE ${parts} AS ${part} ENGINE = Distributed(${param(cluster)}, ${param(database)}, ${param(snapshotName(part))})`,
      );
      await this.nodes.command(numberedInsert(target, `SELECT * FROM ${chText(parts)}`));
    } finally {
      await this.nodes.command(sql`DROP TABLE IF EXISTS ${parts}`);
      await eachNode(sql`DROP TABLE IF EXISTS ${part}`);
    }
  }

  /**
   * The hybrid plan: the members from the evaluator's fold (streamed from the `events` table),
   * staged in a members table on the first node; their rows from one GROUP BY over the events
   * restricted to them (GLOBAL IN, so on a cluster each shard gets the member set), numbered into
   * the snapshot as the SQL plan's are. The fold reads the same bounded events, so every member has
   * an attribute row; a count that differs is a fault, not a snapshot to keep.
   */
  private async writeFoldedRows(snapshotId: string, target: Fragment, req: MembershipRequest): Promise<void> {
    const members = await this.engine.findMembers(req);
    if (members.length === 0) return;
    const stage = this.tableOf(snapshotId, '_members');
    await this.nodes.command(sql`DROP TABLE IF EXISTS ${stage}`);
    await this.nodes.command(
      sql`CREATE TABLE ${stage} (device_id String) ENGINE = MergeTree() ORDER BY device_id`,
    );
    try {
      for (let i = 0; i < members.length; i += WRITE_CHUNK) {
        const lines = members
          .slice(i, i + WRITE_CHUNK)
          .map((d) => `${JSON.stringify({ device_id: d })}\n`)
          .join('');
        await this.nodes.insertJsonLines(stage, lines);
      }
      const events = table(this.nodes.target.database, EVENTS);
      await this.nodes.command(
        numberedInsert(
          target,
          snapshotRowsSelect(events, req, `GLOBAL IN (SELECT device_id FROM ${chText(stage)})`),
        ),
      );
      const n = await this.nodes.rows(sql`SELECT count() AS n FROM ${target}`);
      if (Number(n[0]?.n ?? 0) !== members.length)
        throw new StorageError(
          'other',
          `snapshot ${snapshotId}: ${members.length} members but ${String(n[0]?.n)} attribute rows`,
        );
    } finally {
      await this.nodes.command(sql`DROP TABLE IF EXISTS ${stage}`);
    }
  }

  async read(snapshotId: string, offset: number, limit: number): Promise<MemberRow[]> {
    const t = this.tableOf(snapshotId);
    const from = Math.max(0, Math.floor(offset));
    const to = from + Math.max(0, Math.floor(limit));
    let rows: Record<string, unknown>[];
    try {
      rows = await this.nodes.rows(
        sql`SELECT device_id, user_id, ads_personalization, limited_ad_tracking FROM ${t} WHERE rn >= ${param(from)} AND rn < ${param(to)} ORDER BY rn`,
      );
    } catch (err) {
      if (err instanceof StorageError && /doesn't exist|Code: 60\b/.test(err.message))
        throw new StorageError('other', `snapshot ${snapshotId} does not exist`, { cause: err });
      throw err;
    }
    return rows.map((r) => ({
      deviceId: String(r.device_id),
      userId: r.user_id === null ? null : (r.user_id as string),
      isAdsPersonalizationAllowed: r.ads_personalization as MemberRow['isAdsPersonalizationAllowed'],
      isLimitedAdTracking: r.limited_ad_tracking as MemberRow['isLimitedAdTracking'],
    }));
  }

  /** `audex migrate`: a snapshot copied from another engine, page by page in its row order. */
  async copyIn(snapshotId: string, rows: MemberRow[], firstRow: number): Promise<void> {
    const t = this.tableOf(snapshotId);
    if (firstRow === 0) {
      await this.nodes.command(sql`DROP TABLE IF EXISTS ${t}`);
      await this.nodes.command(snapshotTableDdl(t));
    }
    if (rows.length === 0) return;
    await this.nodes.insertJsonLines(t, rows.map((r, i) => snapshotLine(firstRow + i, r)).join(''));
  }

  async drop(snapshotId: string): Promise<void> {
    await this.nodes.command(sql`DROP TABLE IF EXISTS ${this.tableOf(snapshotId)}`);
  }

  /**
   * Removes the devices' rows (and `userId`'s) from a snapshot, renumbering the rest densely;
   * null when the snapshot no longer exists. The table is rewritten (a user deletion is rare, and
   * ClickHouse has no cheap UPDATE of a key column) and swapped in with RENAME.
   */
  async removeRows(
    snapshotId: string,
    devices: ReadonlySet<string>,
    userId: string | null,
  ): Promise<{ removed: number; rows: number } | null> {
    if (!(await this.exists(snapshotId))) return null;
    const t = this.tableOf(snapshotId);
    const all = await this.nodes.rows(
      sql`SELECT device_id, user_id, ads_personalization, limited_ad_tracking FROM ${t} ORDER BY rn`,
    );
    const kept = all.filter(
      (r) => !devices.has(String(r.device_id)) && (userId === null || r.user_id !== userId),
    );
    const removed = all.length - kept.length;
    if (removed === 0) return { removed: 0, rows: all.length };
    const next = this.tableOf(snapshotId, '_rewrite');
    await this.nodes.command(sql`DROP TABLE IF EXISTS ${next}`);
    await this.nodes.command(snapshotTableDdl(next));
    await this.nodes.insertJsonLines(next, kept.map((r, rn) => `${JSON.stringify({ rn, ...r })}\n`).join(''));
    await this.nodes.command(sql`DROP TABLE ${t}`);
    await this.nodes.command(sql`RENAME TABLE ${next} TO ${t}`);
    return { removed, rows: kept.length };
  }

  /** Whether a snapshot table exists (the eraser's "no longer exists"). */
  async exists(snapshotId: string): Promise<boolean> {
    const rows = await this.nodes.rows(
      sql`SELECT count() AS n FROM system.tables WHERE database = ${param(this.nodes.target.database)} AND name = ${param(snapshotName(this.tableOf(snapshotId)))}`,
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }
}

function snapshotTableDdl(t: Fragment): Fragment {
  return sql`CREATE TABLE ${t} (rn UInt64, device_id String, user_id Nullable(String), ads_personalization String, limited_ad_tracking String) ENGINE = MergeTree() ORDER BY rn`;
}

/** One snapshot row as a JSONEachRow line. */
function snapshotLine(rn: number, r: MemberRow): string {
  return `${JSON.stringify({ rn, device_id: r.deviceId, user_id: r.userId, ads_personalization: r.isAdsPersonalizationAllowed, limited_ad_tracking: r.isLimitedAdTracking })}\n`;
}

/** The table name of a `db.table` fragment. */
function snapshotName(f: Fragment): string {
  const text = f.parts.filter((p): p is string => typeof p === 'string').join('');
  return text.slice(text.indexOf('.') + 1);
}

/** The unqualified events table: a shard-local statement reads it as the shard's own (shards.ts). */
const EVENTS_SCOPE = ident(EVENTS);

/**
 * SELECT of the attributes (header) of the devices of `events` as of asOf, up to its WHERE; the
 * caller adds the device restriction and `GROUP BY d`.
 */
function attributesSelect(events: Fragment, req: MembershipRequest): Fragment {
  const key = sql`tuple(event_timestamp, ingest_seq)`;
  return sql`SELECT user_pseudo_id AS d, argMax(user_id, ${key}) AS uid, argMax(consent_ad_personalization, ${key}) AS consent, argMax(non_personalized_ads, ${key}) AS npa, argMax(device_is_limited_ad_tracking, ${key}) AS lat FROM ${events} WHERE property_id = ${param(req.propertyId)} AND event_timestamp <= ${param(req.asOfMicros)} AND ingest_seq <= ${param(req.maxIngestSeq ?? 1n << 62n)}`;
}

/**
 * The snapshot's columns (the rules in the header) of the devices of `events` whose id is
 * `restriction` (an IN or GLOBAL IN of our own SQL), one row per device. Every member has an event
 * of the window (asOf and maxIngestSeq bound both), so the GROUP BY, over a superset of those
 * events, has a row for each.
 */
function snapshotRowsSelect(events: Fragment, req: MembershipRequest, restriction: string): string {
  return `SELECT d AS device_id, uid AS user_id, multiIf(ifNull(consent, '') = 'DENIED' OR ifNull(npa, 0) = 1, 'false', consent IS NOT NULL OR npa IS NOT NULL, 'true', '(not set)') AS ads_personalization, multiIf(lat IS NULL, '(not set)', ifNull(lat, 0) = 1, 'true', 'false') AS limited_ad_tracking FROM (${chText(attributesSelect(events, req))} AND user_pseudo_id ${restriction} GROUP BY d)`;
}

/**
 * INSERT of `rows` into a snapshot table, numbered in device order: rowNumberInAllBlocks() numbers
 * the rows of the one sorted stream in its order.
 */
function numberedInsert(target: Fragment, rows: string): string {
  return `INSERT INTO ${chText(target)} SELECT toUInt64(rowNumberInAllBlocks()) AS rn, device_id, user_id, ads_personalization, limited_ad_tracking FROM (${rows} ORDER BY device_id)`;
}

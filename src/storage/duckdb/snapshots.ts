// SnapshotStore on DuckDB: one table per export snapshot, `export_snapshot_<id>`, holding
// (rn, device_id, user_id, ads_personalization, limited_ad_tracking) written in rn order.
//
// - rn is dense and zero-based in deviceId byte order, so a page is `rn >= offset AND rn < end`.
//   The table is written in rn order, so DuckDB's zonemaps on rn skip every other row group and a
//   page costs the same at offset 0 and at offset 5,000,000 (bench/exports.bench.ts measures it).
// - One table per snapshot (not one shared table) because dropping an expired snapshot is then a
//   DROP TABLE that returns the space, instead of DELETEs that leave holes in a shared table.
// - materialize() runs in one transaction: stage the member ids, compute their attributes with one
//   aggregate over the events, CREATE OR REPLACE the snapshot table. A crash leaves nothing behind
//   and a retry replaces whatever a previous attempt wrote. It runs on a read connection (an
//   exception to "only the writer writes": it writes only its own new tables, which no append
//   touches), so ingest is not blocked while a big snapshot is written.
//
// Attributes, as of asOf over events with event_timestamp <= asOf and ingest_seq <= maxIngestSeq
// (spec audience-semantics §5.1; docs/exports.md):
// - userId: latest non-null user_id by (event_timestamp, ingest_seq); NULL when none.
// - isAdsPersonalizationAllowed: 'false' if the latest non-null consent_ad_personalization is
//   DENIED or the latest non-null non_personalized_ads is true; otherwise 'true' if either signal
//   exists; otherwise '(not set)'.
// - isLimitedAdTracking: latest non-null device_is_limited_ad_tracking, '(not set)' when none.

import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { AudienceEngine, MemberRow, MembershipRequest, SnapshotStore } from '../contract.ts';
import { StorageError } from '../errors.ts';
import type { DuckDbDatabase } from './connection.ts';
import { EVENTS_TABLE } from './schema.ts';

const PREFIX = 'export_snapshot_';

export type ExportDimensionName =
  'deviceId' | 'userId' | 'isAdsPersonalizationAllowed' | 'isLimitedAdTracking';

/** Column expression of each export dimension; a member without a user id exports "". */
const DIMENSION_SQL: Record<ExportDimensionName, string> = {
  deviceId: 'device_id',
  userId: "coalesce(user_id, '')",
  isAdsPersonalizationAllowed: 'ads_personalization',
  isLimitedAdTracking: 'limited_ad_tracking',
};

function tableFor(snapshotId: string): string {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(snapshotId))
    throw new StorageError('other', `invalid snapshot id ${JSON.stringify(snapshotId)}`);
  return `${PREFIX}${snapshotId}`;
}

/** Name of a table's first column (the compiled members query names its column itself). */
async function firstColumn(con: DuckDBConnection, table: string): Promise<string> {
  const rows = (
    await con.runAndReadAll(
      `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position LIMIT 1`,
      [table],
    )
  ).getRowObjectsJS();
  const name = typeof rows[0]?.column_name === 'string' ? rows[0].column_name : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new StorageError('other', `unexpected members column ${name}`);
  return name;
}

const LATEST = (col: string) =>
  `arg_max(${col}, (event_timestamp, ingest_seq)) FILTER (WHERE ${col} IS NOT NULL)`;

export class DuckDbSnapshotStore implements SnapshotStore {
  constructor(
    private readonly db: DuckDbDatabase,
    private readonly engine: AudienceEngine,
  ) {}

  async highWaterMark(): Promise<bigint> {
    const rows = await this.db.reader().all(`SELECT coalesce(max(ingest_seq), 0) AS m FROM ${EVENTS_TABLE}`);
    return BigInt(rows[0]?.m as bigint | number);
  }

  async materialize(
    snapshotId: string,
    req: MembershipRequest,
    onProgress?: (pct: number) => void,
  ): Promise<number> {
    const table = tableFor(snapshotId);
    const stage = `${table}_members`;
    onProgress?.(5);
    // Pure-SQL audiences stage their members inside DuckDB; others come back through JS.
    const inEngine = this.engine.membersQuery?.(req) ?? null;
    const members = inEngine ? [] : await this.engine.findMembers(req);
    onProgress?.(inEngine ? 10 : 50);
    const maxSeq = req.maxIngestSeq ?? 1n << 62n;
    const sql = `CREATE OR REPLACE TABLE ${table} AS
WITH m AS (SELECT device_id, (row_number() OVER (ORDER BY device_id) - 1)::BIGINT AS rn FROM ${stage}),
a AS (
  SELECT user_pseudo_id AS device_id,
    ${LATEST('user_id')} AS user_id,
    ${LATEST('consent_ad_personalization')} AS consent,
    ${LATEST('non_personalized_ads')} AS npa,
    ${LATEST('device_is_limited_ad_tracking')} AS lat
  FROM ${EVENTS_TABLE}
  WHERE property_id = $1 AND event_timestamp <= $2 AND ingest_seq <= $3
    -- Only events that carry an attribute can change one (members without any get defaults).
    AND (user_id IS NOT NULL OR consent_ad_personalization IS NOT NULL
         OR non_personalized_ads IS NOT NULL OR device_is_limited_ad_tracking IS NOT NULL)
    AND user_pseudo_id IN (SELECT device_id FROM ${stage})
  GROUP BY user_pseudo_id
)
SELECT m.rn, m.device_id, a.user_id,
  CASE WHEN a.consent = 'DENIED' OR a.npa THEN 'false'
       WHEN a.consent IS NOT NULL OR a.npa IS NOT NULL THEN 'true'
       ELSE '(not set)' END AS ads_personalization,
  CASE WHEN a.lat IS NULL THEN '(not set)' WHEN a.lat THEN 'true' ELSE 'false' END AS limited_ad_tracking
FROM m LEFT JOIN a USING (device_id)
ORDER BY m.rn`;
    // On a read connection, not the writer: the snapshot tables are this transaction's own, so it
    // cannot conflict with appends, and ingest keeps committing while a big export is written
    // (measured at 10M events: ~7 s of attribute work that would otherwise stall every append).
    const count = await this.db.reader().exclusive(async (con) => {
      await con.run('BEGIN TRANSACTION');
      try {
        if (inEngine) {
          // The compiled query's only column is the user_pseudo_id; its placeholders are $1..$n.
          await con.run(
            `CREATE OR REPLACE TABLE ${stage} AS SELECT m.* FROM (${inEngine.sql}) AS m`,
            inEngine.parameters as DuckDBValue[],
          );
          const column = await firstColumn(con, stage);
          if (column !== 'device_id')
            await con.run(`ALTER TABLE ${stage} RENAME COLUMN ${column} TO device_id`);
        } else await con.run(`CREATE OR REPLACE TABLE ${stage} (device_id VARCHAR NOT NULL)`);
        const ap = await con.createAppender(stage);
        try {
          for (let i = 0; i < members.length; i++) {
            ap.appendVarchar(members[i]!);
            ap.endRow();
            // Yield now and then: a million appends would otherwise block the event loop (HTTP).
            if ((i + 1) % 8192 === 0) await new Promise<void>((r) => setImmediate(r));
          }
          ap.flushSync();
        } finally {
          ap.closeSync();
        }
        await con.run(sql, [req.propertyId, req.asOfMicros, maxSeq] as DuckDBValue[]);
        await con.run(`DROP TABLE ${stage}`);
        const n = (await con.runAndReadAll(`SELECT count(*) AS n FROM ${table}`)).getRowObjectsJS();
        await con.run('COMMIT');
        return Number(n[0]?.n ?? 0);
      } catch (err) {
        try {
          await con.run('ROLLBACK');
        } catch {
          // already rolled back
        }
        throw err;
      }
    }, `MATERIALIZE ${table}`);
    onProgress?.(95);
    return count;
  }

  async read(snapshotId: string, offset: number, limit: number): Promise<MemberRow[]> {
    const table = tableFor(snapshotId);
    if (limit <= 0) return [];
    const sql = `SELECT device_id, user_id, ads_personalization, limited_ad_tracking FROM ${table}
WHERE rn >= $1 AND rn < $2 ORDER BY rn`;
    return this.db.reader().exclusive(async (con) => {
      const reader = await con.runAndReadAll(sql, [BigInt(offset), BigInt(offset) + BigInt(limit)]);
      const [dev, uid, ads, lat] = reader.getColumns() as [string[], (string | null)[], string[], string[]];
      const out: MemberRow[] = new Array<MemberRow>(dev?.length ?? 0);
      for (let i = 0; i < out.length; i++) {
        out[i] = {
          deviceId: dev[i]!,
          userId: uid[i] ?? null,
          isAdsPersonalizationAllowed: ads[i] as MemberRow['isAdsPersonalizationAllowed'],
          isLimitedAdTracking: lat[i] as MemberRow['isLimitedAdTracking'],
        };
      }
      return out;
    }, sql);
  }

  /**
   * Rows [offset, offset+limit) rendered by DuckDB as the JSON text of AudienceRow objects, comma
   * separated (no brackets), values in the order of `dimensions`. Same rows, same order as read().
   */
  async readRowsJson(
    snapshotId: string,
    offset: number,
    limit: number,
    dimensions: ExportDimensionName[],
  ): Promise<string> {
    const table = tableFor(snapshotId);
    if (limit <= 0 || dimensions.length === 0) return '';
    const values = dimensions.map((d) => `json_object('value', ${DIMENSION_SQL[d]})`).join(', ');
    const sql = `SELECT coalesce(string_agg(json_object('dimensionValues', json_array(${values}))::VARCHAR, ',' ORDER BY rn), '') AS j
FROM ${table} WHERE rn >= $1 AND rn < $2`;
    return this.db.reader().exclusive(async (con) => {
      const reader = await con.runAndReadAll(sql, [BigInt(offset), BigInt(offset) + BigInt(limit)]);
      return String(reader.getColumns()[0]?.[0] ?? '');
    }, sql);
  }

  async drop(snapshotId: string): Promise<void> {
    const table = tableFor(snapshotId);
    await this.db.writer.run(`DROP TABLE IF EXISTS ${table}`);
    await this.db.writer.run(`DROP TABLE IF EXISTS ${table}_members`);
  }

  /** Snapshot ids that have a table (for sweeping orphans). */
  async list(): Promise<string[]> {
    const rows = await this.db
      .reader()
      .all(
        `SELECT table_name FROM information_schema.tables WHERE table_name LIKE '${PREFIX}%' AND table_name NOT LIKE '%\\_members' ESCAPE '\\'`,
      );
    return rows.map((r) => String(r.table_name).slice(PREFIX.length));
  }
}

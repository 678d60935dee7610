// SnapshotStore on DuckDB: one table per export snapshot, `export_snapshot_<id>`, holding
// (rn, device_id, user_id, ads_personalization, limited_ad_tracking) written in rn order.
//
// - rn is dense and zero-based in deviceId byte order, so a page is `rn >= offset AND rn < end`.
//   The table is written in rn order, so DuckDB's zonemaps on rn skip every other row group and a
//   page costs the same at offset 0 and at offset 5,000,000 (bench/exports.bench.ts measures it).
// - One table per snapshot (not one shared table) because dropping an expired snapshot is then a
//   DROP TABLE that returns the space, instead of DELETEs that leave holes in a shared table.
// - materialize() runs in one transaction: stage the member ids, take their attributes from the
//   incrementally folded per-device state plus the events the fold has not reached
//   (device-attributes.ts), CREATE OR REPLACE the snapshot table. A crash leaves nothing behind
//   and a retry replaces whatever a previous attempt wrote. It runs on a read connection (an
//   exception to "only the writer writes": it writes only its own new tables, which no append
//   touches), so ingest is not blocked while a big snapshot is written.
//
// Attributes, as of asOf over events with event_timestamp <= asOf and ingest_seq <= maxIngestSeq
// (docs/exports.md):
// - userId: latest non-null user_id by (event_timestamp, ingest_seq); NULL when none.
// - isAdsPersonalizationAllowed: 'false' if the latest non-null consent_ad_personalization is
//   DENIED or the latest non-null non_personalized_ads is true; otherwise 'true' if either signal
//   exists; otherwise '(not set)'.
// - isLimitedAdTracking: latest non-null device_is_limited_ad_tracking, '(not set)' when none.
//
// JSON pages (readRowsJson, the :query fast path): the snapshot's rows are rendered once, at its
// first JSON query, into a file of AudienceRow JSON plus an index of byte offsets in
// `<data>/export-rows/` (rendered-rows.ts: why and how), so a page is one byte range read from disk
// whatever its offset, and the REST transport sends those bytes as they are. The file is made by a
// DuckDB COPY of the same JSON text the SQL path renders (to_json of each value, byte-identical to
// json_object's), reused after a restart, and deleted by drop(). When it cannot be made, pages are
// rendered by SQL per page as before (readRowsJsonSql), with identical output.

import { dirname, join } from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import { RawJson } from '../../domain/raw-json.ts';
import type { AudienceEngine, MemberRow, MembershipRequest, SnapshotStore } from '../contract.ts';
import { StorageError } from '../errors.ts';
import type { DuckDbDatabase } from './connection.ts';
import { RenderedRows } from './rendered-rows.ts';
import { EVENTS_TABLE } from './schema.ts';
import { stageMemberAttributes } from './device-attributes.ts';
import { isAnyEventAudience } from '../../audience/compile/plan.ts';
import { MICROS_PER_DAY, windowStartMicros } from '../../audience/compile/window.ts';

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

/**
 * The snapshot table. Its layout is what writing it costs (measured at 737k rows,
 * bench/export-phases.bench.ts): DuckDB's compression analysis of the two id columns (unique
 * strings, which neither dictionary nor FSST shrinks much) took more than the rest of the write,
 * so they are stored uncompressed; the two flags are ENUMs (one byte each, read back as the same
 * strings by every reader, to_json included) instead of strings to analyse and compress.
 */
const FLAG = "ENUM('true', 'false', '(not set)')";
const SNAPSHOT_TABLE_DDL = (table: string) => `CREATE OR REPLACE TABLE ${table} (
  rn BIGINT NOT NULL,
  device_id VARCHAR NOT NULL USING COMPRESSION uncompressed,
  user_id VARCHAR USING COMPRESSION uncompressed,
  ads_personalization ${FLAG} NOT NULL,
  limited_ad_tracking ${FLAG} NOT NULL)`;

/** The two flags from the attributes' relation `a` (docs/exports.md). */
const ADS_SQL = `CASE WHEN a.consent = 'DENIED' OR a.npa THEN 'false'
       WHEN a.consent IS NOT NULL OR a.npa IS NOT NULL THEN 'true'
       ELSE '(not set)' END`;
const LAT_SQL = `CASE WHEN a.lat IS NULL THEN '(not set)' WHEN a.lat THEN 'true' ELSE 'false' END`;

/**
 * The first event time that makes a device an "any event" member as of asOf: after the membership
 * cutoff (asOf - duration, exclusive, as the compiled query's `event_timestamp > cutoff`) and not
 * before the evaluation window's start (backfill). A device is a member iff its last event within
 * the cut is at or after it.
 */
function summaryLowerBound(req: MembershipRequest): bigint {
  const afterCutoff = req.asOfMicros - BigInt(req.audience.membershipDurationDays) * MICROS_PER_DAY + 1n;
  const start = windowStartMicros(req.config);
  return start !== null && start > afterCutoff ? start : afterCutoff;
}

function tableFor(snapshotId: string): string {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(snapshotId))
    throw new StorageError('other', `invalid snapshot id ${JSON.stringify(snapshotId)}`);
  return `${PREFIX}${snapshotId}`;
}

export class DuckDbSnapshotStore implements SnapshotStore {
  constructor(
    private readonly db: DuckDbDatabase,
    private readonly engine: AudienceEngine,
    /**
     * The device summary's fold (device-attributes.ts): with it, "any event" audiences are read
     * from the summary, brought up to date first (usesDeviceSummary).
     */
    private readonly summary?: { catchUp(upTo?: bigint): Promise<unknown> },
  ) {}

  /**
   * All Users and its like (isAnyEventAudience) are read from the per-device summary: a member is
   * a device whose last event within the cut is in the membership window, and its attributes are
   * on the same row, so the snapshot is one scan of a table with a row per device instead of a
   * DISTINCT over every event (bench/export-phases.bench.ts). Exact whatever the fold reached
   * (stageMemberAttributes merges the events after its watermark and recomputes devices with
   * events past the cut); the fold is brought up to date first so that merge stays small.
   */
  usesDeviceSummary(req: MembershipRequest): boolean {
    return this.summary !== undefined && isAnyEventAudience(req.audience);
  }

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
    const phases = new PhaseClock();
    // Rows rendered from an earlier attempt would no longer match the table written below.
    await this.renderedRows().drop(snapshotId);
    phases.lap('prepareMs');
    onProgress?.(5);
    const fromSummary = this.usesDeviceSummary(req);
    if (fromSummary) {
      // Costs what the events since the last background fold cost (usually a few seconds' worth).
      // Only up to the export's mark: under steady ingest "everything committed" keeps moving, and
      // a catch-up chasing it would not end. A failed fold (the background loop logs it) only
      // leaves more for the staging to merge.
      const mark = req.maxIngestSeq ?? (await this.highWaterMark());
      await this.summary!.catchUp(mark).catch(() => undefined);
      phases.lap('summaryFoldMs');
    }
    // Pure-SQL audiences stage their members inside DuckDB; others come back through JS.
    const inEngine = fromSummary ? null : (this.engine.membersQuery?.(req) ?? null);
    const members = inEngine || fromSummary ? [] : await this.engine.findMembers(req);
    if (!fromSummary) phases.lap('membersMs');
    onProgress?.(inEngine || fromSummary ? 10 : 50);
    const cut = {
      propertyId: req.propertyId,
      asOfMicros: req.asOfMicros,
      maxIngestSeq: req.maxIngestSeq ?? 1n << 62n,
    };
    // On a read connection, not the writer: the snapshot tables are this transaction's own, so it
    // cannot conflict with appends, and ingest keeps committing while a big export is written.
    const count = await this.db.reader().exclusive(async (con) => {
      phases.lap('queueMs');
      await con.run('BEGIN TRANSACTION');
      try {
        // The members with their row number rn, in deviceId byte order. In-engine audiences: a
        // relation over the compiled query (nothing written down first). Its only column is the
        // user_pseudo_id, its placeholders are $1..$n, and it ends in ORDER BY: row_number()
        // OVER () numbers the rows in that order as they stream (a second sort in a windowed
        // row_number cost ~3x as much, measured at 700k). rn is dense whatever the order; the
        // deviceId order is checked by the tests. Others: a stage table of the ids from JS,
        // created and dropped inside this transaction (it never reaches the disk).
        let membersSql: string;
        const params: DuckDBValue[] = [];
        const tables: string[] = [];
        if (fromSummary) {
          // Placeholders: $1 the property (the attributes' relation), $2 the window's lower bound.
          params.push(req.propertyId, summaryLowerBound(req));
          const attrs = await stageMemberAttributes(con, null, table, cut, '$1');
          tables.push(...attrs.tables);
          phases.lap('summaryStageMs');
          await con.run(SNAPSHOT_TABLE_DDL(table));
          // No join after the numbering, so the rows stream in rn order into the table without
          // a second sort (one cost ~20 % of this statement at 1M rows; the physical order is
          // only a speed matter: read() sorts by rn, and rendered-rows.ts checks and re-sorts).
          const written = await con.run(
            `INSERT INTO ${table}
SELECT a.rn, a.device_id, a.user_id, ${ADS_SQL}, ${LAT_SQL}
FROM (SELECT (row_number() OVER () - 1)::BIGINT AS rn, s.* FROM (
  SELECT * FROM ${attrs.relation} s0 WHERE s0.last_ts >= $2 ORDER BY s0.device_id) s) a`,
            params,
          );
          phases.lap('summaryWriteMs');
          for (const t of tables) await con.run(`DROP TABLE ${t}`);
          await con.run('COMMIT');
          phases.lap('commitMs');
          return Number(written.rowsChanged);
        }
        if (inEngine) {
          params.push(...(inEngine.parameters as DuckDBValue[]));
          membersSql = `(SELECT (row_number() OVER () - 1)::BIGINT AS rn, m.device_id FROM (${inEngine.sql}) AS m(device_id))`;
        } else {
          await con.run(`CREATE OR REPLACE TABLE ${stage} (rn BIGINT NOT NULL, device_id VARCHAR NOT NULL)`);
          tables.push(stage);
          membersSql = stage;
          const ap = await con.createAppender(stage);
          try {
            // findMembers returns the ids sorted ascending.
            for (let i = 0; i < members.length; i++) {
              ap.appendBigInt(BigInt(i));
              ap.appendVarchar(members[i]!);
              ap.endRow();
              // Yield now and then: a million appends would otherwise block the event loop (HTTP).
              if ((i + 1) % 8192 === 0) await new Promise<void>((r) => setImmediate(r));
            }
            ap.flushSync();
          } finally {
            ap.closeSync();
          }
          phases.lap('stageMembersMs');
        }
        onProgress?.(60);
        params.push(req.propertyId);
        const attrs = await stageMemberAttributes(
          con,
          inEngine ? null : stage,
          table,
          cut,
          `$${params.length}`,
        );
        tables.push(...attrs.tables);
        phases.lap('attributesMs');
        await con.run(SNAPSHOT_TABLE_DDL(table));
        const written = await con.run(
          `INSERT INTO ${table}
SELECT m.rn, m.device_id, a.user_id, ${ADS_SQL}, ${LAT_SQL}
FROM ${membersSql} m LEFT JOIN ${attrs.relation} a USING (device_id)
ORDER BY m.rn`,
          params,
        );
        // In-engine audiences: the members query runs inside this statement.
        phases.lap(inEngine ? 'membersAndWriteMs' : 'writeMs');
        for (const t of tables) await con.run(`DROP TABLE ${t}`);
        await con.run('COMMIT');
        phases.lap('commitMs');
        return Number(written.rowsChanged);
      } catch (err) {
        try {
          await con.run('ROLLBACK');
        } catch {
          // already rolled back
        }
        throw err;
      }
    }, `MATERIALIZE ${table}`);
    this.timings.set(snapshotId, phases.laps);
    if (this.timings.size > 16) this.timings.delete(this.timings.keys().next().value!);
    onProgress?.(95);
    return count;
  }

  /** Where the last materialize() of a snapshot spent its time (ms per phase), for the job log. */
  phaseTimings(snapshotId: string): Record<string, number> | undefined {
    return this.timings.get(snapshotId);
  }

  private readonly timings = new Map<string, Record<string, number>>();

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
   * Rows [offset, offset+limit) as one JSON array of AudienceRow objects, values in the order of
   * `dimensions`: a byte range of the snapshot's pre-rendered file (made at the first call), or,
   * when that file cannot be made, rendered by SQL (readRowsJsonSql). Same rows, same order as read().
   * With `waitForRender: false`, a page asked for while the file is being made comes from SQL too.
   */
  async readRowsJson(
    snapshotId: string,
    offset: number,
    limit: number,
    dimensions: ExportDimensionName[],
    opts: { waitForRender?: boolean } = {},
  ): Promise<RawJson> {
    const table = tableFor(snapshotId);
    if (limit <= 0 || dimensions.length === 0) return new RawJson('[]');
    const bytes = await this.renderedRows().page(
      snapshotId,
      dimensions,
      offset,
      limit,
      async (path, ordered) => {
        // Physical order is rn order (the table is written ORDER BY rn); the module checks it.
        await this.db.reader().run(
          `COPY (SELECT rn, ${renderRowSql(dimensions)} FROM ${table}${ordered ? ' ORDER BY rn' : ''})
TO ${sqlString(path)} (FORMAT csv, HEADER false, DELIMITER '\x01', QUOTE '\x02', ESCAPE '\x02')`,
        );
      },
      async () => Number((await this.db.reader().all(`SELECT count(*) AS n FROM ${table}`))[0]?.n ?? -1),
      opts.waitForRender ?? true,
    );
    if (bytes) return new RawJson(bytes, () => this.renderedRows().release(bytes));
    return new RawJson(`[${await this.readRowsJsonSql(snapshotId, offset, limit, dimensions)}]`);
  }

  /** Renders the JSON rows file now (after the job, before the first query asks for it). */
  async warmRowsJson(snapshotId: string, dimensions: ExportDimensionName[]): Promise<void> {
    (await this.readRowsJson(snapshotId, 0, 1, dimensions)).release();
  }

  /**
   * Rows [offset, offset+limit) rendered by DuckDB as the JSON text of AudienceRow objects, comma
   * separated (no brackets), values in the order of `dimensions`: the path without a rendered file,
   * and the reference the rendered file must equal byte for byte.
   */
  async readRowsJsonSql(
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

  private rendered: RenderedRows | null = null;

  /** The pre-rendered rows of this database, in `<data>/export-rows/` next to events.duckdb. */
  renderedRows(): RenderedRows {
    this.rendered ??= new RenderedRows({
      dir: join(dirname(this.db.path), 'export-rows'),
      onError: (err, id) =>
        process.emitWarning(
          `pre-rendering the rows of snapshot ${id} failed, serving them from SQL: ${String(err)}`,
          { code: 'AUDEX_RENDERED_ROWS' },
        ),
    });
    return this.rendered;
  }

  async drop(snapshotId: string): Promise<void> {
    const table = tableFor(snapshotId);
    await this.db.writer.run(`DROP TABLE IF EXISTS ${table}`);
    await this.db.writer.run(`DROP TABLE IF EXISTS ${table}_members`);
    // After the table: a render that starts now fails, one in flight is awaited, then files go.
    await this.renderedRows().drop(snapshotId);
  }

  /** Snapshot ids that have a table or rendered rows files (for sweeping orphans). */
  async list(): Promise<string[]> {
    const rows = await this.db
      .reader()
      .all(
        `SELECT table_name FROM information_schema.tables WHERE table_name LIKE '${PREFIX}%' AND table_name NOT LIKE '%\\_members' ESCAPE '\\'`,
      );
    const ids = new Set(rows.map((r) => String(r.table_name).slice(PREFIX.length)));
    for (const id of await this.renderedRows().snapshotIds()) ids.add(id);
    return [...ids];
  }
}

/**
 * The JSON text of one AudienceRow, built by concatenation around to_json of each value: the same
 * bytes as json_object('dimensionValues', json_array(json_object('value', …), …)) (both are
 * DuckDB's JSON writer; the rendered-rows tests check hostile strings), at a fifth of the cost.
 */
function renderRowSql(dimensions: ExportDimensionName[]): string {
  const values = dimensions.map(
    (d) => `'{"value":', coalesce(to_json(${DIMENSION_SQL[d]})::VARCHAR, 'null'), '}'`,
  );
  return `concat('{"dimensionValues":[', ${values.join(", ',', ")}, ']}')`;
}

/** Milliseconds between successive laps, by name. */
class PhaseClock {
  readonly laps: Record<string, number> = {};
  private last = performance.now();

  lap(name: string): void {
    const now = performance.now();
    this.laps[name] = Math.round(now - this.last);
    this.last = now;
  }
}

/** A SQL string literal (COPY takes no parameter for its file name). */
function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

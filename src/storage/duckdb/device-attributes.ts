// Export attributes per device (userId, ad-personalization signals, limited ad tracking), folded
// incrementally from the events so that an export does not aggregate the whole event table.
//
// What an export needs for each member (docs/exports.md) is, per
// attribute, the latest non-null value by (event_timestamp, ingest_seq) among the events with
// event_timestamp <= asOf and ingest_seq <= the export's high-water mark. At 10M events that
// aggregate took ~5 s of an export's ~8 s. `device_attributes` keeps, per (property, device), the
// latest value of each attribute and its ordering key, over every event with ingest_seq <= the
// watermark in `device_attributes_watermark`; a background fold advances it.
//
// Exactness never depends on the fold being current (stageMemberAttributes below):
// - events after the watermark are aggregated at export time and merged in (the "fresh" part);
// - a device whose folded state includes an event the export must not see (event_timestamp >
//   asOf, or ingest_seq > the export's high-water mark) is recomputed from its events (the
//   "dirty" part). max_ts/max_seq are taken over all the device's events, so the test is
//   conservative: it may recompute a device it did not need to, never the reverse.
// So a missing or stale state only costs time. The watermark relies on ingest_seq following
// commit order, which holds because every write to `events` goes through the one writer queue
// (event-store.ts): everything up to the highest committed seq is visible to a later snapshot.
//
// The ordering key is one HUGEINT, event_timestamp * 2^63 + ingest_seq, which orders exactly like
// the pair (ingest_seq is never negative) and is cheaper than a struct in arg_max.
//
// The fold runs on its own connection (DuckDbDatabase.maintenance) in one transaction per chunk
// of ingest_seq: merge the chunk's per-device aggregate with the devices' current rows, DELETE
// those rows and INSERT the merged ones, move the watermark. A crash rolls the chunk back.
//
// The same table is the per-device summary that answers "any event" audiences (All Users) without
// scanning the events (src/storage/duckdb/snapshots.ts, docs/exports.md "All Users from the device
// summary"): every device with an event has a row (not only those with an attribute), with
// `first_ts`/`last_ts`, its first and last event time over events other than synthetic audience
// triggers (NULL when it has only those). max_ts/max_seq are over all of its events. The fold, the
// staging below and the refold after retention read every event, so a device's row is exact for
// every column; user deletion drops the rows (user-deletion.ts).

import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { DuckDbDatabase, Session } from './connection.ts';
import { EVENTS_TABLE } from './schema.ts';
import { RepeatingTask } from '../../domain/repeating-task.ts';

const DEVICE_ATTRIBUTES_TABLE = 'device_attributes';
const WATERMARK_TABLE = 'device_attributes_watermark';

/** (column, type) of the folded attributes; each has a `<name>_k` HUGEINT ordering key beside it. */
const ATTRIBUTES = [
  ['user_id', 'VARCHAR', 'user_id'],
  ['consent', 'VARCHAR', 'consent_ad_personalization'],
  ['npa', 'BOOLEAN', 'non_personalized_ads'],
  ['lat', 'BOOLEAN', 'device_is_limited_ad_tracking'],
] as const;

const KEY = '(event_timestamp::HUGEINT * 9223372036854775808 + ingest_seq)';

/** Events that count for membership (the evaluation window excludes synthetic triggers). */
const COUNTS = "source <> 'audience_trigger'";

/** State columns in table order, after property_id and device_id. */
const STATE_COLUMNS = [
  ...ATTRIBUTES.flatMap(([name]) => [name, `${name}_k`]),
  'first_ts',
  'last_ts',
  'max_ts',
  'max_seq',
];

/** Aggregates over event rows that produce the state columns (GROUP BY the device). */
const EVENT_AGGREGATES = [
  ...ATTRIBUTES.flatMap(([name, , src]) => [
    `arg_max(${src}, ${KEY}) FILTER (WHERE ${src} IS NOT NULL) AS ${name}`,
    `max(${KEY}) FILTER (WHERE ${src} IS NOT NULL) AS ${name}_k`,
  ]),
  `min(event_timestamp) FILTER (WHERE ${COUNTS}) AS first_ts`,
  `max(event_timestamp) FILTER (WHERE ${COUNTS}) AS last_ts`,
  'max(event_timestamp) AS max_ts',
  'max(ingest_seq) AS max_seq',
].join(',\n    ');

/** Aggregates that merge state rows (of the same device) into one. */
const STATE_AGGREGATES = [
  ...ATTRIBUTES.flatMap(([name]) => [
    `arg_max(${name}, ${name}_k) FILTER (WHERE ${name}_k IS NOT NULL) AS ${name}`,
    `max(${name}_k) AS ${name}_k`,
  ]),
  'min(first_ts) AS first_ts',
  'max(last_ts) AS last_ts',
  'max(max_ts) AS max_ts',
  'max(max_seq) AS max_seq',
].join(',\n    ');

const STATE_COLUMN_LIST = STATE_COLUMNS.join(', ');

export async function ensureDeviceAttributesSchema(writer: Session): Promise<void> {
  // A table of an earlier version (rows only for devices with an attribute, no last_ts) is
  // dropped and folded again from the start, in the background (exports stay exact meanwhile).
  const old = await writer.all(
    `SELECT 1 FROM information_schema.tables t WHERE t.table_name = $1
AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_name = $1 AND c.column_name = 'last_ts')`,
    [DEVICE_ATTRIBUTES_TABLE],
  );
  if (old.length > 0) {
    await writer.run(`DROP TABLE ${DEVICE_ATTRIBUTES_TABLE}`);
    await writer.run(`DROP TABLE IF EXISTS ${WATERMARK_TABLE}`);
  }
  const cols = ATTRIBUTES.flatMap(([name, type]) => [`${name} ${type}`, `${name}_k HUGEINT`]);
  await writer.run(`CREATE TABLE IF NOT EXISTS ${DEVICE_ATTRIBUTES_TABLE} (
  property_id BIGINT NOT NULL, device_id VARCHAR NOT NULL, ${cols.join(', ')},
  first_ts BIGINT, last_ts BIGINT, max_ts BIGINT NOT NULL, max_seq BIGINT NOT NULL)`);
  await writer.run(`CREATE TABLE IF NOT EXISTS ${WATERMARK_TABLE} (seq BIGINT NOT NULL)`);
  await writer.run(
    `INSERT INTO ${WATERMARK_TABLE} SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ${WATERMARK_TABLE})`,
  );
}

/** The fold watermark as seen by the caller's transaction. */
const WATERMARK_SQL = `SELECT seq FROM ${WATERMARK_TABLE}`;

export interface FoldResult {
  /** Watermark before and after. */
  from: bigint;
  to: bigint;
  /** Devices whose state changed. */
  devices: number;
}

export interface DeviceAttributeIndexOptions {
  /** Pause between folds while idle (ms). Default 2000. */
  intervalMs?: number;
  /** ingest_seq span per transaction, bounding a fold's memory. Default 20,000,000. */
  chunk?: bigint;
  log?: {
    info(msg: string, f?: Record<string, unknown>): void;
    error(msg: string, f?: Record<string, unknown>): void;
  };
}

export class DeviceAttributeIndex {
  /** For /audex/v1/metrics: the watermark reached, and the last fold's size and duration. */
  readonly stats = { watermark: '0', lastFoldDevices: 0, lastFoldMs: 0, folds: 0, failures: 0 };
  private readonly loop: RepeatingTask;
  private running: Promise<FoldResult> | null = null;
  private stopped = false;
  private readonly chunk: bigint;

  constructor(
    private readonly db: DuckDbDatabase,
    private readonly opts: DeviceAttributeIndexOptions = {},
  ) {
    this.chunk = opts.chunk ?? 20_000_000n;
    this.loop = new RepeatingTask(
      () => this.foldOnce(),
      opts.intervalMs ?? 2000,
      (err) => {
        // The exports stay exact without the fold (see the header); they only get slower.
        this.stats.failures++;
        if (!this.stopped) this.opts.log?.error('device attribute fold failed', { error: String(err) });
      },
    );
  }

  /** Folds now, then again every intervalMs, until stop(). */
  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
    await this.running?.catch(() => undefined);
  }

  /** One background fold: catches up and records what it did in stats. */
  private async foldOnce(): Promise<void> {
    const t = performance.now();
    const r = await this.catchUp();
    this.stats.watermark = String(r.to);
    if (r.to > r.from) {
      this.stats.folds++;
      this.stats.lastFoldDevices = r.devices;
      this.stats.lastFoldMs = Math.round(performance.now() - t);
      // Routine folds (a few seconds of traffic) stay quiet; big ones (a restart over a large
      // history, a burst of imports) are worth a line.
      if (this.stats.lastFoldMs >= 1000)
        this.opts.log?.info('device attributes folded', {
          from: String(r.from),
          to: String(r.to),
          devices: r.devices,
          ms: this.stats.lastFoldMs,
        });
    }
  }

  /** Folds every committed event (up to ingest_seq `upTo`, for tests) into the state; one fold at a time. */
  catchUp(upTo?: bigint): Promise<FoldResult> {
    const run = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.foldAll(upTo));
    this.running = run;
    return run;
  }

  private async foldAll(upTo: bigint | undefined): Promise<FoldResult> {
    let first: bigint | null = null;
    let devices = 0;
    for (;;) {
      const r = await this.foldChunk(upTo);
      first ??= r.from;
      devices += r.devices;
      if (r.to === r.from || this.stopped) return { from: first, to: r.to, devices };
    }
  }

  private foldChunk(upTo: bigint | undefined): Promise<FoldResult> {
    const sql = `FOLD ${DEVICE_ATTRIBUTES_TABLE}`;
    return this.db.maintenance.exclusive(async (con) => {
      const one = async (q: string, p: DuckDBValue[] = []) =>
        (await con.runAndReadAll(q, p)).getRows()[0]?.[0];
      await con.run('BEGIN TRANSACTION');
      try {
        const from = BigInt((await one(WATERMARK_SQL)) as bigint);
        const high = BigInt(
          ((await one(`SELECT max(ingest_seq) FROM ${EVENTS_TABLE} WHERE ingest_seq > $1`, [from])) as
            bigint | null) ?? from,
        );
        let to = high - from > this.chunk ? from + this.chunk : high;
        if (upTo !== undefined && to > upTo) to = upTo > from ? upTo : from;
        if (to === from) {
          await con.run('COMMIT');
          return { from, to, devices: 0 };
        }
        await con.run(
          `CREATE OR REPLACE TEMP TABLE fold_delta AS
SELECT property_id, user_pseudo_id AS device_id,
    ${EVENT_AGGREGATES}
FROM ${EVENTS_TABLE}
WHERE ingest_seq > $1 AND ingest_seq <= $2
GROUP BY property_id, user_pseudo_id`,
          [from, to],
        );
        await con.run(`CREATE OR REPLACE TEMP TABLE fold_merged AS
SELECT property_id, device_id,
    ${STATE_AGGREGATES}
FROM (
  SELECT s.property_id, s.device_id, ${prefixed('s')} FROM ${DEVICE_ATTRIBUTES_TABLE} s
  SEMI JOIN fold_delta d ON s.property_id = d.property_id AND s.device_id = d.device_id
  UNION ALL
  SELECT property_id, device_id, ${STATE_COLUMN_LIST} FROM fold_delta
)
GROUP BY property_id, device_id`);
        await con.run(`DELETE FROM ${DEVICE_ATTRIBUTES_TABLE} s USING fold_delta d
WHERE s.property_id = d.property_id AND s.device_id = d.device_id`);
        const devices = (
          await con.run(
            `INSERT INTO ${DEVICE_ATTRIBUTES_TABLE} SELECT property_id, device_id, ${STATE_COLUMN_LIST} FROM fold_merged`,
          )
        ).rowsChanged;
        await con.run(`UPDATE ${WATERMARK_TABLE} SET seq = $1`, [to]);
        await con.run('DROP TABLE fold_delta');
        await con.run('DROP TABLE fold_merged');
        await con.run('COMMIT');
        return { from, to, devices };
      } catch (err) {
        try {
          await con.run('ROLLBACK');
        } catch {
          // already rolled back
        }
        throw err;
      }
    }, sql);
  }
}

/** The state columns qualified with a table alias. */
function prefixed(alias: string): string {
  return STATE_COLUMNS.map((c) => `${alias}.${c}`).join(', ');
}

/** Which events an export sees: its property, event_timestamp <= asOf, ingest_seq <= maxSeq. */
export interface AttributeCut {
  propertyId: bigint;
  asOfMicros: bigint;
  maxIngestSeq: bigint;
}

export interface StagedAttributes {
  /**
   * A relation (device_id, user_id, consent, npa, lat, last_ts) over the state and the staged temp tables,
   * with one placeholder, `propertyParam` (default $1), for the property_id.
   */
  relation: string;
  /** Temp tables to drop once the relation has been used. */
  tables: string[];
  /** Devices recomputed from all their events, and devices merged with events after the fold. */
  stats: { dirty: number; freshDevices: number };
}

/**
 * Inside the caller's transaction on `con`: stages in temp tables (named after `prefix`) what the
 * export attributes of the devices in the table `members` (a device_id column) need beyond the
 * folded state, as of `cut`. With `members` null, it stages that for every device (cheap when the
 * fold is current: only devices with events after the watermark or past the cut), so the caller
 * need not write its members down first. Every device with an event within the cut is in the
 * relation, with `last_ts` (its last event time within the cut, triggers aside; NULL when none).
 */
export async function stageMemberAttributes(
  con: DuckDBConnection,
  members: string | null,
  prefix: string,
  cut: AttributeCut,
  propertyParam = '$1',
): Promise<StagedAttributes> {
  const dirty = `${prefix}_dirty`;
  const fresh = `${prefix}_fresh`;
  const params = [cut.propertyId, cut.asOfMicros, cut.maxIngestSeq] as DuckDBValue[];
  const count = async (sql: string) => Number((await con.runAndReadAll(sql)).getRows()[0]?.[0]);
  const wm = BigInt((await con.runAndReadAll(WATERMARK_SQL)).getRows()[0]?.[0] as bigint);
  // Folded rows that may include an event past the cut (a plain scan of the state, no join).
  await con.run(
    `CREATE OR REPLACE TEMP TABLE ${dirty} AS SELECT device_id FROM ${DEVICE_ATTRIBUTES_TABLE}
WHERE property_id = $1 AND (max_ts > $2 OR max_seq > $3)`,
    params,
  );
  const dirtyCount = await count(`SELECT count(*) FROM ${dirty}`);
  // Per-device aggregate of the events within the cut that match `where`,
  // joined to `devices`. An inner join after the aggregate lets DuckDB build its hash table on
  // the smaller side: usually the few devices seen since the last fold, not the members.
  const eventsOf = (where: string, devices: string | null) => `
SELECT d.* FROM (
  SELECT user_pseudo_id AS device_id,
    ${EVENT_AGGREGATES}
  FROM ${EVENTS_TABLE}
  WHERE property_id = $1 AND event_timestamp <= $2 AND ingest_seq <= $3 AND ${where}
  GROUP BY user_pseudo_id
) d${devices === null ? '' : ` JOIN ${devices} m ON d.device_id = m.device_id`}`;
  // Events the fold has not reached yet (ingest_seq zonemaps skip everything before the watermark).
  await con.run(`CREATE OR REPLACE TEMP TABLE ${fresh} AS ${eventsOf('ingest_seq > $4', members)}`, [
    ...params,
    wm,
  ]);
  // Dirty members: all of their events again, within the cut (rare: backdated or late events).
  if (dirtyCount > 0)
    await con.run(
      `INSERT INTO ${fresh} ${eventsOf(`user_pseudo_id IN (SELECT device_id FROM ${dirty})`, members)}`,
      params,
    );
  const freshDevices = await count(`SELECT count(DISTINCT device_id) FROM ${fresh}`);
  const folded = `SELECT device_id, ${STATE_COLUMN_LIST} FROM ${DEVICE_ATTRIBUTES_TABLE} WHERE property_id = ${propertyParam}`;
  const notDirty = dirtyCount > 0 ? ` AND device_id NOT IN (SELECT device_id FROM ${dirty})` : '';
  const relation =
    freshDevices === 0
      ? `(SELECT device_id, user_id, consent, npa, lat, last_ts FROM ${DEVICE_ATTRIBUTES_TABLE}
  WHERE property_id = ${propertyParam}${notDirty})`
      : `(SELECT device_id, user_id, consent, npa, lat, last_ts FROM ${DEVICE_ATTRIBUTES_TABLE}
  WHERE property_id = ${propertyParam}${notDirty} AND device_id NOT IN (SELECT device_id FROM ${fresh})
UNION ALL
SELECT device_id, user_id, consent, npa, lat, last_ts FROM (
  SELECT device_id,
    ${STATE_AGGREGATES}
  FROM (
    ${folded}${notDirty} AND device_id IN (SELECT device_id FROM ${fresh})
    UNION ALL
    SELECT device_id, ${STATE_COLUMN_LIST} FROM ${fresh}
  )
  GROUP BY device_id))`;
  return { relation, tables: [dirty, fresh], stats: { dirty: dirtyCount, freshDevices } };
}

/**
 * Inside the caller's transaction on `con`: recomputes the folded state of the devices listed in
 * the table `devices` (a device_id column) from their events up to the watermark, after some of
 * their events were deleted (data retention, src/storage/duckdb/retention.ts). Devices left
 * without an event lose their row.
 */
export async function refoldDevices(
  con: DuckDBConnection,
  propertyId: bigint,
  devices: string,
): Promise<void> {
  const wm = BigInt((await con.runAndReadAll(WATERMARK_SQL)).getRows()[0]?.[0] as bigint);
  await con.run(
    `DELETE FROM ${DEVICE_ATTRIBUTES_TABLE} WHERE property_id = $1 AND device_id IN (SELECT device_id FROM ${devices})`,
    [propertyId],
  );
  await con.run(
    `INSERT INTO ${DEVICE_ATTRIBUTES_TABLE}
SELECT property_id, user_pseudo_id AS device_id,
    ${EVENT_AGGREGATES}
FROM ${EVENTS_TABLE}
WHERE property_id = $1 AND ingest_seq <= $2
  AND user_pseudo_id IN (SELECT device_id FROM ${devices})
GROUP BY property_id, user_pseudo_id`,
    [propertyId, wm],
  );
}

// DuckDbEventStore: the EventStore on an embedded DuckDB file.
//
// Durability (verified with strace and a SIGKILL test, see event-store.duckdb.test.ts):
// append() opens a transaction on the writer connection, fills an Appender, flushes it into the
// transaction, and COMMITs. DuckDB's COMMIT writes the transaction to the WAL and fsyncs it
// (observed: `fsync(<wal fd>)` on a DuckDB worker thread before the COMMIT promise resolves), so
// a resolved append survives kill -9 and power loss. Without the explicit transaction,
// Appender.flushSync() autocommits (also WAL + fsync) but does so on the JS main thread, blocking
// the event loop for the fsync; and an appender flushes on its own every ~200k rows, which would
// make a large batch non-atomic. Hence BEGIN / append / COMMIT.

import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type {
  EncodedEvents,
  EventStore,
  ImportLedgerEntry,
  ImportReport,
  MeasurementRequest,
} from '../contract.ts';
import {
  EVENT_COLUMNS,
  decodeParams,
  decodeUserProperties,
  encodeParams,
  encodeUserProperties,
  type NewEvent,
  type StoredEvent,
} from '../../domain/event.ts';
import { StorageError } from '../errors.ts';
import { DuckDbDatabase, type DuckDbOptions } from './connection.ts';
import { EVENTS_TABLE, ensureSchema, nextIngestSeq } from './schema.ts';
import { buildImportSql, describeSource, type ImportFormat } from './import-sql.ts';
import { checkImportPath } from './import/path.ts';
import * as staged from './staged-import.ts';
import { FlatRowsReader, itemsJson, type FlatRows } from './flat-rows.ts';
import { assignSessionsFlat, sessionizeFlat } from './flat-sessions.ts';
import { MpWorkers } from './mp-workers.ts';
import type { SessionContext } from '../../ingest/session-context.ts';
import { sharedNdjsonWorkers, type NdjsonWorkers, type ParsedChunk } from './ndjson-workers.ts';
import { ndjsonChunks } from '../../ingest/import/ndjson-chunks.ts';
import type { NdjsonError } from '../../ingest/import/ndjson.ts';
import type { ImportContext } from '../../ingest/import/bigquery-row.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';

/** Rows appended between yields to the event loop, so a 50k batch does not stall HTTP traffic. */
const YIELD_EVERY = 4096;

// One row = 40 appender calls, in EVENT_COLUMNS order. Written out by hand (not a loop over
// per-column closures reading e[name]) because this runs ~40 times per event on the main thread:
// direct property reads stay monomorphic. event-store-rows.duckdb.test.ts checks that it stores
// exactly what a generic per-column writer over EVENT_COLUMNS stores (order, types, NULLs, edge
// values) and that it requires exactly the schema's NOT NULL columns.

function required(name: string): never {
  throw new StorageError('constraint', `event field ${name} is required`);
}
function reqStr(ap: DuckDBAppender, v: string | null | undefined, name: string): void {
  if (v === null || v === undefined) required(name);
  ap.appendVarchar(v);
}
function optStr(ap: DuckDBAppender, v: string | null | undefined): void {
  if (v === null || v === undefined) ap.appendNull();
  else ap.appendVarchar(v);
}
function reqBig(ap: DuckDBAppender, v: bigint | null | undefined, name: string): void {
  if (v === null || v === undefined) required(name);
  ap.appendBigInt(v);
}
function optBig(ap: DuckDBAppender, v: bigint | null | undefined): void {
  if (v === null || v === undefined) ap.appendNull();
  else ap.appendBigInt(v);
}
function optInt(ap: DuckDBAppender, v: number | null | undefined): void {
  if (v === null || v === undefined) ap.appendNull();
  else ap.appendInteger(v);
}
function optDouble(ap: DuckDBAppender, v: number | null | undefined): void {
  if (v === null || v === undefined) ap.appendNull();
  else ap.appendDouble(v);
}
function optBool(ap: DuckDBAppender, v: boolean | null | undefined): void {
  if (v === null || v === undefined) ap.appendNull();
  else ap.appendBoolean(v);
}
/** Appends one event as one row, in EVENT_COLUMNS order. Throws StorageError 'constraint' on a missing required field. */
export function appendRow(ap: DuckDBAppender, e: NewEvent, seq: bigint): void {
  reqBig(ap, e.property_id, 'property_id');
  reqStr(ap, e.stream_id, 'stream_id');
  reqStr(ap, e.platform, 'platform');
  ap.appendBigInt(seq);
  reqStr(ap, e.event_name, 'event_name');
  reqBig(ap, e.event_timestamp, 'event_timestamp');
  reqStr(ap, e.event_date, 'event_date');
  reqBig(ap, e.received_at, 'received_at');
  reqStr(ap, e.source, 'source');
  reqStr(ap, e.user_pseudo_id, 'user_pseudo_id');
  optStr(ap, e.user_id);
  optBig(ap, e.ga_session_id);
  optInt(ap, e.ga_session_number);
  ap.appendVarchar(encodeParams(e.event_params ?? {}));
  ap.appendVarchar(encodeUserProperties(e.user_properties ?? {}));
  optStr(ap, e.device_category);
  optStr(ap, e.device_operating_system);
  optStr(ap, e.device_operating_system_version);
  optStr(ap, e.device_browser);
  optStr(ap, e.device_browser_version);
  optStr(ap, e.device_language);
  optStr(ap, e.device_mobile_brand_name);
  optStr(ap, e.device_mobile_model_name);
  optBool(ap, e.device_is_limited_ad_tracking);
  optStr(ap, e.geo_continent);
  optStr(ap, e.geo_sub_continent);
  optStr(ap, e.geo_country);
  optStr(ap, e.geo_country_id);
  optStr(ap, e.geo_region);
  optStr(ap, e.geo_city);
  optStr(ap, e.traffic_source_source);
  optStr(ap, e.traffic_source_medium);
  optStr(ap, e.traffic_source_name);
  optStr(ap, e.ecommerce_transaction_id);
  optDouble(ap, e.ecommerce_purchase_revenue);
  optDouble(ap, e.ecommerce_refund_value);
  ap.appendVarchar(itemsJson(e.items));
  optStr(ap, e.consent_ad_user_data);
  optStr(ap, e.consent_ad_personalization);
  optBool(ap, e.non_personalized_ads);
}

const SELECT_COLUMNS = EVENT_COLUMNS.map(([n]) => n).join(', ');

/** One stored column value as the StoredEvent field (JSON columns decoded, BIGINTs as bigint). */
export function decodeEventColumn(name: string, type: string, v: unknown): unknown {
  if (name === 'event_params') return decodeParams(v as string | null);
  if (name === 'user_properties') return decodeUserProperties(v as string | null);
  if (name === 'items') return v ? JSON.parse(v as string) : [];
  if (type === 'BIGINT') return v === null || v === undefined ? null : BigInt(v as bigint);
  return v ?? null;
}

function toStoredEvent(r: Record<string, unknown>): StoredEvent {
  const out: Record<string, unknown> = {};
  for (const [name, type] of EVENT_COLUMNS) out[name] = decodeEventColumn(name, type, r[name]);
  return out as unknown as StoredEvent;
}

export interface DuckDbEventStoreOptions extends DuckDbOptions {
  /** The clock for received_at of imported rows (µs). Tests pin it. */
  nowMicros?: () => bigint;
  /**
   * Worker threads for Measurement Protocol collection (encodeMeasurement); 0 turns
   * encodeMeasurement off (the route then works on the main thread). Default 0.
   */
  collectWorkers?: number;
  /** Test hook of the collection workers (mp-workers.ts). */
  collectWorkersTestExitOnRequest?: number;
}

/** Flat rows of a request, encoded by a collection worker (opaque outside this folder). */
class EncodedFlatRows implements EncodedEvents {
  constructor(readonly flat: FlatRows) {}
  get encodedRows(): number {
    return this.flat.rows;
  }
}

export class DuckDbEventStore implements EventStore {
  private seq: bigint;
  private collectPool: MpWorkers | null = null;

  private constructor(
    readonly db: DuckDbDatabase,
    firstSeq: bigint,
    private readonly nowMicros: () => bigint,
    private readonly collectOpts: { size?: number; testExitOnRequest?: number },
  ) {
    this.seq = firstSeq;
    // Off unless asked for: on the shared 2-core machine of BENCHMARKS.md the main-thread path
    // acknowledged ~20 % more events per second (the hand-over costs CPU that a busy machine
    // lacks); the workers pay where the main thread is the limit and cores are spare.
    if (!collectOpts.size || collectOpts.size <= 0) this.encodeMeasurement = undefined;
  }

  /** Opens (or creates) <dataDir>/events.duckdb and continues ingest_seq after the stored max. */
  static async open(options: DuckDbEventStoreOptions): Promise<DuckDbEventStore> {
    const db = await DuckDbDatabase.open(options);
    try {
      await ensureSchema(db.writer);
      await db.writer.run(staged.ledgerTableSql());
      const first = await nextIngestSeq(db.writer);
      return new DuckDbEventStore(db, first, options.nowMicros ?? (() => BigInt(Date.now()) * 1000n), {
        ...(options.collectWorkers === undefined ? {} : { size: options.collectWorkers }),
        ...(options.collectWorkersTestExitOnRequest === undefined
          ? {}
          : { testExitOnRequest: options.collectWorkersTestExitOnRequest }),
      });
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** One transaction per call; resolves after COMMIT (WAL written and fsynced). */
  append(events: NewEvent[]): Promise<bigint[]> {
    return this.appendParts([events]);
  }

  /** The collection workers (started at the first request); tests reach them to kill one. */
  get collectWorkers(): MpWorkers {
    this.collectPool ??= new MpWorkers(this.collectOpts);
    return this.collectPool;
  }

  /**
   * Parses, validates and encodes a Measurement Protocol body in a worker thread (mp-workers.ts),
   * then, back on this thread, applies the session context and the sessionizer to the rows.
   * Undefined when the store was opened with collectWorkers: 0.
   */
  encodeMeasurement?: (
    req: MeasurementRequest,
    sessions: { sessionContext: SessionContext; sessionizer: Sessionizer },
  ) => Promise<EncodedEvents | null> = async (req, sessions) => {
    // A copy of exactly the body's bytes, transferred (a Buffer may be a view of a larger pool).
    const body = new Uint8Array(req.body);
    const flat = await this.collectWorkers.encode({
      body,
      query: req.query,
      nowMicros: req.nowMicros,
      propertyId: req.propertyId,
      streamId: req.streamId,
      timeZone: req.timeZone,
    });
    if (!flat) return null;
    return new EncodedFlatRows(assignSessionsFlat(flat, { ...sessions, inherit: true }));
  };

  /** append() of events as objects or as encodeMeasurement's rows, in one transaction. */
  appendEncoded(parts: (NewEvent[] | EncodedEvents)[]): Promise<bigint[]> {
    return this.appendParts(
      parts.map((p) => {
        if (Array.isArray(p)) return p;
        if (p instanceof EncodedFlatRows) return p.flat;
        throw new StorageError('other', 'appendEncoded: rows encoded for another store');
      }),
    );
  }

  private async appendParts(parts: (NewEvent[] | FlatRows)[]): Promise<bigint[]> {
    let total = 0;
    for (const p of parts) total += Array.isArray(p) ? p.length : p.rows;
    if (total === 0) return [];
    return this.db.writer.exclusive(async (con) => {
      // Sequence numbers are handed out inside the writer queue, so they follow commit order.
      // A failed batch leaves a gap; ingest_seq is monotonic, not dense.
      const first = this.seq;
      this.seq += BigInt(total);
      const seqs = new Array<bigint>(total);
      for (let i = 0; i < total; i++) seqs[i] = first + BigInt(i);
      await con.run('BEGIN TRANSACTION');
      try {
        const ap = await con.createAppender(EVENTS_TABLE);
        try {
          let k = 0;
          for (const p of parts) {
            if (Array.isArray(p)) {
              for (let i = 0; i < p.length; i++, k++) {
                appendRow(ap, p[i] as NewEvent, seqs[k] as bigint);
                ap.endRow();
                if ((k + 1) % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
              }
            } else {
              const reader = new FlatRowsReader(p);
              for (let i = 0; i < p.rows; i++, k++) {
                reader.appendNext(ap, i, seqs[k] as bigint);
                if ((k + 1) % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
              }
            }
          }
          ap.flushSync();
        } finally {
          try {
            ap.closeSync();
          } catch {
            // closeSync after a failed flush rethrows the flush error; the first one is reported
          }
        }
        await con.run('COMMIT');
      } catch (err) {
        try {
          await con.run('ROLLBACK');
        } catch {
          // the transaction may already be gone (failed COMMIT rolls back by itself)
        }
        throw err;
      }
      return seqs;
    }, `APPEND INTO ${EVENTS_TABLE}`);
  }

  async readEvents(
    propertyId: bigint,
    filter: { userPseudoId?: string; limit?: number } = {},
  ): Promise<StoredEvent[]> {
    const params: (bigint | string | number)[] = [propertyId];
    let sql = `SELECT ${SELECT_COLUMNS} FROM ${EVENTS_TABLE} WHERE property_id = $1`;
    if (filter.userPseudoId !== undefined) {
      params.push(filter.userPseudoId);
      sql += ` AND user_pseudo_id = $${params.length}`;
    }
    sql += ' ORDER BY user_pseudo_id, event_timestamp, ingest_seq';
    if (filter.limit !== undefined) {
      params.push(BigInt(Math.max(0, Math.floor(filter.limit))));
      sql += ` LIMIT $${params.length}`;
    }
    const rows = await this.db.reader().all(sql, params);
    return rows.map(toStoredEvent);
  }

  async countEvents(propertyId: bigint): Promise<number> {
    const rows = await this.db
      .reader()
      .all(`SELECT count(*) AS n FROM ${EVENTS_TABLE} WHERE property_id = $1`, [propertyId]);
    return Number(rows[0]?.n ?? 0);
  }

  async countEventsByBucket(
    propertyId: bigint,
    fromMicros: bigint,
    stepMicros: bigint,
  ): Promise<Map<bigint, number>> {
    const rows = await this.db
      .reader()
      .all(
        `SELECT event_timestamp // $3 AS bucket, count(*) AS n FROM ${EVENTS_TABLE} ` +
          `WHERE property_id = $1 AND event_timestamp >= $2 GROUP BY bucket`,
        [propertyId, fromMicros, stepMicros],
      );
    return new Map(rows.map((row) => [BigInt(row.bucket as bigint), Number(row.n)]));
  }

  async latestEvents(propertyId: bigint, limit: number): Promise<StoredEvent[]> {
    const rows = await this.db
      .reader()
      .all(
        `SELECT ${SELECT_COLUMNS} FROM ${EVENTS_TABLE} WHERE property_id = $1 ORDER BY ingest_seq DESC LIMIT $2`,
        [propertyId, BigInt(Math.max(0, Math.floor(limit)))],
      );
    return rows.map(toStoredEvent);
  }

  async importFile(
    propertyId: bigint,
    path: string,
    format: ImportFormat,
    timeZone = 'UTC',
  ): Promise<number> {
    return (await this.importFileReport(propertyId, path, format, timeZone)).stored;
  }

  /**
   * Bulk-loads BigQuery-export rows in one INSERT … SELECT (one transaction: all or nothing).
   * Rows that break a rule of import-sql.ts (e.g. without user_pseudo_id, event_name or
   * event_timestamp, or with a value of the wrong type) are skipped and counted; the report names
   * the first few by 0-based row number in the file. `timeZone` (IANA, the property's) dates rows
   * without event_date. Appends wait while it runs.
   */
  async importFileReport(
    propertyId: bigint,
    path: string,
    format: ImportFormat,
    timeZone = 'UTC',
    /** Records the import's result under importId in the same transaction (see staged-import.ts). */
    ledger?: { importId: string; render: (report: ImportReport) => string },
  ): Promise<ImportReport> {
    const file = checkImportPath(path);
    return this.db.writer.exclusive(async (con) => {
      const source = await describeSource(con, file, format);
      const q = buildImportSql(source);
      const base = this.seq;
      const count = (await con.runAndReadAll(q.countSql, [file])).getRowObjectsJS();
      const total = Number(count[0]?.total ?? 0);
      // Reserve the whole file's range before the insert so a failure leaves a gap, never a reuse.
      this.seq = base + BigInt(total);
      await con.run('BEGIN TRANSACTION');
      try {
        const report = await this.loadFile(con, q, file, propertyId, base, timeZone, total);
        if (ledger)
          await staged.recordLedger(
            con,
            propertyId,
            ledger.importId,
            ledger.render(report),
            this.nowMicros(),
          );
        await con.run('COMMIT');
        return report;
      } catch (err) {
        await con.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }, `IMPORT ${format}`);
  }

  private async loadFile(
    con: DuckDBConnection,
    q: ReturnType<typeof buildImportSql>,
    file: string,
    propertyId: bigint,
    base: bigint,
    timeZone: string,
    total: number,
  ): Promise<ImportReport> {
    const stored = (await con.run(q.insertSql, [file, propertyId, base, this.nowMicros(), timeZone]))
      .rowsChanged;
    const rejected = Math.max(0, total - stored);
    const examples =
      rejected === 0 ? [] : (await con.runAndReadAll(q.examplesSql, [file, 5])).getRowObjectsJS();
    // If the file grew between the two reads, the insert used seqs past the reservation.
    const after = (
      await con.runAndReadAll(`SELECT max(ingest_seq) AS m FROM ${EVENTS_TABLE} WHERE ingest_seq >= $1`, [
        base,
      ])
    ).getRowObjectsJS();
    const max = after[0]?.m;
    if (typeof max === 'bigint' && max >= this.seq) this.seq = max + 1n;
    return {
      stored,
      rejected,
      examples: examples.map((e) => ({ row: Number(e.row), reason: e.reason as string })),
    };
  }

  /** The stored result of an import by importId (staged-import.ts), or null. */
  async importResult(propertyId: bigint, importId: string): Promise<string | null> {
    return this.db.writer.exclusive((con) => staged.ledgerResult(con, propertyId, importId));
  }

  async importLedger(): Promise<ImportLedgerEntry[]> {
    return this.db.writer.exclusive((con) => staged.ledgerEntries(con));
  }

  /** A new, empty staging table for an all-or-nothing import. */
  async openStage(): Promise<string> {
    const stage = staged.newStageName();
    await this.db.writer.exclusive((con) => staged.createStage(con, stage));
    return stage;
  }

  /** Appends events to a staging table; `firstOrdinal` is the first one's position in the import. */
  async stageAppend(stage: string, events: NewEvent[], firstOrdinal: number): Promise<void> {
    if (!staged.isStageName(stage)) throw new StorageError('other', `bad stage ${stage}`);
    await this.appendToStage(stage, events.length, (ap, i) => {
      appendRow(ap, events[i] as NewEvent, BigInt(firstOrdinal + i));
      ap.endRow();
    });
  }

  /**
   * Parses an NDJSON upload in worker threads and appends its rows to a staging table
   * (ndjson-workers.ts): what the sequential loop of parseNdjson + stageAppend does, with the
   * same rows, ordinals, line numbers and messages. Returns the rows staged, the rows rejected
   * and the first `maxErrors` rejections in line order.
   */
  async stageNdjson(
    stage: string,
    input: AsyncIterable<Buffer | string>,
    ctx: ImportContext,
    opts: {
      sessionizer?: Sessionizer;
      maxErrors: number;
      /** Default: the process's pool. */
      workers?: NdjsonWorkers;
      /** Characters; longer lines are rejected (parseNdjson's maxLineLength). Default 8 Mi. */
      maxLineLength?: number;
      /** Bytes per chunk handed to a worker. Default 4 MiB. */
      chunkBytes?: number;
    },
  ): Promise<{ staged: number; rejected: number; errors: NdjsonError[] }> {
    if (!staged.isStageName(stage)) throw new StorageError('other', `bad stage ${stage}`);
    const pool = opts.workers ?? sharedNdjsonWorkers();
    const maxLineLength = opts.maxLineLength ?? 8 * 1024 * 1024;
    let stagedRows = 0;
    let rejected = 0;
    const errors: NdjsonError[] = [];
    let storing: Promise<void> = Promise.resolve();
    const take = async (r: ParsedChunk | NdjsonError): Promise<void> => {
      const chunkErrors = 'line' in r ? [r] : r.errors;
      rejected += chunkErrors.length;
      for (const e of chunkErrors) if (errors.length < opts.maxErrors) errors.push(e);
      if ('line' in r || r.rows.rows === 0) return;
      const reader = new FlatRowsReader(r.rows);
      if (opts.sessionizer) sessionizeFlat(reader, opts.sessionizer);
      await storing;
      storing = this.stageAppendFlat(stage, reader, stagedRows);
      stagedRows += r.rows.rows;
      // Keeps an early failure from surfacing as an unhandled rejection while parsing goes on.
      storing.catch(() => undefined);
    };
    // Chunks in flight: enough to keep every worker busy while the writer appends.
    const inflight: Promise<ParsedChunk | NdjsonError>[] = [];
    try {
      for await (const chunk of ndjsonChunks(input, {
        chunkBytes: opts.chunkBytes ?? 4 << 20,
        maxLineLength,
      })) {
        const p: Promise<ParsedChunk | NdjsonError> =
          chunk.kind === 'lines'
            ? pool.parse({ bytes: chunk.bytes, firstLine: chunk.firstLine, ctx, maxLineLength })
            : Promise.resolve({
                line: chunk.line,
                message: `line is longer than ${maxLineLength} characters; skipped`,
              });
        p.catch(() => undefined);
        inflight.push(p);
        while (inflight.length > pool.size * 2) await take(await inflight.shift()!);
      }
      while (inflight.length > 0) await take(await inflight.shift()!);
    } finally {
      // Settle whatever is left before the caller drops the stage.
      await Promise.allSettled(inflight);
      await storing.catch(() => undefined);
    }
    await storing;
    return { staged: stagedRows, rejected, errors };
  }

  /** Appends flat rows (ndjson-workers.ts) to a staging table; ordinals from `firstOrdinal`. */
  private stageAppendFlat(stage: string, rows: FlatRowsReader, firstOrdinal: number): Promise<void> {
    return this.appendToStage(stage, rows.f.rows, (ap, i) =>
      rows.appendNext(ap, i, BigInt(firstOrdinal + i)),
    );
  }

  /**
   * `count` rows into a staging table through one appender on the writer, `appendOne(ap, i)`
   * writing row i; yields to the event loop every YIELD_EVERY rows so collection keeps going.
   */
  private appendToStage(
    stage: string,
    count: number,
    appendOne: (ap: DuckDBAppender, i: number) => void,
  ): Promise<void> {
    return this.db.writer.exclusive(async (con) => {
      const ap = await con.createAppender(stage);
      try {
        for (let i = 0; i < count; i++) {
          appendOne(ap, i);
          if ((i + 1) % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
        }
        ap.flushSync();
      } finally {
        try {
          ap.closeSync();
        } catch {
          // closeSync after a failed flush rethrows the flush error; the first one is reported
        }
      }
    }, `APPEND INTO ${stage}`);
  }

  /**
   * In one transaction: the staged rows into events (ingest_seq handed out now), the result into
   * the ledger under importId (a PRIMARY KEY: a twin that committed first makes this one roll
   * back with a 'constraint' StorageError), the staging table dropped.
   */
  async commitStage(
    stage: string,
    propertyId: bigint,
    importId: string | null,
    render: (stored: number) => string,
  ): Promise<number> {
    return this.db.writer.exclusive(async (con) => {
      const counted = (await con.runAndReadAll(`SELECT count(*) AS n FROM ${stage}`)).getRowObjectsJS();
      const total = BigInt(counted[0]?.n as bigint);
      const base = this.seq;
      this.seq = base + total;
      await con.run('BEGIN TRANSACTION');
      try {
        const stored = await staged.copyStage(con, stage, base);
        if (importId !== null)
          await staged.recordLedger(con, propertyId, importId, render(stored), this.nowMicros());
        await staged.dropStage(con, stage);
        await con.run('COMMIT');
        return stored;
      } catch (err) {
        await con.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }, `COMMIT ${stage}`);
  }

  async discardStage(stage: string): Promise<void> {
    await this.db.writer.exclusive((con) => staged.dropStage(con, stage));
  }

  /**
   * Drops the staging tables of imports that never committed (a crash). A commit is one
   * transaction here, so no import is ever half stored: there are no moves to settle.
   */
  async recoverInterruptedImports(): Promise<{ stages: number; moves: number }> {
    return this.db.writer.exclusive(async (con) => {
      const stages = await staged.leftoverStages(con);
      for (const s of stages) await staged.dropStage(con, s);
      return { stages: stages.length, moves: 0 };
    });
  }

  async close(): Promise<void> {
    await this.collectPool?.close();
    await this.db.close();
  }
}

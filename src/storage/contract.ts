// The storage contract: everything outside src/storage/ talks to these interfaces only, and gets
// them from openStorage() (src/storage/index.ts), which opens the configured backend. All methods
// are async, whatever the engine.

import type { AudienceDefinition, EvaluationConfig } from '../domain/audience.ts';
import type { NewEvent, StoredEvent } from '../domain/event.ts';
import type { RawJson } from '../domain/raw-json.ts';
import type { CompiledQuery, SqlDialect } from '../audience/compile/index.ts';
import type { ImportContext } from '../ingest/import/bigquery-row.ts';
import type { Sessionizer } from '../ingest/sessionizer.ts';
import type { SessionContext } from '../ingest/session-context.ts';

/** Events one backend's writer takes as they are (DuckDB: flat rows); opaque to everyone else. */
export interface EncodedEvents {
  readonly encodedRows: number;
}

/** One Measurement Protocol request, authenticated, for EventStore.encodeMeasurement. */
export interface MeasurementRequest {
  body: Buffer;
  query: { measurement_id?: string; api_secret?: string; firebase_app_id?: string };
  /** Server time, µs: received_at, and the reference of the timestamp checks. */
  nowMicros: bigint;
  propertyId: bigint;
  streamId: string;
  /** The property's IANA zone, for event_date. */
  timeZone: string;
}

export interface EventStore {
  /**
   * Appends events in one transaction and resolves only once they are durable (committed to the
   * engine's write-ahead log). Assigns and returns each event's ingest_seq, in input order.
   */
  append(events: NewEvent[]): Promise<bigint[]>;

  /** Events of one property, ordered by (user_pseudo_id, event_timestamp, ingest_seq). For tests and tools. */
  readEvents(propertyId: bigint, filter?: { userPseudoId?: string; limit?: number }): Promise<StoredEvent[]>;

  countEvents(propertyId: bigint): Promise<number>;

  /** Event counts per time bucket: bucket k holds events with event_timestamp in [k·step, (k+1)·step), from `fromMicros` on. */
  countEventsByBucket(
    propertyId: bigint,
    fromMicros: bigint,
    stepMicros: bigint,
  ): Promise<Map<bigint, number>>;

  /** The most recently stored events of a property, newest (highest ingest_seq) first. */
  latestEvents(propertyId: bigint, limit: number): Promise<StoredEvent[]>;

  /**
   * Bulk load from a file the engine can read directly (BigQuery-export-shaped rows), for import.
   * Returns how many rows were stored.
   */
  importFile?(
    propertyId: bigint,
    path: string,
    format: 'parquet' | 'ndjson',
    timeZone?: string,
  ): Promise<number>;

  /**
   * importFile with the rows it skipped (missing or mistyped fields) and why. `timeZone` is the
   * property's IANA zone: rows without event_date are dated in it (default UTC).
   */
  importFileReport?(
    propertyId: bigint,
    path: string,
    format: 'parquet' | 'ndjson',
    timeZone?: string,
    /** Records the import's result under importId in the same transaction as its rows. */
    ledger?: { importId: string; render: (report: ImportReport) => string },
  ): Promise<ImportReport>;

  // All-or-nothing imports that a client can resend (importId): rows go to a stage, then commit
  // in one transaction together with the import's recorded result.

  /** The stored result of an import by importId, or null. */
  importResult(propertyId: bigint, importId: string): Promise<string | null>;
  /** A new, empty stage; returns its name. */
  openStage(): Promise<string>;
  /** Appends events to a stage; `firstOrdinal` is the first one's position in the import. */
  stageAppend(stage: string, events: NewEvent[], firstOrdinal: number): Promise<void>;
  /**
   * Optional: parses an NDJSON upload and stages its rows in one go, as the loop of parseNdjson +
   * stageAppend would (DuckDB: parsing in worker threads, src/storage/duckdb/ndjson-workers.ts).
   */
  stageNdjson?(
    stage: string,
    input: AsyncIterable<Buffer | string>,
    ctx: ImportContext,
    opts: { sessionizer?: Sessionizer; maxErrors: number },
  ): Promise<{ staged: number; rejected: number; errors: { line: number; message: string }[] }>;
  /** Moves a stage's rows into the events in one transaction (with the ledger entry); returns how many. */
  commitStage(
    stage: string,
    propertyId: bigint,
    importId: string | null,
    render: (stored: number) => string,
  ): Promise<number>;
  discardStage(stage: string): Promise<void>;
  /**
   * At start: makes every import a crash interrupted stored whole or not at all (a backend
   * without transactions settles the moves left open), and drops the stages of imports that never
   * committed and whose process is gone; returns how many of each.
   */
  recoverInterruptedImports(): Promise<{ stages: number; moves: number }>;
  /**
   * Optional (DuckDB: in worker threads, src/storage/duckdb/mp-workers.ts): what the collection
   * route does to a Measurement Protocol body before storing it (parse, validate, toEvents, the
   * session context, the sessionizer), with the events encoded for appendEncoded. Null when
   * production stores none of its events. Rejects with a retriable StorageError 'unavailable'
   * when the work could not be done.
   */
  encodeMeasurement?(
    req: MeasurementRequest,
    sessions: { sessionContext: SessionContext; sessionizer: Sessionizer },
  ): Promise<EncodedEvents | null>;
  /** With encodeMeasurement: append() of events given as objects or encoded, in one transaction. */
  appendEncoded?(parts: (NewEvent[] | EncodedEvents)[]): Promise<bigint[]>;
  /**
   * Optional (`audex migrate` into this engine): stores events as they are, ingest_seq included,
   * in one bulk write; the store must not have been written otherwise meanwhile.
   */
  copyIn?(events: StoredEvent[]): Promise<void>;
  /** Optional (`audex migrate` out of this engine): every entry of the import ledger. */
  importLedger?(): Promise<ImportLedgerEntry[]>;
  /** Optional (`audex migrate` into this engine): stores ledger entries as they are. */
  copyLedgerIn?(entries: ImportLedgerEntry[]): Promise<void>;
}

/** One finished import by its client-chosen id: a retry with the same id gets `result` back. */
export interface ImportLedgerEntry {
  propertyId: bigint;
  importId: string;
  /** The import's response, as sent the first time. */
  result: string;
  createdAtMicros: bigint;
}

/** Outcome of a bulk import: rows stored, rows rejected, and the first few rejections. */
export interface ImportReport {
  stored: number;
  rejected: number;
  /** 0-based row (line) number in the file and why it was rejected; at most a handful. */
  examples: { row: number; reason: string }[];
}

/** One export row before dimension selection; values already in export string form. */
export interface MemberRow {
  deviceId: string;
  userId: string | null;
  isAdsPersonalizationAllowed: 'true' | 'false' | '(not set)';
  isLimitedAdTracking: 'true' | 'false' | '(not set)';
}

export interface MembershipRequest {
  propertyId: bigint;
  audience: AudienceDefinition;
  config: EvaluationConfig;
  /** Membership is computed as of this instant (µs since epoch). */
  asOfMicros: bigint;
  /**
   * Optional high-water mark: only events with ingest_seq <= maxIngestSeq count, so events
   * acknowledged after an export's create call never enter its snapshot, even when backdated.
   */
  maxIngestSeq?: bigint;
}

export interface AudienceEngine {
  /** The user_pseudo_ids that are members as of asOf, sorted ascending (byte order). */
  findMembers(req: MembershipRequest): Promise<string[]>;
  /**
   * Optional: the members as one SQL statement (one column of user_pseudo_ids) over the engine's own
   * tables, when the audience compiles to pure SQL; null otherwise. A snapshot store in the same
   * engine uses it to keep member ids inside the engine instead of a round trip through JS.
   */
  membersQuery?(req: MembershipRequest): { sql: string; parameters: readonly unknown[] } | null;
}

/**
 * What the audience layer (src/audience/evaluate/) needs from an engine to evaluate audiences:
 * run the compiler's SQL (written in `dialect`) and read rows back. The plan choice and the
 * per-user fold live above it, so every backend shares them.
 */
export interface QueryExecutor {
  /** The compiler dialect the engine speaks. */
  readonly dialect: SqlDialect;
  /**
   * The events table's qualified name (schema, table), which a CTE called `events` does not
   * shadow (DuckDB: main.events): a caller restricts a compiled query, which reads `events`, to a
   * subset of the rows by defining `WITH events AS (SELECT * FROM <schema>.<table> WHERE …)`
   * around it.
   */
  readonly qualifiedEventsTable: readonly [schema: string, table: string];
  /** Runs one statement; rows as objects keyed by column name (BIGINT as bigint, JSON as text). */
  rows(query: CompiledQuery): Promise<Record<string, unknown>[]>;
  /** Runs one statement and returns its first column (e.g. a members query's user ids), as rows does. */
  firstColumn(query: CompiledQuery): Promise<unknown[]>;
  /**
   * Streams a statement that selects every event column, chunk by chunk, decoded into events in
   * query order. `onChunk` runs before the next chunk is fetched.
   */
  streamEvents(query: CompiledQuery, onChunk: (events: StoredEvent[]) => void): Promise<void>;
}

/** One audience's trigger, as the trigger logger last saw it (docs/audiences.md §2.7). */
export interface TriggerAudienceState {
  /** The trigger's event name and log condition, as one comparable key. */
  key: string;
  /** null: every qualification at or after createTime; else only qualifying events with ingest_seq > fromSeq. */
  fromSeq: bigint | null;
}

/** The trigger logger's persisted progress, kept by the engine next to the events it guards. */
export interface TriggerProgressStore {
  /**
   * Creates the progress records if missing. On a data folder that never ran the logger the
   * watermark starts at the current high-water mark (history is not replayed).
   */
  init(nowMicros: bigint): Promise<void>;
  /** The watermark W, the time of the last active pass, and each audience's trigger state. */
  load(): Promise<{
    watermark: bigint;
    lastPass: bigint | null;
    audiences: Map<number, TriggerAudienceState>;
  }>;
  /** Replaces every audience's trigger state at once. */
  saveAudiences(next: ReadonlyMap<number, TriggerAudienceState>): Promise<void>;
  /** Moves the watermark (after the pass's trigger events are durable). */
  saveWatermark(watermark: bigint, lastPass: bigint): Promise<void>;
  /** The latest committed ingest_seq of the event store (0 when empty). */
  highWaterMark(): Promise<bigint>;
}

export interface SnapshotStore {
  /**
   * Computes the members as of asOf and stores them, with their export attributes as of asOf,
   * under snapshotId in a stable order (deviceId ascending). Returns the row count. Idempotent:
   * a retry replaces a partial snapshot of the same id.
   */
  materialize(
    snapshotId: string,
    req: MembershipRequest,
    onProgress?: (pct: number) => void,
  ): Promise<number>;
  /** Rows [offset, offset+limit) in the stable order; cost independent of offset. */
  read(snapshotId: string, offset: number, limit: number): Promise<MemberRow[]>;
  /**
   * Optional fast path: the same rows as one JSON array of AudienceRow objects
   * (`[{"dimensionValues":[{"value":"…"},…]},…]`, `[]` past the end), values in the order of
   * `dimensions`, pre-rendered by the engine as text or UTF-8 bytes.
   */
  readRowsJson?(
    snapshotId: string,
    offset: number,
    limit: number,
    dimensions: ('deviceId' | 'userId' | 'isAdsPersonalizationAllowed' | 'isLimitedAdTracking')[],
    /** false: never wait for a pre-rendering in progress (serve the page another way). */
    opts?: { waitForRender?: boolean },
  ): Promise<RawJson>;
  /** Optional: prepares the readRowsJson fast path ahead of the first query (best effort). */
  warmRowsJson?(
    snapshotId: string,
    dimensions: ('deviceId' | 'userId' | 'isAdsPersonalizationAllowed' | 'isLimitedAdTracking')[],
  ): Promise<void>;
  /**
   * Optional capability: true when materialize() takes this request's members and attributes from
   * the backend's per-device summary (one row per device: last event time and export attributes,
   * kept exact as of the snapshot's cut) instead of running the members query over the events.
   * Only for audiences the summary is exact for (isAnyEventAudience, src/audience/compile/plan.ts:
   * All Users). Backends without a summary (ClickHouse) leave it out.
   */
  usesDeviceSummary?(req: MembershipRequest): boolean;
  drop(snapshotId: string): Promise<void>;
  /**
   * Optional (`audex migrate` into this engine): writes rows [firstRow, firstRow + rows.length)
   * of a snapshot copied from another engine, in the source's order; firstRow 0 replaces any
   * snapshot of that id. Pages come in order.
   */
  copyIn?(snapshotId: string, rows: MemberRow[], firstRow: number): Promise<void>;
  /** The latest committed ingest_seq of the event store (0 when empty): a snapshot's high-water mark. */
  highWaterMark(): Promise<bigint>;
}

/** What every backend's open() takes (src/storage/index.ts reads it from the configuration). */
export interface StorageOptions {
  /** The data folder; a backend keeps its files (if any) under it. */
  dataDir: string;
  /** A server engine's address (ClickHouse: clickhouse://host:8123/db, see docs/deploy.md). */
  eventsUrl?: string;
  /** Engine threads, when the engine runs in this process. */
  threads?: number;
  /** Engine memory limit, like "4GB", when the engine runs in this process. */
  memoryLimit?: string;
  /** Worker threads for Measurement Protocol collection, where the backend has them (DuckDB); 0 = none. */
  collectWorkers?: number;
  log?: {
    info(msg: string, f?: Record<string, unknown>): void;
    error(msg: string, f?: Record<string, unknown>): void;
  };
}

/** Upkeep a backend runs while the server is up (DuckDB: the device-attribute fold). */
export interface StorageMaintenance {
  /** For /audex/v1/metrics. */
  readonly stats: object;
  start(): void;
  stop(): Promise<void>;
}

/** Everything the rest of audex gets from an event engine; src/storage/index.ts opens one. */
/** Whose events a user deletion removes: a user id (every device that carried it) or one device. */
export type DeletionSubject = { kind: 'user_id' | 'client_id' | 'app_instance_id'; value: string };

export interface RetentionCut {
  /** Events with event_timestamp < this are deleted (µs); null = no event cut. */
  eventsBefore: bigint | null;
  /** Every event of a device whose newest event is older than this is deleted (µs); null = none. */
  inactiveBefore: bigint | null;
}

/** The deletes of the privacy features (src/privacy/): user deletion, retention, trash purge. */
export interface DataEraser {
  /** Deletes the user's events in the property; returns the user's device ids and events deleted. */
  deleteUserEvents(
    propertyId: bigint,
    subject: DeletionSubject,
  ): Promise<{ devices: string[]; events: number }>;
  /** Removes the devices' folded export attributes. */
  deleteDeviceAttributes(propertyId: bigint, devices: string[]): Promise<void>;
  /**
   * Removes the devices' rows (and `userId`'s, when given) from one snapshot, keeping row numbers
   * dense, and forgets its pre-rendered pages; null when the snapshot no longer exists.
   */
  deleteFromSnapshot(
    snapshotId: string,
    devices: string[],
    userId: string | null,
  ): Promise<{ removed: number; rows: number } | null>;
  /** Deletes a property's expired events (and refolds the devices' attributes); returns how many went. */
  deleteExpiredEvents(propertyId: bigint, cut: RetentionCut): Promise<number>;
  /** Deletes every event and folded attribute of a property (purge of a trashed property). */
  deletePropertyEvents(propertyId: bigint): Promise<number>;
}

export interface Storage {
  events: EventStore;
  audiences: AudienceEngine;
  snapshots: SnapshotStore;
  maintenance: StorageMaintenance;
  executor: QueryExecutor;
  triggerProgress: TriggerProgressStore;
  eraser: DataEraser;
  /** The engine's memory in use, by tag (empty once closed), for the metrics. */
  memoryUsage(): Promise<{ tag: string; bytes: number }[]>;
  /** Stops nothing else: the server stops `maintenance` and drains ingest before it calls this. */
  close(): Promise<void>;
}

// The DuckDB database file and its connections. This folder is the only place that imports
// @duckdb/node-api; every driver failure is turned into a StorageError here (wrapDuckDbError).
//
// Connections: one writer (appends, imports, DDL) and a few readers. Statements on one
// connection are serialized by a promise queue (Session) even though the driver tolerated
// concurrent calls in a lab test: a transaction that is open on the writer (BEGIN, appender,
// COMMIT) must never interleave with another statement on the same connection.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { StorageError, type StorageErrorKind } from '../errors.ts';

export interface DuckDbOptions {
  /** Folder for events.duckdb (+ its .wal) and duckdb-tmp/ (spill). Created if missing. */
  dataDir: string;
  /** DuckDB worker threads. Default 2. */
  threads?: number;
  /** DuckDB memory_limit, e.g. '2GB'. Default: DuckDB's own (80% of RAM). */
  memoryLimit?: string;
  /**
   * WAL size that triggers an automatic checkpoint at commit. Default '256MB': DuckDB's 16MB
   * default made a checkpoint run every ~2 commits of 50k events, tripling commit time.
   */
  checkpointThreshold?: string;
  /** Number of read connections. Default 2. */
  readers?: number;
}

export type Params = DuckDBValue[] | Record<string, DuckDBValue>;

const KIND_BY_PREFIX: [RegExp, StorageErrorKind][] = [
  [/^Out of Memory Error/i, 'memory_limit'],
  // Before 'io': DuckDB reports a full disk as an IO Error naming the file.
  [/No space left on device|Disk quota exceeded|ENOSPC|EDQUOT/i, 'disk_full'],
  [/^(Parser|Binder|Catalog) Error/i, 'syntax'],
  [/^Constraint Error/i, 'constraint'],
  [/^IO Error/i, 'io'],
  [
    /^(Connection|FATAL|INTERNAL) Error|database has been invalidated|connection (is )?closed|Could not set lock/i,
    'unavailable',
  ],
];

/** The one place DuckDB failures become StorageErrors. Idempotent for StorageErrors. */
export function wrapDuckDbError(err: unknown, sql?: string): StorageError {
  if (err instanceof StorageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  let kind: StorageErrorKind = 'other';
  for (const [re, k] of KIND_BY_PREFIX) {
    if (re.test(message)) {
      kind = k;
      break;
    }
  }
  return new StorageError(kind, `duckdb: ${message.split('\n')[0] ?? message}`, {
    ...(sql === undefined ? {} : { sql }),
    cause: err,
  });
}

/** One connection whose statements run strictly one after another. */
export class Session {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly con: DuckDBConnection) {}

  /**
   * Runs fn with exclusive use of the raw connection (for appenders and multi-statement
   * transactions). Driver errors thrown by fn are wrapped.
   */
  exclusive<T>(fn: (con: DuckDBConnection) => Promise<T>, sqlForErrors?: string): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new StorageError('unavailable', 'duckdb: connection is closed');
      try {
        return await fn(this.con);
      } catch (err) {
        throw wrapDuckDbError(err, sqlForErrors);
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async run(sql: string, params?: Params): Promise<number> {
    return this.exclusive(async (con) => (await con.run(sql, params)).rowsChanged, sql);
  }

  /** Rows as JS objects: BIGINT -> bigint, INTEGER/DOUBLE -> number, JSON/VARCHAR -> string. */
  async all(sql: string, params?: Params): Promise<Record<string, unknown>[]> {
    return this.exclusive(async (con) => (await con.runAndReadAll(sql, params)).getRowObjectsJS(), sql);
  }

  /** Waits for queued statements, then disconnects. */
  async close(): Promise<void> {
    await this.tail;
    if (this.closed) return;
    this.closed = true;
    this.con.closeSync();
  }
}

export class DuckDbDatabase {
  private nextReader = 0;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    /** The only connection that writes. */
    readonly writer: Session,
    private readonly readers: Session[],
    /** A connection of its own for background maintenance (device-attributes.ts), so a long fold
     * never queues reads behind it. */
    readonly maintenance: Session,
    readonly path: string,
  ) {}

  static async open(options: DuckDbOptions): Promise<DuckDbDatabase> {
    const path = join(options.dataDir, 'events.duckdb');
    const tempDir = join(options.dataDir, 'duckdb-tmp');
    try {
      mkdirSync(tempDir, { recursive: true });
    } catch (err) {
      throw new StorageError('io', `cannot create data folder ${options.dataDir}`, { cause: err });
    }
    const settings: Record<string, string> = {
      threads: String(options.threads ?? 2),
      temp_directory: tempDir,
      checkpoint_threshold: options.checkpointThreshold ?? '256MB',
      // Rows keep arrival order (ingest_seq order), which keeps the zonemaps of ingest_seq,
      // received_at and (for live traffic) event_timestamp tight.
      preserve_insertion_order: 'true',
      // No extension downloads at run time: parquet and json are built in.
      autoinstall_known_extensions: 'false',
    };
    if (options.memoryLimit) {
      settings.memory_limit = options.memoryLimit;
      // Under a small limit (a process budget, AUDEX_MEMORY_LIMIT), hand memory freed by a task
      // back to the OS instead of keeping up to 128 MB cached (DuckDB's default threshold).
      const flush = allocatorFlushThreshold(options.memoryLimit);
      if (flush) settings.allocator_flush_threshold = flush;
      // Under any limit, let the allocator's background threads return freed pages: without
      // them the server's RSS stayed ~1.2 GiB above DuckDB's own accounting after the first
      // fold of a 100M-event history (5.2-5.4 GiB peak at the default 4GB; with them 4.4 GiB,
      // BENCHMARKS.md, issue 17), and the limit did not bound the process.
      settings.allocator_background_threads = 'true';
    }
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path, settings);
    } catch (err) {
      throw wrapDuckDbError(err);
    }
    try {
      const writer = new Session(await instance.connect());
      const readers: Session[] = [];
      for (let i = 0; i < Math.max(1, options.readers ?? 2); i++)
        readers.push(new Session(await instance.connect()));
      const maintenance = new Session(await instance.connect());
      return new DuckDbDatabase(instance, writer, readers, maintenance, path);
    } catch (err) {
      instance.closeSync();
      throw wrapDuckDbError(err);
    }
  }

  /** A read connection (round robin). Reads see every committed append. */
  reader(): Session {
    if (this.closed) throw new StorageError('unavailable', 'duckdb: database is closed');
    const s = this.readers[this.nextReader++ % this.readers.length];
    if (!s) throw new StorageError('unavailable', 'duckdb: no reader');
    return s;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Finishes queued statements, disconnects, and closes the file (DuckDB checkpoints on close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.writer.close(), this.maintenance.close(), ...this.readers.map((r) => r.close())]);
    this.instance.closeSync();
  }
}

/** A sixteenth of memory_limit when that is below DuckDB's 128 MB default, else undefined. */
function allocatorFlushThreshold(memoryLimit: string): string | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])(i?)B$/i.exec(memoryLimit.trim());
  if (!m) return undefined;
  const unit = { K: 1, M: 2, G: 3, T: 4 }[m[2]!.toUpperCase() as 'K' | 'M' | 'G' | 'T'];
  const mib = (Number(m[1]) * (m[3] ? 1024 : 1000) ** unit) / 2 ** 20;
  return mib / 16 < 128 ? `${Math.max(8, Math.floor(mib / 16))}MiB` : undefined;
}

// The one error type that leaves the storage layer. Backends wrap every driver failure exactly
// once, at their edge, so callers branch on a backend-neutral `kind` instead of engine messages.

export type StorageErrorKind =
  /** The engine is closed, crashed, locked by another process, or the ingest queue is shut/full. */
  | 'unavailable'
  /** The query needed more memory than the configured limit (and could not spill). */
  | 'memory_limit'
  /** The SQL itself is wrong: parse, bind or catalog errors. A bug, never the user's data. */
  | 'syntax'
  /** A NOT NULL / unique / check constraint rejected the data. */
  | 'constraint'
  /** The disk (or its quota) is full: the same call may succeed once space is freed. */
  | 'disk_full'
  /** Disk or file trouble: missing import file, unreadable file. */
  | 'io'
  | 'other';

const RETRIABLE: ReadonlySet<StorageErrorKind> = new Set(['unavailable', 'memory_limit', 'disk_full']);

export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  /** The statement that failed, when there was one. Never contains user values (they are bound). */
  readonly sql: string | undefined;

  constructor(kind: StorageErrorKind, message: string, options: { sql?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.kind = kind;
    this.sql = options.sql;
  }

  /** Whether the same call may succeed later without changing its input. */
  get isRetriable(): boolean {
    return RETRIABLE.has(this.kind);
  }
}

export function isStorageError(err: unknown): err is StorageError {
  return err instanceof StorageError;
}

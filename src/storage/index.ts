// The one way into storage: openStorage(name, options) opens the backend the configuration names
// and returns the contract's objects (contract.ts). A backend is a sibling folder of this file
// with an index.ts exporting open(options), plus one line in BACKENDS below; nothing outside
// src/storage/ may import a backend folder or an engine driver (eslint.config.js enforces it).
// Backends load lazily, so a driver is only loaded when its backend is chosen.

import type { Storage, StorageOptions } from './contract.ts';
import { EventsUrlError, isClickHouseUrl, parseClickHouseUrl } from './clickhouse/url.ts';

const BACKENDS = {
  duckdb: async (options: StorageOptions) => (await import('./duckdb/index.ts')).open(options),
  clickhouse: async (options: StorageOptions) => (await import('./clickhouse/index.ts')).open(options),
} as const;

export type BackendName = keyof typeof BACKENDS;

/** The backends this build can open, the default first. */
export const BACKEND_NAMES = Object.keys(BACKENDS) as [BackendName, ...BackendName[]];

/** What openStorage returns: the contract's objects. */
export type OpenedStorage = Storage;

export async function openStorage(name: BackendName, options: StorageOptions): Promise<OpenedStorage> {
  const open = BACKENDS[name];
  if (!open) throw new TypeError(`unknown storage backend ${JSON.stringify(name)}`);
  return open(options);
}

export type { Storage, StorageOptions, EventStore, AudienceEngine, SnapshotStore } from './contract.ts';

/**
 * What is wrong with an events URL (--events-url), or null. Only clickhouse:// URLs exist today;
 * the parser is small and driver-free, so the configuration checks it at start.
 */
export function eventsUrlProblem(url: string): string | null {
  if (!isClickHouseUrl(url)) return 'expected a clickhouse:// URL (docs/deploy.md)';
  try {
    parseClickHouseUrl(url);
    return null;
  } catch (err) {
    return err instanceof EventsUrlError ? err.message : String(err);
  }
}

/**
 * Converts an NDJSON file of string columns to Parquet (`audex exports download --format
 * parquet`). A file tool, not the event engine: DuckDB does it whatever backend the server runs.
 */
export async function ndjsonToParquet(
  ndjsonFile: string,
  parquetFile: string,
  columns: string[],
): Promise<number> {
  return (await import('./duckdb/parquet-file.ts')).ndjsonToParquet(ndjsonFile, parquetFile, columns);
}

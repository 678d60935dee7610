// One memory budget for the whole process (AUDEX_MEMORY_LIMIT). DuckDB gets a fixed share as its
// memory_limit (it spills to <data>/duckdb-tmp beyond it); the rest is the JavaScript side (V8
// heap, page buffers, sockets) and the process's fixed cost. The guard reads the resident set
// and, while it is over the budget, refuses new memory-heavy work (:query pages, exports, imports)
// with RESOURCE_EXHAUSTED instead of letting the process grow; collection is never refused here
// (its memory is bounded by the ingest queue).

import { errors } from '../domain/errors.ts';

/** DuckDB's share of the budget. */
export const DUCKDB_SHARE = 0.5;

const UNITS: Record<string, number> = {
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "512MB", "2GiB" (DuckDB's spelling) in bytes. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B)$/i.exec(text.trim());
  if (!m) throw new Error(`not a size like "2GB": ${text}`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** DuckDB's memory_limit derived from the budget, in its own syntax. */
export function duckdbLimitFor(budgetBytes: number): string {
  return `${Math.max(16, Math.floor((budgetBytes * DUCKDB_SHARE) / 2 ** 20))}MiB`;
}

export class MemoryGuard {
  constructor(
    readonly budgetBytes: number,
    // process.memoryUsage.rss() reads one number from the OS: cheap enough for every admitted call.
    private readonly rss: () => number = () => process.memoryUsage.rss(),
  ) {}

  /** Throws RESOURCE_EXHAUSTED while the process is over its budget. */
  admit(): void {
    if (this.rss() > this.budgetBytes)
      throw errors.resourceExhausted(
        'The server is at its memory limit (AUDEX_MEMORY_LIMIT); retry later.',
        'AUDEX_MEMORY_LIMIT',
      );
  }
}

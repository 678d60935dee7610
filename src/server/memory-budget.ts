// One memory budget for the whole process (AUDEX_MEMORY_LIMIT). An idle server already holds
// FIXED_COST_BYTES (Node and V8's base heap, DuckDB's and gRPC's code pages, SQLite: ~145 MiB
// measured); what the budget has beyond that is split:
// - DuckDB: DUCKDB_SHARE, as its memory_limit (it spills to <data>/duckdb-tmp beyond it), and its
//   allocator hands freed memory back to the OS after each task (src/storage/duckdb/connection.ts);
// - V8: JS_HEAP_SHARE on top of its base heap, as the old-space cap (--max-old-space-size, set by
//   src/cli/heap-limit.ts), so garbage from big pages is collected instead of piling up towards
//   V8's default of several GB;
// - the rest: buffers in flight (sockets, page bytes, Arrow vectors), thread stacks, allocator slack.
// The guard reads the resident set and, while it is over the budget, refuses new memory-heavy
// work (:query pages, exports, imports) with RESOURCE_EXHAUSTED instead of letting the process
// grow; collection is never refused here (its memory is bounded by the ingest queue).

import { errors } from '../domain/errors.ts';

/** What an idle server holds whatever the budget (measured: ~145 MiB resident). */
export const FIXED_COST_BYTES = 160 * 2 ** 20;
/** V8's old space when idle, included in the fixed cost (measured: ~35 MiB). */
const BASE_HEAP_MIB = 40;
/** DuckDB's share of the budget beyond the fixed cost. */
export const DUCKDB_SHARE = 0.5;
/** V8's share of the budget beyond the fixed cost, on top of its base heap. */
export const JS_HEAP_SHARE = 0.35;

/** The budget beyond the fixed cost, in MiB (at least 64, for budgets below the fixed cost). */
function workingMiB(budgetBytes: number): number {
  return Math.max(64, (budgetBytes - FIXED_COST_BYTES) / 2 ** 20);
}

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
  return `${Math.floor(workingMiB(budgetBytes) * DUCKDB_SHARE)}MiB`;
}

/** V8's --max-old-space-size (MiB) for a budget: its base heap plus its share (at least 96 MiB:
 * below that a busy server would die of V8's fatal out-of-memory error rather than refuse work). */
export function heapLimitMiBFor(budgetBytes: number): number {
  return Math.max(96, BASE_HEAP_MIB + Math.floor(workingMiB(budgetBytes) * JS_HEAP_SHARE));
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

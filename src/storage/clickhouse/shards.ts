// Shard-local statements. The Distributed `events` table is sharded by cityHash64(user_pseudo_id)
// (schema.ts), so every event of a device lives on one shard and anything computed per device
// (audience membership, export attributes) is complete on that shard. A statement written over
// `events` (the compiler's audience statements, the snapshot's attribute query) therefore runs on
// every shard at once over that shard's own table, and the shards' results, disjoint by device,
// are merged: the per-user GROUP BYs, sorted arrays and lambdas run where the rows are, and only
// the results travel. On the Distributed table instead, 18.16 would ship every scanned row to the
// query node and build the per-user arrays there.
//
// On a single node the one "shard" is the node itself and the statement runs unchanged.

import { compareDeviceIds } from '../../audience/reference/evaluate.ts';
import { EVENTS } from './schema.ts';

// A read of the events table in compiled text: FROM/JOIN followed by the bare name (not a
// qualified name, not a longer identifier such as events_local).
const EVENTS_READ = new RegExp(`\\b(FROM|JOIN) ${EVENTS}\\b(?![.(])`, 'g');

/**
 * `text` with every read of the `events` table (`FROM events`, `JOIN events`, outside string
 * literals) reading `table` instead. The text is our own compiled SQL, whose string literals are
 * all written by the dialect's escaping function (single quotes, backslash escapes). Throws when
 * the text reads no `events`: a statement of another shape must not run as if it were shard-local.
 */
export function readingTable(text: string, table: string): string {
  if (table === EVENTS) return text;
  let reads = 0;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const q = text.indexOf("'", i);
    const code = q < 0 ? text.slice(i) : text.slice(i, q);
    out += code.replace(EVENTS_READ, (_all, kw: string) => {
      reads++;
      return `${kw} ${table}`;
    });
    if (q < 0) break;
    let j = q + 1;
    while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
    out += text.slice(q, j + 1);
    i = j + 1;
  }
  if (reads === 0) throw new Error(`a shard-local statement must read ${EVENTS}: ${text.slice(0, 200)}`);
  return out;
}

/**
 * Merges lists, each sorted by `key` in byte order (ClickHouse's ORDER BY on String), into one
 * sorted list. The shards' lists are disjoint, so nothing is deduplicated.
 */
export function mergeSortedBy<T>(lists: readonly (readonly T[])[], key: (item: T) => string): T[] {
  let merged: T[][] = lists.filter((l) => l.length > 0).map((l) => [...l]);
  if (merged.length === 0) return [];
  while (merged.length > 1) {
    const next: T[][] = [];
    for (let k = 0; k < merged.length; k += 2)
      next.push(k + 1 < merged.length ? mergeTwo(merged[k]!, merged[k + 1]!, key) : merged[k]!);
    merged = next;
  }
  return merged[0]!;
}

function mergeTwo<T>(a: readonly T[], b: readonly T[], key: (item: T) => string): T[] {
  const out: T[] = new Array<T>(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length)
    out[n++] = compareDeviceIds(key(a[i]!), key(b[j]!)) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[n++] = a[i++]!;
  while (j < b.length) out[n++] = b[j++]!;
  return out;
}

// Synthetic event histories at scale, written straight into a data folder's events.duckdb with one
// DuckDB SQL statement (the columns of EVENT_COLUMNS, src/domain/event.ts), before `audex serve`
// starts on the folder. Deterministic pseudo-random columns from hash(i); timestamps spread over the
// 20 days before `nowMicros` (default: now); rows in ingest_seq order; ~1/8 of the events are purchases, a third of the devices
// have a user id. Used by the export benches (bench/exports.bench.ts,
// bench/export-phases.bench.ts) and the RSS test (test/memory-rss.e2e.test.ts).

import { DuckDbEventStore } from '../../src/storage/duckdb/event-store.ts';

export async function generateEvents(
  dataDir: string,
  events: number,
  devices: number,
  nowMicros: bigint = BigInt(Date.now()) * 1000n,
): Promise<void> {
  if (!Number.isSafeInteger(events) || !Number.isSafeInteger(devices) || devices < 1)
    throw new Error(`events and devices must be integers: ${events}, ${devices}`);
  const store = await DuckDbEventStore.open({ dataDir });
  try {
    const span = 20n * 86_400_000_000n;
    await store.db.writer.run(`INSERT INTO events
SELECT 1::BIGINT, 's1', 'WEB', (i + 1)::BIGINT,
  ['page_view','scroll','click','view_item','add_to_cart','purchase','session_start','user_engagement'][1 + (hash(i * 3) % 8)::INT],
  ts, strftime(make_timestamp(ts), '%Y%m%d'), ts + 100000, 'import',
  ((i % ${devices}) * 7919 % 1000000007)::VARCHAR || '.1700000000',
  CASE WHEN (i % ${devices}) % 3 = 0 THEN 'user-' || (i % ${devices})::VARCHAR END,
  NULL, NULL, '{}', '{}',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  CASE hash(i * 5) % 4 WHEN 0 THEN true WHEN 1 THEN false END,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]',
  NULL, CASE hash(i * 7) % 5 WHEN 0 THEN 'DENIED' WHEN 1 THEN 'GRANTED' END,
  CASE WHEN hash(i * 11) % 50 = 0 THEN true END
FROM (SELECT i, (${nowMicros} - ${span} + (hash(i) % ${span})::BIGINT)::BIGINT AS ts FROM range(${events}) t(i))`);
  } finally {
    await store.close();
  }
}

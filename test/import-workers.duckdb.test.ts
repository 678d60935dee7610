// The NDJSON import with parsing in worker threads (src/storage/duckdb/ndjson-workers.ts) against
// the sequential path (parseNdjson + stageAppend, one thread): the same stored rows, column by
// column, the same ingest order, the same rejected lines and messages; and with a worker thread
// killed halfway through a chunk, still the same rows: nothing acknowledged lost, nothing twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { NdjsonWorkers } from '../src/storage/duckdb/ndjson-workers.ts';
import { parseNdjson, type NdjsonError } from '../src/ingest/import/ndjson.ts';
import { Sessionizer } from '../src/ingest/sessionizer.ts';
import { EVENT_COLUMNS } from '../src/domain/event.ts';

const NOW = 42n;
const BASE = 1_717_200_000_000_000;
const ctx = { propertyId: 1n, streamId: 's', timeZone: 'Europe/Berlin', nowMicros: NOW };

/** BigQuery-shaped rows with the cases both paths must treat alike, and rejected lines among them. */
function upload(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const user = `${1000 + (i % 37)}.${1700000000 + (i % 11)}`;
    const ts = BASE + i * 61_000_000; // ~1 min apart: some users' gaps exceed 30 min
    if (i % 97 === 13)
      lines.push('{"event_name": "broken"'); // invalid JSON
    else if (i % 89 === 7)
      lines.push(JSON.stringify({ event_name: 'x', event_timestamp: String(ts) })); // no user_pseudo_id
    else if (i % 83 === 5)
      lines.push('   '); // blank
    else
      lines.push(
        JSON.stringify({
          event_timestamp: String(ts),
          event_name: i % 5 === 0 ? 'purchase' : 'page_view',
          user_pseudo_id: user,
          ...(i % 4 === 0 ? { user_id: `u${i % 13}` } : {}),
          ...(i % 3 === 0
            ? {
                event_params: [
                  { key: 'ga_session_id', value: { int_value: String(1717200000 + (i % 7)) } },
                  { key: 'page_title', value: { string_value: `Tïtle "${i}" \\ 🎉` } },
                  { key: 'value', value: { double_value: i / 7 } },
                ],
              }
            : {}),
          ...(i % 10 === 0
            ? {
                items: [{ item_id: `sku-${i}`, price: 9.99, quantity: 2 }],
                ecommerce: { purchase_revenue: 19.98 },
              }
            : {}),
          device: {
            category: i % 2 ? 'mobile' : 'desktop',
            is_limited_ad_tracking: i % 6 === 0 ? 'Yes' : 'No',
          },
          geo: { country: 'Germany', city: i % 9 ? 'Berlin' : '' },
          privacy_info: { ads_storage: i % 8 === 0 ? 'No' : null },
        }) + (i % 50 === 0 ? '\r' : ''),
      );
  }
  return `\ufeff${lines.join('\n')}\n`;
}

/** The upload in pieces of awkward sizes, as a socket delivers it (cuts inside UTF-8 sequences). */
async function* pieces(text: string): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = 1 + ((k * 7919) % 9000);
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

const COLUMNS = EVENT_COLUMNS.map(([n]) => n);

async function stored(store: DuckDbEventStore): Promise<Record<string, unknown>[]> {
  return store.db
    .reader()
    .all(`SELECT ${COLUMNS.map((c) => `"${c}"`).join(', ')} FROM events ORDER BY ingest_seq`);
}

interface Outcome {
  rows: Record<string, unknown>[];
  rejected: number;
  errors: NdjsonError[];
  imported: number;
}

async function sequential(dir: string, text: string): Promise<Outcome> {
  const store = await DuckDbEventStore.open({ dataDir: dir, nowMicros: () => NOW });
  try {
    const stage = await store.openStage();
    const errors: NdjsonError[] = [];
    let staged = 0;
    for await (const b of parseNdjson(pieces(text), ctx, { sessionizer: new Sessionizer() })) {
      errors.push(...b.errors);
      if (b.events.length > 0) {
        await store.stageAppend(stage, b.events, staged);
        staged += b.events.length;
      }
    }
    const imported = await store.commitStage(stage, 1n, null, () => '');
    return { rows: await stored(store), rejected: errors.length, errors, imported };
  } finally {
    await store.close();
  }
}

async function parallel(dir: string, text: string, workers: NdjsonWorkers): Promise<Outcome> {
  const store = await DuckDbEventStore.open({ dataDir: dir, nowMicros: () => NOW });
  try {
    const stage = await store.openStage();
    const r = await store.stageNdjson(stage, pieces(text), ctx, {
      sessionizer: new Sessionizer(),
      maxErrors: 1000,
      workers,
      chunkBytes: 64 * 1024, // many chunks in flight at once
    });
    const imported = await store.commitStage(stage, 1n, null, () => '');
    assert.equal(r.staged, imported);
    return { rows: await stored(store), rejected: r.rejected, errors: r.errors, imported };
  } finally {
    await store.close();
  }
}

function assertSame(a: Outcome, b: Outcome): void {
  assert.equal(b.imported, a.imported, 'imported rows');
  assert.equal(b.rejected, a.rejected, 'rejected rows');
  assert.deepEqual(b.errors, a.errors, 'rejected lines and messages');
  assert.equal(b.rows.length, a.rows.length);
  for (let i = 0; i < a.rows.length; i++) assert.deepEqual(b.rows[i], a.rows[i], `row ${i}`);
}

// Rows of a few hundred bytes: 3,000 rows are ~40 chunks of 64 KiB, sessions spread over them.
const N = 3000;

test('worker-thread NDJSON import stores what the sequential path stores', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audex-import-workers-'));
  const workers = new NdjsonWorkers({ size: 2 });
  try {
    const text = upload(N);
    const a = await sequential(join(dir, 'seq'), text);
    assert.ok(
      a.imported > 2500 && a.rejected > 50,
      `fixture: ${a.imported} imported, ${a.rejected} rejected`,
    );
    assert.ok(a.rows.some((r) => r.ga_session_number !== null && Number(r.ga_session_number) > 1));
    const b = await parallel(join(dir, 'par'), text, workers);
    assertSame(a, b);
    assert.equal(workers.deaths, 0);
  } finally {
    await workers.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker thread killed mid-chunk: nothing lost, nothing stored twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audex-import-workers-'));
  // The first workers exit halfway through encoding chunk 3 (process.exit in the thread); the
  // pool gives the chunk to a fresh worker.
  const workers = new NdjsonWorkers({ size: 2, testExitMidChunk: 3 });
  try {
    const text = upload(N);
    const a = await sequential(join(dir, 'seq'), text);
    const b = await parallel(join(dir, 'par'), text, workers);
    assert.ok(workers.deaths >= 1, 'a worker died mid-chunk');
    assertSame(a, b);
    const seqs = new Set(b.rows.map((r) => r.ingest_seq));
    assert.equal(seqs.size, b.rows.length, 'no row stored twice');
  } finally {
    await workers.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a chunk whose workers keep dying fails the import and stages nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audex-import-workers-'));
  const store = await DuckDbEventStore.open({ dataDir: dir, nowMicros: () => NOW });
  // size 1 and every worker armed until the first death... so arm each spawn: three deaths in a row.
  const workers = new NdjsonWorkers({ size: 1, testExitMidChunk: 0, testExitEveryWorker: true });
  try {
    const stage = await store.openStage();
    await assert.rejects(
      store.stageNdjson(stage, pieces(upload(200)), ctx, { maxErrors: 10, workers, chunkBytes: 8 * 1024 }),
      /import worker died 3 times/,
    );
    await store.discardStage(stage);
    assert.equal(await store.countEvents(1n), 0);
  } finally {
    await workers.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Measurement Protocol collection with parsing, validation and encoding in worker threads
// (src/storage/duckdb/mp-workers.ts) against the route's main-thread path (validate, toEvents,
// session context, sessionizer, append): the same stored rows, column by column. And with worker
// threads killed mid-request (the thread exits halfway through encoding a request, or
// worker.terminate() while requests are in hand): every request is redone or refused with a
// retriable error, nothing acknowledged is lost and nothing is stored twice.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { IngestBuffer } from '../src/ingest/buffer.ts';
import { Sessionizer } from '../src/ingest/sessionizer.ts';
import { SessionContext } from '../src/ingest/session-context.ts';
import { validateMeasurementBody } from '../src/ingest/mp/validate.ts';
import { toEvents } from '../src/ingest/mp/to-events.ts';
import { StorageError } from '../src/storage/errors.ts';
import type { MeasurementRequest } from '../src/storage/contract.ts';

const NOW = BigInt(Date.now()) * 1000n;
const query = { measurement_id: 'G-TEST', api_secret: 'secret' };
const stream = { propertyId: 7n, streamId: '3', timeZone: 'Europe/Berlin' };

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'audex-mp-workers-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Bodies with what the validator and the session context act on, some events or requests invalid. */
function body(i: number): Buffer {
  const ts = NOW - BigInt(i) * 60_000_000n;
  const client = `${100 + (i % 9)}.1700000000`;
  const req: Record<string, unknown> = {
    client_id: client,
    ...(i % 3 === 0 ? { user_id: `u-${i % 5}` } : {}),
    timestamp_micros: String(ts),
    ...(i % 4 === 0 ? { consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' } } : {}),
    ...(i % 5 === 0 ? { user_properties: { plan: { value: 'pro' }, seats: { value: i } } } : {}),
    // Requests 0-35 (every session once: sessions repeat every 36 requests) carry a device and
    // location, 36-71 carry none and inherit them from their session, and so on.
    ...(Math.floor(i / 36) % 2 === 0
      ? {
          device: { category: i % 4 === 0 ? 'mobile' : 'desktop', language: 'de', browser: 'Firefox' },
          user_location: { country_id: 'DE', city: 'Berlin', region_id: 'DE-BE' },
        }
      : {}),
    ...(i % 7 === 3 ? { user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' } : {}),
    events: [
      {
        name: i % 6 === 0 ? 'purchase' : 'page_view',
        params: {
          ...(i % 8 === 7 ? {} : { session_id: String(1_700_000_000 + (i % 4)) }),
          engagement_time_msec: 100,
          k: i * 10,
          value: i * 1.25,
          currency: 'EUR',
          transaction_id: `T${i}`,
          page_location: `https://shop.example/p/${i}?q=ü`,
        },
      },
      ...(i % 6 === 0
        ? [
            {
              name: 'add_to_cart',
              params: {
                k: i * 10 + 1,
                items: [{ item_id: `sku-${i}`, price: 9.99, quantity: 2, item_brand: 'x' }],
              },
            },
          ]
        : []),
      ...(i % 10 === 9 ? [{ name: '_reserved', params: {} }] : []), // an invalid event
    ],
  };
  if (i % 13 === 12) return Buffer.from('{"client_id": "x", "events": ['); // unparsable: dropped
  return Buffer.from(JSON.stringify(req));
}

function request(i: number): MeasurementRequest {
  return { body: body(i), query, nowMicros: NOW, ...stream };
}

/** The route's main-thread path (collect-routes.ts `store`), for comparison. */
async function storeOnMainThread(store: DuckDbEventStore, n: number): Promise<void> {
  const ctx = new SessionContext();
  const sz = new Sessionizer();
  for (let i = 0; i < n; i++) {
    const v = validateMeasurementBody(body(i), { query, debug: false, nowMicros: NOW });
    if (v.events.length === 0) continue;
    const events = toEvents(v.events, { ...stream, nowMicros: NOW });
    for (const e of events) e.source = 'mp';
    ctx.apply(events, true);
    sz.assign(events);
    await store.append(events);
  }
}

const rowsOf = async (store: DuckDbEventStore) =>
  (await store.readEvents(stream.propertyId)).map((e) => ({ ...e, ingest_seq: 0n }));

let reference: Awaited<ReturnType<typeof rowsOf>>;
const N = 120;

before(async () => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(), collectWorkers: 0 });
  await storeOnMainThread(store, N);
  reference = await rowsOf(store);
  await store.close();
  assert.ok(reference.length > N, 'the reference path stores the requests');
  const requestOf = (e: (typeof reference)[number]) =>
    Math.floor(Number((e.event_params['k'] as { int_value: bigint }).int_value) / 10);
  assert.ok(
    reference.some(
      (e) =>
        Math.floor(requestOf(e) / 36) % 2 === 1 && e.device_category === 'mobile' && e.geo_city === 'Berlin',
    ),
    'some events inherit their session device and geography',
  );
});

test('the worker path stores exactly what the main-thread path stores, column by column', async () => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(), collectWorkers: 2 });
  try {
    const sessions = { sessionContext: new SessionContext(), sessionizer: new Sessionizer() };
    // One at a time: session context and sessions depend on the order requests are seen in.
    for (let i = 0; i < N; i++) {
      const enc = await store.encodeMeasurement!(request(i), sessions);
      if (enc) await store.appendEncoded([enc]);
    }
    const rows = await rowsOf(store);
    assert.equal(rows.length, reference.length);
    for (let i = 0; i < rows.length; i++) assert.deepEqual(rows[i], reference[i], `row ${i}`);
  } finally {
    await store.close();
  }
});

/**
 * `n` requests at once through encodeMeasurement and the group commit; returns the client ids
 * and transaction ids of the requests acknowledged and of those refused (retriable).
 */
async function collectConcurrently(store: DuckDbEventStore, n: number, whileInFlight?: () => void) {
  const buffer = new IngestBuffer(store);
  const sessions = { sessionContext: new SessionContext(), sessionizer: new Sessionizer() };
  const acked: number[] = [];
  const refused: number[] = [];
  const dropped: number[] = [];
  const all = Array.from({ length: n }, async (_, i) => {
    try {
      const enc = await store.encodeMeasurement!(request(i), sessions);
      if (!enc) return dropped.push(i);
      await buffer.submit(enc);
      acked.push(i);
    } catch (err) {
      assert.ok(err instanceof StorageError && err.kind === 'unavailable', String(err));
      refused.push(i);
    }
  });
  whileInFlight?.();
  await Promise.all(all);
  await buffer.drain();
  return { acked, refused, dropped };
}

/** Asserts the stored rows are exactly the reference rows of the acknowledged requests, once each. */
async function assertStoredExactly(store: DuckDbEventStore, acked: number[]): Promise<void> {
  // Every stored event carries param k = request * 10 + its place in the request.
  const k = (e: { event_params: Record<string, unknown> }) =>
    Number((e.event_params['k'] as { int_value: bigint }).int_value);
  const stored = (await store.readEvents(stream.propertyId)).map(k).sort((a, b) => a - b);
  assert.equal(new Set(stored).size, stored.length, 'no event is stored twice');
  const ackedSet = new Set(acked);
  const expected = reference
    .map(k)
    .filter((v) => ackedSet.has(Math.floor(v / 10)))
    .sort((a, b) => a - b);
  assert.deepEqual(stored, expected, 'exactly the events of the acknowledged requests');
}

test('a worker that dies halfway through a request: its requests are redone, none lost, none twice', async () => {
  const store = await DuckDbEventStore.open({
    dataDir: tempDir(),
    collectWorkers: 2,
    collectWorkersTestExitOnRequest: 17,
  });
  try {
    const { acked, refused, dropped } = await collectConcurrently(store, N);
    assert.ok(store.collectWorkers.deaths >= 1, 'a worker died mid-request');
    assert.deepEqual(refused, [], 'a request redone by another worker is not refused');
    assert.equal(acked.length + dropped.length, N);
    await assertStoredExactly(store, acked);
  } finally {
    await store.close();
  }
});

test('worker.terminate() while requests are in hand: acknowledged ones stored once, the rest retriable', async () => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(), collectWorkers: 2 });
  try {
    // Start the pool, then kill both workers while the next requests are in their hands.
    await collectConcurrently(store, 0);
    const { acked, refused, dropped } = await collectConcurrently(store, N, () => {
      const workers = store.collectWorkers.workers;
      assert.ok(workers.length > 0, 'workers hold requests');
      for (const w of workers) void w.terminate();
    });
    assert.ok(store.collectWorkers.deaths >= 1, 'a worker died with requests in hand');
    assert.equal(acked.length + refused.length + dropped.length, N);
    await assertStoredExactly(store, acked);
  } finally {
    await store.close();
  }
});

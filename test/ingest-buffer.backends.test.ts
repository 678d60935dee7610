// The ingest buffer's group commit (src/ingest/buffer.ts) over every event engine
// (test/helpers/backends.ts): concurrent submissions share appends, each submitter gets its own
// ingest_seqs, a failed append rejects exactly its batch, drain flushes what is queued.
// Run one engine: AUDEX_TEST_BACKENDS=clickhouse npm test -- test/ingest-buffer.backends.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseEvent } from './helpers/event-fixtures.ts';
import { forEachBackend } from './helpers/backends.ts';
import { IngestBuffer } from '../src/ingest/buffer.ts';
import { StorageError } from '../src/storage/errors.ts';
import type { EventStore } from '../src/storage/contract.ts';
import type { NewEvent } from '../src/domain/event.ts';

/** Wraps a store and counts append calls. */
class CountingStore implements Pick<EventStore, 'append'> {
  appends: number[] = [];
  failNext = 0;
  constructor(private readonly inner: EventStore) {}
  async append(events: NewEvent[]): Promise<bigint[]> {
    this.appends.push(events.length);
    if (this.failNext > 0) {
      this.failNext--;
      throw new StorageError('io', 'injected failure');
    }
    return this.inner.append(events);
  }
}

forEachBackend((backend) => {
  test('group commit: concurrent submissions share appends; results map back to submitters', async (t) => {
    const storage = await backend.open();
    t.after(() => storage.close());
    const store = storage.events;
    const counting = new CountingStore(store);
    const buffer = new IngestBuffer(counting);
    const submissions = Array.from({ length: 200 }, (_, s) =>
      Array.from({ length: 25 }, (_, i) => baseEvent({ user_pseudo_id: `u${s}`, event_name: `e${i}` })),
    );
    const results = await Promise.all(submissions.map((evs) => buffer.submit(evs)));
    assert.ok(counting.appends.length < 20, `expected few appends, got ${counting.appends.length}`);
    assert.equal(
      counting.appends.reduce((a, b) => a + b, 0),
      5000,
    );
    // Each submitter gets its own 25 contiguous seqs, and they point at its own events.
    const stored = await store.readEvents(1n);
    const bySeq = new Map(stored.map((e) => [e.ingest_seq, e]));
    results.forEach((seqs, s) => {
      assert.equal(seqs.length, 25);
      seqs.forEach((seq, i) => {
        assert.equal(bySeq.get(seq)?.user_pseudo_id, `u${s}`);
        assert.equal(bySeq.get(seq)?.event_name, `e${i}`);
      });
    });
    await buffer.drain();
    await assert.rejects(
      buffer.submit([baseEvent()]),
      (err: unknown) => err instanceof StorageError && err.kind === 'unavailable',
    );
  });

  test('group commit: a failed append rejects exactly its batch; the buffer keeps working', async (t) => {
    const storage = await backend.open();
    t.after(() => storage.close());
    const store = storage.events;
    const counting = new CountingStore(store);
    const buffer = new IngestBuffer(counting, { maxBatchEvents: 10 });
    counting.failNext = 1;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        buffer.submit([baseEvent({ user_pseudo_id: `u${i}` }), baseEvent({ user_pseudo_id: `u${i}` })]),
      ),
    );
    // maxBatchEvents 10 -> batches of 5 submissions; the first batch failed.
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(counting.appends, [10, 2]);
    assert.equal(await store.countEvents(1n), 2);
    assert.equal((await buffer.submit([baseEvent()])).length, 1);
    assert.equal(await store.countEvents(1n), 3);
    // A real engine failure (NOT NULL) also rejects its whole batch and only it.
    const results = await Promise.allSettled([
      buffer.submit([baseEvent()]),
      buffer.submit([baseEvent({ source: null as unknown as 'mp' })]),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(await store.countEvents(1n), 3);
    await buffer.drain();
  });

  test('drain flushes everything queued before resolving', async (t) => {
    const storage = await backend.open();
    t.after(() => storage.close());
    const store = storage.events;
    const buffer = new IngestBuffer(store, { lingerMs: 50 });
    const pending = Array.from({ length: 10 }, () => buffer.submit([baseEvent()]));
    await buffer.drain();
    assert.equal(await store.countEvents(1n), 10);
    assert.equal((await Promise.all(pending)).length, 10);
  });
});

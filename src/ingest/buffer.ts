// Group commit in front of an EventStore.
//
// Every request that arrives while an append is in flight waits in the queue; when the append
// finishes, one flush takes everything queued (up to maxBatchEvents) and appends it in one
// transaction. Under load this batches naturally without a timer: the batch size grows with the
// arrival rate times the commit time. A submission is never split, so each one is atomic, and
// its promise resolves only after the append that holds it has resolved (i.e. is durable).
// A failed append rejects every submission of that batch and the buffer carries on.
//
// A submission is either event objects or events a store encoded itself (EncodedEvents, e.g.
// the Measurement Protocol rows DuckDB's collection workers encode); a batch that holds any
// encoded submission goes to the store's appendEncoded, in submission order.

import type { NewEvent } from '../domain/event.ts';
import type { EncodedEvents, EventStore } from '../storage/contract.ts';
import { StorageError } from '../storage/errors.ts';

export interface IngestBufferOptions {
  /** Upper bound on events per append (a single larger submission still goes alone). Default 50,000. */
  maxBatchEvents?: number;
  /**
   * Extra wait (ms) before an idle buffer starts a flush, to gather more requests. Default 0:
   * the flush starts on the next event-loop turn (setImmediate), which already gathers every
   * request that arrived in the same I/O phase.
   */
  lingerMs?: number;
  /** Submissions are refused (StorageError 'unavailable', retriable) beyond this many queued events. Default 1,000,000. */
  maxQueuedEvents?: number;
}

type Submission = NewEvent[] | EncodedEvents;

function sizeOf(s: Submission): number {
  return Array.isArray(s) ? s.length : s.encodedRows;
}

interface Pending {
  events: Submission;
  size: number;
  resolve: (seqs: bigint[]) => void;
  reject: (err: unknown) => void;
}

export interface IngestBufferStats {
  appends: number;
  events: number;
  failedAppends: number;
}

export class IngestBuffer {
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly maxQueued: number;
  private queue: Pending[] = [];
  private queuedEvents = 0;
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private closed = false;
  private readonly errorsAfterClose: unknown[] = [];
  readonly stats: IngestBufferStats = { appends: 0, events: 0, failedAppends: 0 };

  constructor(
    private readonly store: Pick<EventStore, 'append' | 'appendEncoded'>,
    options: IngestBufferOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatchEvents ?? 50_000);
    this.lingerMs = Math.max(0, options.lingerMs ?? 0);
    this.maxQueued = Math.max(1, options.maxQueuedEvents ?? 1_000_000);
  }

  /** Events waiting for a flush (not counting the one in flight). */
  get queued(): number {
    return this.queuedEvents;
  }

  /**
   * Resolves with each event's ingest_seq once stored durably; rejects if the batch failed.
   * Encoded events need a store with appendEncoded (the store that encoded them).
   */
  submit(events: Submission): Promise<bigint[]> {
    if (this.closed) return Promise.reject(new StorageError('unavailable', 'ingest buffer is closed'));
    const size = sizeOf(events);
    if (size === 0) return Promise.resolve([]);
    if (this.queuedEvents + size > this.maxQueued && this.queuedEvents > 0) {
      return Promise.reject(new StorageError('unavailable', 'ingest queue is full; retry later'));
    }
    return new Promise<bigint[]>((resolve, reject) => {
      this.queue.push({ events, size, resolve, reject });
      this.queuedEvents += size;
      this.schedule();
    });
  }

  /**
   * Stops accepting submissions, then waits until everything queued is stored. Rejects if any
   * batch flushed after the close failed (those submitters were rejected too), so a shutdown
   * sequence can fail loudly.
   */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) await this.flushing;
      else this.startFlush();
    }
    if (this.errorsAfterClose.length > 0) {
      throw new StorageError(
        'other',
        `ingest buffer drain: ${this.errorsAfterClose.length} batch(es) failed`,
        {
          cause: this.errorsAfterClose[0],
        },
      );
    }
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    const go = (): void => {
      this.scheduled = false;
      if (!this.flushing) this.startFlush();
    };
    if (this.lingerMs > 0) setTimeout(go, this.lingerMs);
    else setImmediate(go);
  }

  private startFlush(): void {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      // Submissions that arrived during the last append (none normally: flushLoop drains them).
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      let n = 0;
      for (const p of batch) n += p.size;
      let seqs: bigint[];
      try {
        seqs = await this.appendBatch(batch);
        if (seqs.length !== n) {
          throw new StorageError('other', `append returned ${seqs.length} ids for ${n} events`);
        }
      } catch (err) {
        this.stats.failedAppends++;
        if (this.closed) this.errorsAfterClose.push(err);
        for (const p of batch) p.reject(err);
        continue;
      }
      this.stats.appends++;
      this.stats.events += n;
      let off = 0;
      for (const p of batch) {
        p.resolve(seqs.slice(off, off + p.size));
        off += p.size;
      }
    }
  }

  private appendBatch(batch: Pending[]): Promise<bigint[]> {
    if (batch.every((p) => Array.isArray(p.events))) {
      const events =
        batch.length === 1 ? (batch[0]!.events as NewEvent[]) : batch.flatMap((p) => p.events as NewEvent[]);
      return this.store.append(events);
    }
    if (!this.store.appendEncoded)
      return Promise.reject(new StorageError('other', 'encoded events for a store without appendEncoded'));
    return this.store.appendEncoded(batch.map((p) => p.events));
  }

  private takeBatch(): Pending[] {
    let n = 0;
    let k = 0;
    while (k < this.queue.length) {
      const size = (this.queue[k] as Pending).size;
      if (k > 0 && n + size > this.maxBatch) break;
      n += size;
      k++;
    }
    const batch = this.queue.splice(0, k);
    this.queuedEvents -= n;
    return batch;
  }
}

// Group commit in front of an EventStore.
//
// Every request that arrives while an append is in flight waits in the queue; when the append
// finishes, one flush takes everything queued (up to maxBatchEvents) and appends it in one
// transaction. Under load this batches naturally without a timer: the batch size grows with the
// arrival rate times the commit time. A submission is never split, so each one is atomic, and
// its promise resolves only after the append that holds it has resolved (i.e. is durable).
// A failed append rejects every submission of that batch and the buffer carries on.

import type { NewEvent } from '../domain/event.ts';
import type { EventStore } from '../storage/contract.ts';
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

interface Pending {
  events: NewEvent[];
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
    private readonly store: Pick<EventStore, 'append'>,
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

  /** Resolves with each event's ingest_seq once stored durably; rejects if the batch failed. */
  submit(events: NewEvent[]): Promise<bigint[]> {
    if (this.closed) return Promise.reject(new StorageError('unavailable', 'ingest buffer is closed'));
    if (events.length === 0) return Promise.resolve([]);
    if (this.queuedEvents + events.length > this.maxQueued && this.queuedEvents > 0) {
      return Promise.reject(new StorageError('unavailable', 'ingest queue is full; retry later'));
    }
    return new Promise<bigint[]>((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.queuedEvents += events.length;
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
      const events = batch.length === 1 ? (batch[0] as Pending).events : batch.flatMap((p) => p.events);
      let seqs: bigint[];
      try {
        seqs = await this.store.append(events);
        if (seqs.length !== events.length) {
          throw new StorageError('other', `append returned ${seqs.length} ids for ${events.length} events`);
        }
      } catch (err) {
        this.stats.failedAppends++;
        if (this.closed) this.errorsAfterClose.push(err);
        for (const p of batch) p.reject(err);
        continue;
      }
      this.stats.appends++;
      this.stats.events += events.length;
      let off = 0;
      for (const p of batch) {
        p.resolve(seqs.slice(off, off + p.events.length));
        off += p.events.length;
      }
    }
  }

  private takeBatch(): Pending[] {
    let n = 0;
    let k = 0;
    while (k < this.queue.length) {
      const size = (this.queue[k] as Pending).events.length;
      if (k > 0 && n + size > this.maxBatch) break;
      n += size;
      k++;
    }
    const batch = this.queue.splice(0, k);
    this.queuedEvents -= n;
    return batch;
  }
}

// NDJSON imports with the parsing spread over worker threads. The main thread cuts the upload
// into chunks of whole lines (ndjson-chunks.ts) and hands them to a small pool of workers
// (ndjson-worker.ts), which decode, parse, convert and encode the rows into the flat hand-over
// format (flat-rows.ts). The one writer then, chunk by chunk in input order, assigns sessions
// (the shared sessionizer) and appends the rows to the import's staging table (staged-import.ts),
// while the workers parse the next chunks.
//
// A worker writes nothing, so a worker that dies (crash, out of memory, terminated) mid-chunk
// loses only its unfinished work: the pool keeps each chunk until its result arrives and gives it
// to a fresh worker (at most three tries in all, then the import fails and its stage is dropped).
// A result is taken once per chunk, so nothing is staged twice; the import is acknowledged only
// after the stage's COMMIT (event-store.ts commitStage), so nothing acknowledged is lost.
// test/import-workers.duckdb.test.ts kills a worker mid-chunk and checks both.
//
// Sessions are assigned per chunk (~4 MiB of rows), where the sequential parser assigns them per
// batch of 10,000 rows: the same rules, batch boundaries at other rows (docs/import.md).

import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { StorageError } from '../errors.ts';
import type { ChunkReply, ChunkRequest } from './ndjson-worker.ts';
import type { FlatRows } from './flat-rows.ts';
import type { NdjsonError } from '../../ingest/import/ndjson.ts';

const MAX_TRIES = 3;

function workerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./ndjson-worker.ts', here);
  // Bundled into dist/ (scripts/build.mjs makes the worker an entry point of its own).
  const i = here.lastIndexOf('/dist/');
  if (i === -1) return new URL('./ndjson-worker.js', here);
  return new URL(`${here.slice(0, i)}/dist/ndjson-worker.js`);
}

export interface ParsedChunk {
  rows: FlatRows;
  errors: NdjsonError[];
}

interface Task {
  req: ChunkRequest;
  tries: number;
  resolve: (r: ParsedChunk) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

export interface NdjsonWorkersOptions {
  /** Worker threads. Default: the machine's cores (at least 1). */
  size?: number;
  /** Test hook: the workers started before the first death exit halfway through chunk `id`. */
  testExitMidChunk?: number;
  /** Test hook: every worker, not only those before the first death, exits on that chunk. */
  testExitEveryWorker?: boolean;
}

export class NdjsonWorkers {
  readonly size: number;
  /** Workers that died with a chunk in hand (for tests and metrics). */
  deaths = 0;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: NdjsonWorkersOptions = {}) {
    this.size = Math.max(1, opts.size ?? availableParallelism());
  }

  /** Parses one chunk of whole lines (bytes) whose first line is `firstLine`. */
  parse(chunk: Omit<ChunkRequest, 'id'>): Promise<ParsedChunk> {
    if (this.closed) return Promise.reject(new StorageError('unavailable', 'import workers are closed'));
    return new Promise<ParsedChunk>((resolve, reject) => {
      this.queue.push({ req: { ...chunk, id: this.nextId++ }, tries: 0, resolve, reject });
      this.pump();
    });
  }

  /** Ends the threads; chunks not yet parsed fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new StorageError('unavailable', 'import workers closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.task === null);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      task.tries++;
      // A worker with a chunk in hand keeps the process alive; an idle one does not.
      slot.worker.ref();
      slot.worker.postMessage(task.req);
    }
  }

  private spawn(): Slot {
    const armed =
      this.opts.testExitMidChunk !== undefined &&
      (this.deaths === 0 || this.opts.testExitEveryWorker === true);
    const url = workerUrl();
    const workerData = armed ? { exitMidChunk: this.opts.testExitMidChunk } : null;
    // From the sources (tests, benches under tsx), the thread registers tsx's loader first.
    const worker = url.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`,
          { eval: true, workerData },
        )
      : new Worker(url, { workerData });
    // Idle workers do not keep the process alive.
    worker.unref();
    const slot: Slot = { worker, task: null };
    this.slots.push(slot);
    worker.on('message', (reply: ChunkReply) => {
      const task = slot.task;
      if (!task || task.req.id !== reply.id) return;
      slot.task = null;
      worker.unref();
      if (reply.ok) task.resolve({ rows: reply.rows, errors: reply.errors });
      else task.reject(new StorageError(reply.constraint ? 'constraint' : 'other', reply.message));
      this.pump();
    });
    const died = (err?: Error) => {
      const i = this.slots.indexOf(slot);
      if (i === -1) return;
      this.slots.splice(i, 1);
      const task = slot.task;
      slot.task = null;
      if (task) {
        this.deaths++;
        if (task.tries >= MAX_TRIES || this.closed)
          task.reject(
            new StorageError('unavailable', `import worker died ${task.tries} times on one chunk`, {
              cause: err,
            }),
          );
        else this.queue.unshift(task);
      }
      if (!this.closed) this.pump();
    };
    worker.on('error', (err) => died(err));
    worker.on('exit', () => died());
    return slot;
  }
}

let shared: NdjsonWorkers | null = null;

/** The process's pool, started at the first NDJSON import. */
export function sharedNdjsonWorkers(): NdjsonWorkers {
  shared ??= new NdjsonWorkers();
  return shared;
}

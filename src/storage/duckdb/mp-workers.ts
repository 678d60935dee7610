// Measurement Protocol collection with the per-request work spread over worker threads. The main
// thread reads the body, authenticates the request and hands the raw body to a worker
// (mp-worker.ts), which parses, validates and encodes the events into the flat hand-over format
// (flat-rows.ts). The main thread then assigns session context and sessions (the process's
// shared, stateful SessionContext and Sessionizer, on the flat rows) and submits the rows to the
// group commit (src/ingest/buffer.ts), whose one writer appends them.
//
// A worker writes nothing, so one that dies (crash, out of memory, terminated) mid-request loses
// only unfinished work: the pool keeps every request it handed out until its result arrives and
// gives it to a fresh worker (at most three tries in all; then the request fails with a retriable
// StorageError 'unavailable', which the route answers with 503 UNAVAILABLE). A result is taken at
// most once per request, so nothing is stored twice; the request is acknowledged only after the
// COMMIT that holds its rows. test/mp-workers.duckdb.test.ts kills workers mid-request and checks
// both.

import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { StorageError } from '../errors.ts';
import type { MpReply, MpRequest } from './mp-worker.ts';
import type { FlatRows } from './flat-rows.ts';

const MAX_TRIES = 3;
/** Requests handed to one worker before it answers: keeps it busy while replies travel. */
const MAX_IN_FLIGHT = 8;

function workerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./mp-worker.ts', here);
  // Bundled into dist/ (scripts/build.mjs makes the worker an entry point of its own).
  const i = here.lastIndexOf('/dist/');
  if (i === -1) return new URL('./mp-worker.js', here);
  return new URL(`${here.slice(0, i)}/dist/mp-worker.js`);
}

interface Task {
  req: MpRequest;
  tries: number;
  resolve: (rows: FlatRows | null) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  tasks: Map<number, Task>;
}

export interface MpWorkersOptions {
  /** Worker threads. Default: the machine's cores less one (the main thread's), at least 1. */
  size?: number;
  /** Test hook: workers started before the first death exit halfway through request `id`. */
  testExitOnRequest?: number;
}

export class MpWorkers {
  readonly size: number;
  /** Workers that died with requests in hand (for tests). */
  deaths = 0;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: MpWorkersOptions = {}) {
    this.size = Math.max(1, opts.size ?? availableParallelism() - 1);
  }

  /**
   * Validates and encodes one request body; resolves with the flat rows of its valid events, or
   * null when production would store none of them (the request is dropped).
   */
  encode(req: Omit<MpRequest, 'id'>): Promise<FlatRows | null> {
    if (this.closed) return Promise.reject(new StorageError('unavailable', 'collection workers are closed'));
    return new Promise<FlatRows | null>((resolve, reject) => {
      this.queue.push({ req: { ...req, id: this.nextId++ }, tries: 0, resolve, reject });
      this.pump();
    });
  }

  /** The live threads (tests terminate one mid-request). */
  get workers(): Worker[] {
    return this.slots.map((s) => s.worker);
  }

  /** Ends the threads; requests not yet encoded fail (retriable). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0))
      t.reject(new StorageError('unavailable', 'collection workers closed'));
    const slots = this.slots.splice(0);
    for (const s of slots)
      for (const t of s.tasks.values())
        t.reject(new StorageError('unavailable', 'collection workers closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      // The least busy worker; a new one while the pool is not full and every worker is busy.
      let slot: Slot | undefined;
      for (const s of this.slots) if (!slot || s.tasks.size < slot.tasks.size) slot = s;
      if ((!slot || slot.tasks.size > 0) && this.slots.length < this.size) slot = this.spawn();
      if (!slot || slot.tasks.size >= MAX_IN_FLIGHT) return;
      const task = this.queue.shift()!;
      slot.tasks.set(task.req.id, task);
      task.tries++;
      // A worker with requests in hand keeps the process alive; an idle one does not.
      if (slot.tasks.size === 1) slot.worker.ref();
      slot.worker.postMessage(task.req);
    }
  }

  private spawn(): Slot {
    const armed = this.opts.testExitOnRequest !== undefined && this.deaths === 0;
    const url = workerUrl();
    const workerData = armed ? { exitOnRequest: this.opts.testExitOnRequest } : null;
    // From the sources (tests, benches under tsx), the thread registers tsx's loader first.
    const worker = url.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`,
          { eval: true, workerData },
        )
      : new Worker(url, { workerData });
    worker.unref();
    const slot: Slot = { worker, tasks: new Map() };
    this.slots.push(slot);
    worker.on('message', (reply: MpReply) => {
      const task = slot.tasks.get(reply.id);
      if (!task) return;
      slot.tasks.delete(reply.id);
      if (slot.tasks.size === 0) worker.unref();
      if (reply.ok) task.resolve(reply.rows);
      else task.reject(new StorageError(reply.constraint ? 'constraint' : 'other', reply.message));
      this.pump();
    });
    const died = (err?: Error) => {
      const i = this.slots.indexOf(slot);
      if (i === -1) return;
      this.slots.splice(i, 1);
      const tasks = [...slot.tasks.values()];
      slot.tasks.clear();
      if (tasks.length > 0) this.deaths++;
      // Back to the front of the queue, in their order: another worker redoes them.
      for (const task of tasks.reverse()) {
        if (task.tries >= MAX_TRIES || this.closed)
          task.reject(
            new StorageError('unavailable', `collection worker died ${task.tries} times on one request`, {
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

// Pre-rendered export rows: the JSON text of a snapshot's AudienceRow objects, rendered once into a
// file, so that a :query page is one byte range read from disk and sent as it is.
//
// Why: a snapshot is immutable and an export's dimensions are fixed, yet rendering a 250,000-row
// page in DuckDB (string_agg(json_object(...))) and copying the ~17-28 MB string into JS cost
// 1.5-2 s per page (112k-174k rows/s). Rendering the whole snapshot once costs about as much as
// one or two such pages; every page after that is a pread of a byte range (cost independent of
// the offset) that the REST transport writes to the socket without ever making it a JS string:
// ~15-35 ms of server CPU per 250,000-row page (bench/exports.bench.ts).
//
// Files, in `<data>/export-rows/` (next to events.duckdb), per snapshot and dimension list:
// - `<snapshotId>.<dim>-<dim>….rows`: the rows as JSON text, each followed by ','
//   (`{"dimensionValues":[{"value":"…"},…]},{…},`), so the bytes of rows [a, b) are exactly
//   `rows[off[a], off[b] - 1)` and a page is `[` + those bytes + `]`.
// - `<snapshotId>.<dim>-<dim>….idx`: an 8-byte magic `AXROWS01`, the row count n (float64 LE),
//   then n + 1 float64 LE byte offsets (off[i] = start of row i, off[n] = size of the .rows file).
//   float64 holds every integer offset below 2^53 exactly.
//
// How a file is made: the producer (DuckDB) writes `rn \x01 json \n` lines to a temporary CSV in
// the snapshot's physical order (no ORDER BY: sorting the rendered text cost more than rendering
// it). JSON text never holds a raw control character (strings escape them), so \x01 and \n
// cannot occur inside a row. One streaming JS pass then checks that rn runs 0, 1, 2, … (the
// snapshot table is written in rn order; if it ever is not, the producer runs again with ORDER BY
// rn), strips rn, turns each newline into ',' and records the offsets. Both files are written to
// temporary names and renamed, .rows first and .idx last, so the .idx is the commit mark: a crash
// leaves at most temporary files (removed by drop()), never a half file under the final names.
// Nothing is fsynced (a lost file is only a re-render): files found at start are reused after
// checks (magic, sizes, last offset = .rows size, and the row count the caller expects).
//
// Rendering is lazy (first JSON query of a snapshot, or right after the export turns ACTIVE),
// memoized per snapshot and dimension list so that concurrent first queries render once. Queries
// that arrive while it runs are served from SQL rather than made to wait (page(…, wait = false)).
// A failed render is remembered for RETRY_MS, during which page() answers null at once and the
// caller serves from SQL instead.
//
// Page memory comes from a small pool (PagePool below) and goes back once the transport has
// written it: on the bench VM, touching a fresh 28 MB buffer (page faults) cost ten times the read.

import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const MAGIC = Buffer.from('AXROWS01', 'latin1');
const HEADER = 16;
const CHUNK = 8 << 20;
const OFFSETS_PER_WRITE = 1 << 16;
const RETRY_MS = 60_000;
const SEP = 0x01;
const NL = 0x0a;
const COMMA = 0x2c;

/**
 * Writes the snapshot's rows to csvPath as `rn \x01 json \n` lines (rn = row number, json = the
 * row's AudienceRow text, without any raw newline or \x01), in rn order when `ordered`, otherwise
 * in whatever order is cheapest (normally rn order as well).
 */
export type RowsProducer = (csvPath: string, ordered: boolean) => Promise<void>;

export interface RenderedRowsOptions {
  /** The folder of the files; created when first needed. */
  dir: string;
  /** Told about a render that failed (the caller then serves from SQL). */
  onError?: (err: unknown, snapshotId: string) => void;
}

interface Rendered {
  rowsPath: string;
  idxPath: string;
  rows: number;
}

interface Entry {
  snapshotId: string;
  promise: Promise<Rendered>;
  /** Set once the render (or the check of files found on disk) has finished. */
  ready?: boolean;
  failedAt?: number;
}

function checkId(snapshotId: string): void {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(snapshotId)) throw new Error(`invalid snapshot id ${snapshotId}`);
}

function baseName(snapshotId: string, dimensions: readonly string[]): string {
  checkId(snapshotId);
  if (dimensions.length === 0 || dimensions.some((d) => !/^[A-Za-z]{1,64}$/.test(d)))
    throw new Error(`invalid dimensions ${JSON.stringify(dimensions)}`);
  return `${snapshotId}.${dimensions.join('-')}`;
}

/** Reads exactly buf.length bytes at position, or throws (a truncated file). */
async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new Error('rendered rows file is shorter than its index says');
    done += bytesRead;
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, length: number, position?: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(
      buf,
      done,
      length - done,
      position === undefined ? null : position + done,
    );
    done += bytesWritten;
  }
}

/** Outcome of converting a producer CSV: the row count, or 'unordered' when rn did not run 0, 1, 2, …. */
type Converted = { rows: number } | 'unordered';

/**
 * The streaming pass: `rn \x01 json \n` lines of csvPath become `json,` in rowsPath and their
 * offsets in idxPath. Stops early (and returns 'unordered') at the first rn out of sequence.
 */
export async function convertCsv(csvPath: string, rowsPath: string, idxPath: string): Promise<Converted> {
  const input = await open(csvPath, 'r');
  const rowsOut = await open(rowsPath, 'w');
  const idxOut = await open(idxPath, 'w');
  try {
    let inBuf = Buffer.allocUnsafe(CHUNK);
    let outBuf = Buffer.allocUnsafe(CHUNK);
    const offBuf = Buffer.allocUnsafe(OFFSETS_PER_WRITE * 8);
    let offCount = 0;
    let idxPos = HEADER;
    const flushOffsets = async () => {
      await writeFully(idxOut, offBuf, offCount * 8, idxPos);
      idxPos += offCount * 8;
      offCount = 0;
    };
    let filled = 0; // bytes of inBuf holding unprocessed input
    let inPos = 0; // file position of the next read
    let outTotal = 0; // bytes written to rowsPath so far
    let row = 0;
    let eof = false;
    while (!eof) {
      if (filled === inBuf.length) {
        // One line longer than the buffer: grow it (a pathological value; keeps working).
        const bigger = Buffer.allocUnsafe(inBuf.length * 2);
        inBuf.copy(bigger, 0, 0, filled);
        inBuf = bigger;
        outBuf = Buffer.allocUnsafe(inBuf.length);
      }
      const { bytesRead } = await input.read(inBuf, filled, inBuf.length - filled, inPos);
      inPos += bytesRead;
      filled += bytesRead;
      if (bytesRead === 0) eof = true;
      let p = 0;
      let out = 0;
      for (;;) {
        // rn: decimal digits up to \x01.
        let q = p;
        let rn = 0;
        let b = 0;
        while (q < filled && (b = inBuf[q]!) >= 0x30 && b <= 0x39) {
          rn = rn * 10 + (b - 0x30);
          q++;
        }
        if (q >= filled) break; // incomplete line: read more
        if (b !== SEP || q === p) throw new Error(`unexpected producer output at row ${row}`);
        const nl = inBuf.indexOf(NL, q + 1);
        if (nl < 0 || nl >= filled) break;
        if (rn !== row) return 'unordered';
        if (inBuf[q + 1] !== 0x7b || inBuf[nl - 1] !== 0x7d)
          throw new Error(`row ${row} is not a JSON object`);
        offBuf.writeDoubleLE(outTotal + out, offCount * 8);
        if (++offCount === OFFSETS_PER_WRITE) await flushOffsets();
        out += inBuf.copy(outBuf, out, q + 1, nl);
        outBuf[out++] = COMMA;
        row++;
        p = nl + 1;
      }
      if (eof && p < filled) throw new Error('producer output ends inside a line');
      await writeFully(rowsOut, outBuf, out);
      outTotal += out;
      inBuf.copy(inBuf, 0, p, filled);
      filled -= p;
    }
    offBuf.writeDoubleLE(outTotal, offCount * 8);
    offCount++;
    await flushOffsets();
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeDoubleLE(row, 8);
    await writeFully(idxOut, header, HEADER, 0);
    return { rows: row };
  } finally {
    await Promise.allSettled([input.close(), rowsOut.close(), idxOut.close()]);
  }
}

/** Checks a finished pair of files; returns its row count or null when it is not usable. */
async function validate(rowsPath: string, idxPath: string): Promise<number | null> {
  let idx: FileHandle | null = null;
  try {
    const [rs, is] = await Promise.all([stat(rowsPath), stat(idxPath)]);
    if (is.size < HEADER + 8) return null;
    idx = await open(idxPath, 'r');
    const header = Buffer.allocUnsafe(HEADER);
    await readFully(idx, header, 0);
    if (!header.subarray(0, 8).equals(MAGIC)) return null;
    const rows = header.readDoubleLE(8);
    if (!Number.isInteger(rows) || rows < 0 || is.size !== HEADER + 8 * (rows + 1)) return null;
    const last = Buffer.allocUnsafe(8);
    await readFully(idx, last, HEADER + 8 * rows);
    return last.readDoubleLE(0) === rs.size ? rows : null;
  } catch {
    return null;
  } finally {
    await idx?.close();
  }
}

export class RenderedRows {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;

  constructor(private readonly opts: RenderedRowsOptions) {}

  get dir(): string {
    return this.opts.dir;
  }

  /**
   * Rows [offset, offset+limit) as the bytes of a JSON array (`[{…},{…}]`), rendering the
   * snapshot's file first when needed; null when the file cannot be made (serve from SQL then).
   * `expectedRows` gives the snapshot's row count, checked once per process before a file found
   * on disk is trusted. With `wait` false, a page asked for while the file is still being made
   * answers null at once (the caller serves it from SQL) and the render goes on in the background:
   * the first pages of a big export do not wait seconds for its file.
   */
  async page(
    snapshotId: string,
    dimensions: readonly string[],
    offset: number,
    limit: number,
    produce: RowsProducer,
    expectedRows: () => Promise<number>,
    wait = true,
  ): Promise<Buffer | null> {
    const base = baseName(snapshotId, dimensions);
    let entry = this.entries.get(base);
    if (entry?.failedAt !== undefined && Date.now() - entry.failedAt >= RETRY_MS) {
      this.entries.delete(base);
      entry = undefined;
    }
    if (!entry) {
      const e: Entry = { snapshotId, promise: this.prepare(base, produce, expectedRows) };
      e.promise.then(
        () => (e.ready = true),
        (err: unknown) => {
          e.failedAt = Date.now();
          this.opts.onError?.(err, snapshotId);
        },
      );
      this.entries.set(base, e);
      entry = e;
    }
    if (entry.failedAt !== undefined || (!wait && !entry.ready)) return null;
    let rendered: Rendered;
    try {
      rendered = await entry.promise;
    } catch {
      return null; // remembered as failed above
    }
    try {
      return await readPage(rendered, offset, limit);
    } catch {
      // The files went away under us (a drop() racing this page, or removed by hand): forget
      // them so that the next page renders again; this one is served from SQL.
      if (this.entries.get(base) === entry) this.entries.delete(base);
      return null;
    }
  }

  /**
   * Gives a page's memory back for reuse, once nothing reads it any more (the transport wrote
   * it). Optional: a page never released is garbage-collected as usual.
   */
  release(page: Buffer): void {
    pool.give(page);
  }

  /** Removes every file of the snapshot (after any render of it in flight has settled). */
  async drop(snapshotId: string): Promise<void> {
    checkId(snapshotId);
    const mine = [...this.entries].filter(([, e]) => e.snapshotId === snapshotId);
    await Promise.allSettled(mine.map(([, e]) => e.promise));
    for (const [base, e] of mine) if (this.entries.get(base) === e) this.entries.delete(base);
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch {
      return; // no folder, no files
    }
    await Promise.all(
      names
        .filter((n) => n.startsWith(`${snapshotId}.`))
        .map((n) => rm(join(this.opts.dir, n), { force: true })),
    );
  }

  /** Snapshot ids that have files (finished or temporary) in the folder. */
  async snapshotIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch {
      return [];
    }
    const ids = new Set<string>();
    for (const n of names) {
      const m = /^([A-Za-z0-9_]{1,64})\./.exec(n);
      if (m) ids.add(m[1]!);
    }
    return [...ids];
  }

  private async prepare(
    base: string,
    produce: RowsProducer,
    expectedRows: () => Promise<number>,
  ): Promise<Rendered> {
    const rowsPath = join(this.opts.dir, `${base}.rows`);
    const idxPath = join(this.opts.dir, `${base}.idx`);
    const existing = await validate(rowsPath, idxPath);
    if (existing !== null && existing === (await expectedRows()))
      return { rowsPath, idxPath, rows: existing };
    await mkdir(this.opts.dir, { recursive: true });
    const tmp = join(this.opts.dir, `${base}.tmp-${process.pid}-${++this.seq}`);
    const csv = `${tmp}.csv`;
    const rowsTmp = `${tmp}.rows`;
    const idxTmp = `${tmp}.idx`;
    try {
      let converted: Converted = 'unordered';
      for (const ordered of [false, true]) {
        await rm(csv, { force: true });
        await produce(csv, ordered);
        converted = await convertCsv(csv, rowsTmp, idxTmp);
        if (converted !== 'unordered') break;
      }
      if (converted === 'unordered') throw new Error('producer rows are not in rn order');
      await rename(rowsTmp, rowsPath);
      await rename(idxTmp, idxPath);
      return { rowsPath, idxPath, rows: converted.rows };
    } finally {
      await Promise.all([csv, rowsTmp, idxTmp].map((p) => rm(p, { force: true })));
    }
  }
}

/** One page: two 8-byte index reads and one read of the byte range, inside `[` … `]`. */
/**
 * Reusable page buffers. Touching fresh memory costs more than the read itself (a new 28 MB Buffer
 * is ~7,000 page faults: 150 ms on the 2-core bench VM against 5-20 ms for the pread into memory
 * already mapped), so a page's memory goes back here once the transport has written it
 * (RenderedRows.release). At most MAX_IDLE buffers of at most MAX_POOLED bytes wait, and only for
 * IDLE_MS; a page never released (an aborted response) is simply garbage-collected.
 */
const MAX_IDLE = 2;
const MAX_POOLED = 128 << 20;
const IDLE_MS = 30_000;
const STEP = 4 << 20;

class PagePool {
  private idle: ArrayBuffer[] = [];
  private readonly mine = new WeakSet<ArrayBuffer>();
  private timer: NodeJS.Timeout | null = null;

  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.idle.length; i++)
      if (
        this.idle[i]!.byteLength >= size &&
        (best < 0 || this.idle[i]!.byteLength < this.idle[best]!.byteLength)
      )
        best = i;
    if (best >= 0) return Buffer.from(this.idle.splice(best, 1)[0]!, 0, size);
    if (size > MAX_POOLED) return Buffer.allocUnsafeSlow(size);
    const slab = Buffer.allocUnsafeSlow(Math.ceil(size / STEP) * STEP);
    this.mine.add(slab.buffer);
    return slab.subarray(0, size);
  }

  give(page: Buffer): void {
    const slab = page.buffer as ArrayBuffer;
    if (!this.mine.has(slab) || this.idle.includes(slab)) return;
    if (this.idle.length >= MAX_IDLE) this.idle.shift();
    this.idle.push(slab);
    this.timer?.refresh();
    this.timer ??= setTimeout(() => {
      this.idle = [];
      this.timer = null;
    }, IDLE_MS).unref();
  }
}

const pool = new PagePool();

async function readPage(r: Rendered, offset: number, limit: number): Promise<Buffer> {
  const a = Math.min(Math.max(0, offset), r.rows);
  const b = Math.min(r.rows, a + Math.max(0, limit));
  if (b <= a) return Buffer.from('[]');
  const idx = await open(r.idxPath, 'r');
  let start: number;
  let end: number;
  try {
    const e = Buffer.allocUnsafe(8);
    await readFully(idx, e, HEADER + 8 * a);
    start = e.readDoubleLE(0);
    await readFully(idx, e, HEADER + 8 * b);
    end = e.readDoubleLE(0) - 1; // without the ',' after the last row
  } finally {
    await idx.close();
  }
  const out = pool.take(end - start + 2);
  out[0] = 0x5b; // [
  out[out.length - 1] = 0x5d; // ]
  const rows = await open(r.rowsPath, 'r');
  try {
    await readFully(rows, out.subarray(1, out.length - 1), start);
  } catch (err) {
    pool.give(out);
    throw err;
  } finally {
    await rows.close();
  }
  return out;
}

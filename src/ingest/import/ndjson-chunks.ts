// Cuts an NDJSON upload into chunks of whole lines, as bytes, for parsing in worker threads
// (src/storage/duckdb/ndjson-workers.ts): the main thread only looks for newlines; decoding,
// JSON.parse and the row conversion happen in the workers, which run parseNdjson on each chunk
// with its first line number, so line numbers, messages and blank-line handling are the
// sequential parser's.
//
// Memory stays bounded as in parseNdjson: a line that grows past maxLineBytes without a newline is
// reported as too long and skipped up to its newline, never buffered. maxLineBytes is 3x the
// parser's limit in characters (a UTF-16 unit is at most 3 UTF-8 bytes), so every line cut here
// is one the parser would also call too long; shorter too-long lines are caught by the parser.

export type NdjsonChunk =
  { kind: 'lines'; bytes: Buffer; firstLine: number } | { kind: 'too-long'; line: number };

export interface ChunkOptions {
  /** Target chunk size in bytes (a chunk ends at the first newline past it). Default 1 MiB. */
  chunkBytes?: number;
  /** The parser's line limit in characters (parseNdjson's maxLineLength). Default 8 Mi. */
  maxLineLength?: number;
}

function countNewlines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

export async function* ndjsonChunks(
  input: AsyncIterable<Buffer | string>,
  options: ChunkOptions = {},
): AsyncGenerator<NdjsonChunk, void, undefined> {
  const chunkBytes = Math.max(1, options.chunkBytes ?? 1 << 20);
  const maxLineBytes = 3 * (options.maxLineLength ?? 8 * 1024 * 1024);
  let parts: Buffer[] = [];
  let size = 0;
  /** Line number of the first line in `parts`. */
  let line = 1;
  /** Bytes of `parts` after its last newline (the line being read). */
  let tail = 0;
  let skipping = false;

  for await (const c of input) {
    let buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    if (skipping) {
      const nl = buf.indexOf(10);
      if (nl === -1) continue;
      buf = buf.subarray(nl + 1);
      skipping = false;
      line++;
    }
    if (buf.length === 0) continue;
    parts.push(buf);
    size += buf.length;
    const lastNl = buf.lastIndexOf(10);
    tail = lastNl === -1 ? tail + buf.length : buf.length - lastNl - 1;
    if (tail > maxLineBytes) {
      // The line being read is too long: hand over the lines before it, report it, skip the rest.
      const all = Buffer.concat(parts, size);
      const head = all.subarray(0, all.length - tail);
      if (head.length > 0) {
        yield { kind: 'lines', bytes: head, firstLine: line };
        line += countNewlines(head);
      }
      yield { kind: 'too-long', line };
      parts = [];
      size = 0;
      tail = 0;
      skipping = true;
      continue;
    }
    if (size - tail >= chunkBytes) {
      const all = Buffer.concat(parts, size);
      const head = all.subarray(0, all.length - tail);
      yield { kind: 'lines', bytes: head, firstLine: line };
      line += countNewlines(head);
      parts = tail > 0 ? [all.subarray(all.length - tail)] : [];
      size = tail;
    }
  }
  if (size > 0 && !skipping) yield { kind: 'lines', bytes: Buffer.concat(parts, size), firstLine: line };
}

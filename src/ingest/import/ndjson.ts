// Streaming NDJSON reader for BigQuery export files: bounded memory (one batch plus one line),
// bad lines reported by 1-based line number while valid rows are kept.

import { StringDecoder } from 'node:string_decoder';
import type { NewEvent } from '../../domain/event.ts';
import type { Sessionizer } from '../sessionizer.ts';
import { bigQueryRowToEvent, type ImportContext } from './bigquery-row.ts';

export interface NdjsonError {
  /** 1-based line number in the input. */
  line: number;
  message: string;
}

export interface NdjsonBatch {
  events: NewEvent[];
  errors: NdjsonError[];
}

export interface NdjsonOptions {
  /** Rows (events + errors) per yielded batch. Default 10,000. */
  batchSize?: number;
  /** Longer lines (in UTF-16 code units) are reported and skipped without being buffered. Default 8 MiB. */
  maxLineLength?: number;
  /** When given, events without ga_session_id are sessionised batch by batch (see sessionizer.ts). */
  sessionizer?: Sessionizer;
  /** Line number of the input's first line (a chunk of a larger file, ndjson-chunks.ts). Default 1. */
  firstLine?: number;
}

/**
 * Reads NDJSON rows from a stream (a Node Readable or any async iterable of Buffers/strings) and
 * yields converted events in batches. Blank lines are skipped; a UTF-8 BOM and `\r\n` endings
 * are accepted. The next chunk is only read once the consumer asks for the next batch.
 */
export async function* parseNdjson(
  input: AsyncIterable<Buffer | string>,
  ctx: ImportContext,
  options: NdjsonOptions = {},
): AsyncGenerator<NdjsonBatch, void, undefined> {
  const batchSize = Math.max(1, options.batchSize ?? 10_000);
  const maxLine = options.maxLineLength ?? 8 * 1024 * 1024;
  const decoder = new StringDecoder('utf8');
  let events: NewEvent[] = [];
  let errors: NdjsonError[] = [];
  let carry = '';
  let lineNo = (options.firstLine ?? 1) - 1;
  let skipping = false;

  const take = (): NdjsonBatch => {
    const batch = { events, errors };
    if (options.sessionizer && events.length > 0) options.sessionizer.assign(events);
    events = [];
    errors = [];
    return batch;
  };

  const handle = (raw: string, line: number): void => {
    let text = raw;
    if (text.length > 0 && text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) return;
    const first = text.charCodeAt(0);
    if ((first === 32 || first === 9) && text.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (err) {
      errors.push({ line, message: `invalid JSON: ${(err as Error).message}` });
      return;
    }
    const r = bigQueryRowToEvent(row, ctx);
    if ('event' in r) events.push(r.event);
    else errors.push({ line, message: r.error });
  };

  const tooLong = (line: number): void => {
    errors.push({ line, message: `line is longer than ${maxLine} characters; skipped` });
  };

  const consume = function* (text: string): Generator<NdjsonBatch> {
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      lineNo++;
      if (skipping) skipping = false;
      else if (carry.length > 0) {
        const line = carry + text.slice(start, nl);
        carry = '';
        if (line.length > maxLine) tooLong(lineNo);
        else handle(line, lineNo);
      } else if (nl - start > maxLine) tooLong(lineNo);
      else handle(text.slice(start, nl), lineNo);
      if (events.length + errors.length >= batchSize) yield take();
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (!skipping && start < text.length) {
      carry += text.slice(start);
      if (carry.length > maxLine) {
        tooLong(lineNo + 1);
        carry = '';
        skipping = true;
      }
    }
  };

  for await (const chunk of input) {
    yield* consume(typeof chunk === 'string' ? chunk : decoder.write(chunk));
  }
  yield* consume(decoder.end());
  if (!skipping && carry.length > 0) {
    lineNo++;
    handle(carry, lineNo);
    carry = '';
  }
  if (events.length + errors.length > 0) yield take();
}

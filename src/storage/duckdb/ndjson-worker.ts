// Worker thread of the NDJSON import (ndjson-workers.ts): decodes one chunk of whole lines,
// parses and converts each row (parseNdjson: the sequential path's own code and messages) and
// encodes the events in the flat hand-over format (flat-rows.ts). It writes nothing: the one
// writer appends what it hands back, so a worker that dies loses only its own unfinished work,
// which the pool gives to another worker.

import { parentPort, workerData } from 'node:worker_threads';
import { parseNdjson, type NdjsonError } from '../../ingest/import/ndjson.ts';
import type { ImportContext } from '../../ingest/import/bigquery-row.ts';
import type { NewEvent } from '../../domain/event.ts';
import { FlatRowsWriter, transferList } from './flat-rows.ts';

export interface ChunkRequest {
  id: number;
  bytes: Uint8Array;
  firstLine: number;
  ctx: ImportContext;
  maxLineLength: number;
}

export type ChunkReply =
  | {
      id: number;
      ok: true;
      rows: import('./flat-rows.ts').FlatRows;
      errors: NdjsonError[];
    }
  | { id: number; ok: false; message: string; constraint: boolean };

/** Test hook (workerData.exitMidChunk): the thread exits halfway through encoding this chunk id. */
const exitMidChunk = (workerData as { exitMidChunk?: number } | null)?.exitMidChunk;

async function handle(req: ChunkRequest): Promise<void> {
  const events: NewEvent[] = [];
  const errors: NdjsonError[] = [];
  const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
  const input = (async function* () {
    yield bytes;
  })();
  for await (const batch of parseNdjson(input, req.ctx, {
    batchSize: Number.MAX_SAFE_INTEGER,
    firstLine: req.firstLine,
    maxLineLength: req.maxLineLength,
  })) {
    for (const e of batch.events) events.push(e);
    for (const e of batch.errors) errors.push(e);
  }
  const w = new FlatRowsWriter(events.length);
  try {
    for (let i = 0; i < events.length; i++) {
      if (req.id === exitMidChunk && i === events.length >> 1) process.exit(70);
      w.push(events[i]!);
    }
  } catch (err) {
    const e = err as Error & { kind?: string };
    const reply: ChunkReply = {
      id: req.id,
      ok: false,
      message: e.message,
      constraint: e.kind === 'constraint',
    };
    parentPort!.postMessage(reply);
    return;
  }
  const rows = w.finish();
  const reply: ChunkReply = { id: req.id, ok: true, rows, errors };
  parentPort!.postMessage(reply, transferList(rows));
}

parentPort!.on('message', (req: ChunkRequest) => {
  handle(req).catch((err: unknown) => {
    const reply: ChunkReply = { id: req.id, ok: false, message: String(err), constraint: false };
    parentPort!.postMessage(reply);
  });
});

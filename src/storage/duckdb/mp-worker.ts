// Worker thread of Measurement Protocol collection (mp-workers.ts): parses and validates one
// request body (validateMeasurementBody, the same code and rules as the main thread's), turns the
// valid events into storable events (toEvents) and encodes them in the flat hand-over format
// (flat-rows.ts). It writes nothing and keeps no state between requests: the one writer appends
// what it hands back, so a worker that dies loses only the request in hand, which the pool gives
// to another worker.

import { parentPort, workerData } from 'node:worker_threads';
import { validateMeasurementBody, type MeasurementContext } from '../../ingest/mp/validate.ts';
import { toEvents } from '../../ingest/mp/to-events.ts';
import { FlatRowsWriter, transferList, type FlatRows } from './flat-rows.ts';

export interface MpRequest {
  id: number;
  body: Uint8Array;
  query: MeasurementContext['query'];
  nowMicros: bigint;
  propertyId: bigint;
  streamId: string;
  timeZone: string;
}

export type MpReply =
  | { id: number; ok: true; rows: FlatRows | null }
  | { id: number; ok: false; message: string; constraint: boolean };

/** Test hook (workerData.exitOnRequest): the thread exits halfway through encoding this request id. */
const exitOnRequest = (workerData as { exitOnRequest?: number } | null)?.exitOnRequest;

function handle(req: MpRequest): MpReply {
  const body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
  const result = validateMeasurementBody(body, { query: req.query, debug: false, nowMicros: req.nowMicros });
  if (result.events.length === 0) return { id: req.id, ok: true, rows: null };
  const events = toEvents(result.events, {
    propertyId: req.propertyId,
    streamId: req.streamId,
    timeZone: req.timeZone,
    nowMicros: req.nowMicros,
  });
  const w = new FlatRowsWriter(events.length);
  for (let i = 0; i < events.length; i++) {
    if (req.id === exitOnRequest && i === events.length >> 1) process.exit(70);
    const e = events[i]!;
    e.source = 'mp';
    w.push(e);
  }
  return { id: req.id, ok: true, rows: w.finish() };
}

parentPort!.on('message', (req: MpRequest) => {
  let reply: MpReply;
  try {
    reply = handle(req);
  } catch (err) {
    const e = err as Error & { kind?: string };
    reply = { id: req.id, ok: false, message: String(e.message ?? e), constraint: e.kind === 'constraint' };
  }
  if (reply.ok && reply.rows) parentPort!.postMessage(reply, transferList(reply.rows));
  else parentPort!.postMessage(reply);
});

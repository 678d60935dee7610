// Throughput of the BigQuery-NDJSON import path (parse + convert), in rows/s.
// Run: npx tsx bench/import-parse.bench.ts [rows]
import { Readable } from 'node:stream';
import { parseNdjson } from '../src/ingest/import/ndjson.ts';
import { base, row } from './bigquery-rows.ts';

const rows = Number(process.argv[2] ?? 300_000);
// Pre-build the input in 64 KiB chunks so generation is not measured (and no big string stays on
// the JS heap to slow down the garbage collector).
function build(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < rows; i++) parts.push(Buffer.from(row(i) + '\n'));
  return Buffer.concat(parts);
}
const buf = build();
const chunks: Buffer[] = [];
for (let o = 0; o < buf.length; o += 65_536) chunks.push(buf.subarray(o, o + 65_536));

const ctx = { propertyId: 1n, streamId: '1', timeZone: 'UTC', nowMicros: BigInt(base) };

async function pipeline(): Promise<number> {
  const t0 = process.hrtime.bigint();
  let events = 0;
  let errors = 0;
  for await (const batch of parseNdjson(Readable.from(chunks), ctx)) {
    events += batch.events.length;
    errors += batch.errors.length;
  }
  if (events !== rows || errors !== 0) throw new Error(`unexpected: ${events} events, ${errors} errors`);
  return rows / (Number(process.hrtime.bigint() - t0) / 1e9);
}

// Baseline: JSON.parse alone over the same lines (the floor for any JSON-based importer).
function baseline(): number {
  const t0 = process.hrtime.bigint();
  const text = buf.toString('utf8');
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    JSON.parse(text.slice(start, nl));
    start = nl + 1;
  }
  return rows / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
console.log(
  `${fmt(rows)} rows, ${(buf.length / 1e6).toFixed(1)} MB (${Math.round(buf.length / rows)} bytes/row)`,
);
for (let run = 1; run <= 3; run++) {
  const full = await pipeline();
  const floor = baseline();
  console.log(
    `run ${run}: parse+convert ${fmt(full)} rows/s (${((full * buf.length) / rows / 1e6).toFixed(0)} MB/s); ` +
      `JSON.parse alone ${fmt(floor)} rows/s; pipeline = ${((100 * full) / floor).toFixed(0)}% of the JSON.parse floor`,
  );
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseNdjson, type NdjsonBatch } from './ndjson.ts';
import { Sessionizer } from '../sessionizer.ts';
import type { ImportContext } from './bigquery-row.ts';

const CTX: ImportContext = { propertyId: 1n, streamId: 's', timeZone: 'UTC', nowMicros: 0n };

function row(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_timestamp: String(1717200000000000 + i),
    event_name: 'e',
    user_pseudo_id: `u${i % 3}`,
    ...over,
  });
}

async function collect(
  input: Readable,
  opts: Parameters<typeof parseNdjson>[2] = {},
): Promise<NdjsonBatch[]> {
  const out: NdjsonBatch[] = [];
  for await (const b of parseNdjson(input, CTX, opts)) out.push(b);
  return out;
}

/** Splits text into Buffers of `size` bytes (cutting through lines and multibyte characters). */
function chunked(text: string, size: number): Readable {
  const buf = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let o = 0; o < buf.length; o += size) parts.push(buf.subarray(o, o + size));
  return Readable.from(parts);
}

describe('parseNdjson', () => {
  it('keeps valid rows and reports bad lines by line number', async () => {
    const text = [row(1), '{not json', row(2), '', '   ', row(3, { event_name: true }), '[1,2]', row(4)].join(
      '\n',
    );
    const batches = await collect(chunked(text, 7));
    const events = batches.flatMap((b) => b.events);
    const errors = batches.flatMap((b) => b.errors);
    assert.deepEqual(
      events.map((e) => e.event_timestamp),
      [1717200000000001n, 1717200000000002n, 1717200000000004n],
    );
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 6, 7],
    );
    assert.match(errors[0]!.message, /^invalid JSON: /);
    assert.equal(errors[1]!.message, 'event_name: expected a string, got true');
    assert.equal(errors[2]!.message, 'expected a JSON object, got [1,2]');
  });

  it('handles CRLF, a BOM, multibyte characters split across chunks and no final newline', async () => {
    const text = '\uFEFF' + row(1, { user_id: 'ü😀é' }) + '\r\n' + row(2, { user_id: '日本' });
    for (const size of [1, 2, 3, 5, 64]) {
      const batches = await collect(chunked(text, size));
      assert.deepEqual(
        batches.flatMap((b) => b.errors),
        [],
        `chunk size ${size}`,
      );
      assert.deepEqual(
        batches.flatMap((b) => b.events.map((e) => e.user_id)),
        ['ü😀é', '日本'],
      );
    }
  });

  it('yields bounded batches', async () => {
    const text = Array.from({ length: 25 }, (_, i) => (i === 10 ? 'bad' : row(i))).join('\n') + '\n';
    const batches = await collect(chunked(text, 100), { batchSize: 10 });
    assert.deepEqual(
      batches.map((b) => b.events.length + b.errors.length),
      [10, 10, 5],
    );
    assert.deepEqual(
      batches.flatMap((b) => b.errors.map((e) => e.line)),
      [11],
    );
  });

  it('skips over-long lines without buffering them', async () => {
    const long = row(1, { user_id: 'x'.repeat(5000) });
    const text = [row(0), long, row(2)].join('\n');
    const batches = await collect(chunked(text, 256), { maxLineLength: 1000 });
    assert.deepEqual(
      batches.flatMap((b) => b.errors),
      [{ line: 2, message: 'line is longer than 1000 characters; skipped' }],
    );
    assert.equal(batches.flatMap((b) => b.events).length, 2);
    // the same when the long line arrives in one chunk
    const one = await collect(Readable.from([Buffer.from(text)]), { maxLineLength: 1000 });
    assert.deepEqual(
      one.flatMap((b) => b.errors.map((e) => e.line)),
      [2],
    );
  });

  it('sessionises rows without ga_session_id when given a sessionizer', async () => {
    const text = [
      row(0),
      row(1, { event_params: [{ key: 'ga_session_id', value: { int_value: '77' } }] }),
    ].join('\n');
    const [batch] = await collect(chunked(text, 50), { sessionizer: new Sessionizer() });
    assert.deepEqual(
      batch!.events.map((e) => [e.ga_session_id, e.ga_session_number]),
      [
        [1717200000n, 1],
        [77n, 1],
      ],
    );
  });

  it('accepts string chunks and empty input', async () => {
    assert.deepEqual(await collect(Readable.from([])), []);
    const batches = await collect(Readable.from([row(1) + '\n', row(2)], { objectMode: true }));
    assert.equal(batches[0]!.events.length, 2);
  });
});

// RawJson holding bytes (a pre-rendered query page): spliced into the response as they are, with
// the right content-length, never decoded; numeric enums leave it alone; toValue parses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RawJson, jsonChunks, stringifyWithRaw } from '../src/domain/raw-json.ts';
import { sendJson } from '../src/api/rest/http-server.ts';
import { numericEnums } from '../src/api/rest/enums.ts';

const rows = Buffer.from(
  '[{"dimensionValues":[{"value":"é😀\\"\\u0000"}]},{"dimensionValues":[{"value":"state"}]}]',
);

test('jsonChunks splices the very Buffer between the text around it', () => {
  const chunks = jsonChunks({
    audienceExport: { name: 'n', state: 'ACTIVE' },
    audienceRows: new RawJson(rows),
    rowCount: 2,
  });
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1], rows, 'the same Buffer, not a copy or a string');
  assert.equal(chunks[0], '{"audienceExport":{"name":"n","state":"ACTIVE"},"audienceRows":');
  assert.equal(chunks[2], ',"rowCount":2}');
  assert.deepEqual(jsonChunks({ a: 'x' }), ['{"a":"x"}']);
  assert.equal(stringifyWithRaw({ r: new RawJson(rows) }), `{"r":${rows.toString()}}`);
  assert.deepEqual(new RawJson(rows).toValue(), JSON.parse(rows.toString()));
});

test('RawJson.release calls its hook once', () => {
  let calls = 0;
  const r = new RawJson(rows, () => calls++);
  r.release();
  r.release();
  assert.equal(calls, 1);
  new RawJson('[]').release(); // no hook: nothing to do
});

test('sendJson writes the bytes with a correct content-length, then releases them; enum-encoding=int leaves rows alone', async () => {
  let released = 0;
  const server: Server = createServer((req, res) => {
    const body = {
      audienceExport: { name: 'é', state: 'ACTIVE' },
      audienceRows: new RawJson(rows, () => released++),
      rowCount: 2,
    };
    sendJson(res, 200, req.url === '/int' ? numericEnums(body) : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [path, state] of [
      ['/names', '"ACTIVE"'],
      ['/int', '2'],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      const want = Buffer.concat([
        Buffer.from(`{"audienceExport":{"name":"é","state":${state}},"audienceRows":`),
        rows,
        Buffer.from(',"rowCount":2}'),
      ]);
      assert.equal(res.headers.get('content-length'), String(want.length));
      assert.deepEqual(bytes, want);
    }
    assert.equal(released, 2);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

// readCapped (the body reader of every collection hit): whole bodies in one or many chunks, the
// size limit, and a client that goes away mid-body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readCapped } from './collect-routes.ts';

async function withServer(
  limit: number,
  fn: (port: number, results: Promise<{ buf: Buffer | null; size: number } | Error>[]) => Promise<void>,
): Promise<void> {
  const results: Promise<{ buf: Buffer | null; size: number } | Error>[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const p = readCapped(req, limit).catch((err: unknown) => err as Error);
    results.push(p);
    void p.then(() => res.writeHead(204).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn((server.address() as AddressInfo).port, results);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function post(port: number, chunks: string[], abort = false): Promise<void> {
  return new Promise((resolve) => {
    const req = request({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/',
      headers: { 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    let i = 0;
    const next = (): void => {
      if (i < chunks.length) {
        req.write(chunks[i++]!, () => setTimeout(next, 5));
      } else if (abort) {
        req.destroy();
        resolve();
      } else req.end();
    };
    next();
  });
}

test('readCapped returns the whole body, in one chunk or many, up to the limit', async () => {
  await withServer(10, async (port, results) => {
    await post(port, []);
    await post(port, ['héllo']);
    await post(port, ['ab', 'cd', 'ef']);
    await post(port, ['0123456789']);
    const got = await Promise.all(results);
    assert.deepEqual(
      got.map((r) =>
        r instanceof Error ? r.message : { body: r.buf?.toString('utf8') ?? null, size: r.size },
      ),
      [
        { body: '', size: 0 },
        { body: 'héllo', size: 6 },
        { body: 'abcdef', size: 6 },
        { body: '0123456789', size: 10 },
      ],
    );
  });
});

test('readCapped reports a body over the limit as null with its full size', async () => {
  await withServer(10, async (port, results) => {
    await post(port, ['01234', '56789', 'x']);
    await post(port, ['0123456789abc']);
    const got = await Promise.all(results);
    assert.deepEqual(
      got.map((r) => (r instanceof Error ? r.message : { buf: r.buf, size: r.size })),
      [
        { buf: null, size: 11 },
        { buf: null, size: 13 },
      ],
    );
  });
});

test('readCapped rejects when the client goes away mid-body', async () => {
  await withServer(100, async (port, results) => {
    await post(port, ['abc', 'def'], true);
    for (let i = 0; i < 100 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const got = await Promise.race([results[0]!, new Promise((r) => setTimeout(() => r('timeout'), 2000))]);
    assert.ok(got instanceof Error, `expected a rejection, got ${String(got)}`);
  });
});

// Imports are all or nothing and safe to send again (issue 13 item 2): audex is SIGKILLed while an
// NDJSON upload (two batches already parsed and staged) and a Parquet upload (spooled in
// import-tmp/) are under way; after the restart nothing of either is stored, the spooled file is
// swept, and the same importId then stores exactly the file's rows, once, however often it is sent.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY, api, removeDir, startServer, tempDataDir, type RunningServer } from './helpers/server.ts';
import { createTestProperty, type TestProperty } from './helpers/property.ts';

const USERS = 30;
const ROWS = 30_000; // three parser batches of 10,000

function row(i: number): string {
  return JSON.stringify({
    event_date: '20240601',
    event_timestamp: String(1717200000000000 + i * 1000),
    event_name: 'page_view',
    event_params: [{ key: 'ga_session_id', value: { int_value: '1717200000' } }],
    user_pseudo_id: `atomic.${i % USERS}`,
  });
}

/** Rows stored for the property, counted per user (the events endpoint pages at 10,000). */
async function storedRows(server: RunningServer, property: string): Promise<number> {
  let n = 0;
  for (let u = 0; u < USERS; u++) {
    const r = await api(server, 'GET', `/audex/v1/${property}/events?limit=10000&userPseudoId=atomic.${u}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    n += (r.json.events as unknown[]).length;
  }
  return n;
}

/** Starts an upload that sends `head` and then stalls (the connection stays open). */
function stalledUpload(url: string, contentType: string, head: Buffer): { abort: () => void } {
  const controller = new AbortController();
  const body = new ReadableStream({
    start(c) {
      c.enqueue(head);
    },
  });
  fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': contentType },
    body,
    duplex: 'half',
    signal: controller.signal,
  } as RequestInit).catch(() => undefined);
  return { abort: () => controller.abort() };
}

describe('atomic, retry-safe imports across a SIGKILL', () => {
  const dataDir = tempDataDir('audex-atomic-');
  const tmp = tempDataDir('audex-atomic-files-');
  const file = join(tmp, 'rows.ndjson');
  const ndjson = Buffer.from(Array.from({ length: ROWS }, (_, i) => row(i)).join('\n') + '\n');
  let server: RunningServer;
  let p: TestProperty;

  before(async () => {
    writeFileSync(file, ndjson);
    server = await startServer({ dataDir });
    p = await createTestProperty(server);
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
    removeDir(tmp);
  });

  test('SIGKILL mid-import stores nothing; the start sweep removes the spooled upload; the same importId stores the rows once', async () => {
    const path = `/audex/v1/${p.property}:import?importId=run-1`;
    // Two thirds of the NDJSON rows: two full batches reach the server's staging table.
    const cut = ndjson.indexOf('\n', Math.floor((ndjson.length * 2) / 3)) + 1;
    const uploads = [
      stalledUpload(server.url + path, 'application/x-ndjson', ndjson.subarray(0, cut)),
      stalledUpload(
        `${server.url}/audex/v1/${p.property}:import?importId=run-2`,
        'application/vnd.apache.parquet',
        Buffer.alloc(64 * 1024, 7),
      ),
    ];
    const spool = join(dataDir, 'import-tmp');
    for (let i = 0; i < 100 && !(existsSync(spool) && readdirSync(spool).length > 0); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(readdirSync(spool).length, 1, 'the Parquet upload is spooled');
    await new Promise((r) => setTimeout(r, 1500)); // the NDJSON batches are parsed and staged
    await server.kill();
    for (const u of uploads) u.abort();

    server = await startServer({ dataDir });
    assert.deepEqual(readdirSync(spool), [], 'the start sweep removed the orphaned upload');
    assert.equal(await storedRows(server, p.property), 0, 'nothing of the interrupted import is stored');

    const send = async () => {
      const res = await fetch(server.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-ndjson' },
        body: ndjson,
      });
      return { status: res.status, json: await res.json() };
    };
    const first = await send();
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.importedRows, ROWS);
    assert.equal(first.json.importId, 'run-1');
    const again = await send();
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, first.json, 'a repeat answers with the first result');
    assert.equal(await storedRows(server, p.property), ROWS, 'exactly the file rows, once');
  });

  test('an importId that is not 1-64 of [A-Za-z0-9_-] is INVALID_ARGUMENT naming it', async () => {
    const r = await fetch(`${server.url}/audex/v1/${p.property}:import?importId=a%20b`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-ndjson' },
      body: row(1),
    });
    const json = await r.json();
    assert.equal(r.status, 400);
    assert.match(json.error.message, /^importId: /);
  });
});

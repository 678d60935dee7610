// AUDEX_MEMORY_LIMIT (issue 13 item 1; the peak under work: test/memory-rss.e2e.test.ts): DuckDB's memory_limit is derived
// from the process budget, and while the process is over its budget memory-heavy work (:query,
// export creation, imports) is refused with RESOURCE_EXHAUSTED over REST and gRPC while
// collection and reads go on. The budget here (64MB) is below any Node process's resident set,
// so the server is over it from the start: the refusal is what a real overload answers.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { dataGrpcClient, grpcCall } from './helpers/clients.ts';
import { duckdbLimitFor, heapLimitMiBFor, MemoryGuard, parseBytes } from '../src/server/memory-budget.ts';
import { loadConfig } from '../src/config/config.ts';

describe('memory budget', () => {
  test('DuckDB memory_limit is derived from AUDEX_MEMORY_LIMIT unless given', () => {
    assert.equal(parseBytes('2GiB'), 2 * 2 ** 30);
    // Half of what the budget has beyond an idle server's fixed cost (160 MiB): (2048 - 160) / 2.
    assert.equal(duckdbLimitFor(parseBytes('2GiB')), '944MiB');
    const derived = loadConfig({}, { AUDEX_MEMORY_LIMIT: '2GiB' });
    assert.equal(derived.storage.duckdbMemoryLimit, '944MiB');
    // V8's old space: its base heap (40 MiB) plus a fifth of the rest; never below 96 MiB.
    assert.equal(heapLimitMiBFor(parseBytes('2GiB')), 40 + Math.floor(1888 * 0.35));
    assert.equal(heapLimitMiBFor(parseBytes('64MB')), 96);
    const explicit = loadConfig({}, { AUDEX_MEMORY_LIMIT: '2GiB', AUDEX_DUCKDB_MEMORY_LIMIT: '300MB' });
    assert.equal(explicit.storage.duckdbMemoryLimit, '300MB');
    assert.throws(() => loadConfig({}, { AUDEX_MEMORY_LIMIT: 'lots' }));
  });

  test('the guard admits under the budget and refuses over it', () => {
    let rss = 100;
    const guard = new MemoryGuard(200, () => rss);
    guard.admit();
    rss = 300;
    assert.throws(
      () => guard.admit(),
      (e: any) => e.status === 'RESOURCE_EXHAUSTED',
    );
    rss = 150;
    guard.admit();
  });
});

describe('a server over its memory budget', () => {
  let server: RunningServer;
  let p: TestProperty;
  before(async () => {
    server = await startServer({ env: { AUDEX_MEMORY_LIMIT: '64MB' } });
    p = await createTestProperty(server);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('export creation and imports are RESOURCE_EXHAUSTED over REST and gRPC; collection goes on', async () => {
    assert.equal(
      (await sendMp(server, p, { client_id: '1.1', events: [{ name: 'page_view' }] })).status,
      204,
    );
    const audiences = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as any[];
    const audience = audiences.find((a) => a.displayName === 'All Users').name as string;
    const body = { audience, dimensions: [{ dimensionName: 'deviceId' }] };
    const rest = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, body);
    assert.equal(rest.status, 429, JSON.stringify(rest.json));
    assert.equal(rest.json.error.status, 'RESOURCE_EXHAUSTED');
    assert.match(rest.json.error.message, /AUDEX_MEMORY_LIMIT/);
    const client = dataGrpcClient(server.grpcPort);
    try {
      await assert.rejects(
        client.createAudienceExport({ parent: p.property, audienceExport: body }, grpcCall(ADMIN_KEY)),
        (err: any) => err.code === grpc.status.RESOURCE_EXHAUSTED,
      );
    } finally {
      await client.close();
    }
    const imp = await fetch(`${server.url}/audex/v1/${p.property}:import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-ndjson' },
      body: '{}\n',
    });
    assert.equal(imp.status, 429);
  });
});

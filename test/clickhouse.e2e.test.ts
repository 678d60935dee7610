// `audex serve --events-url clickhouse://…` end to end: Measurement Protocol and gtag.js hits
// acknowledged only once ClickHouse has them (many concurrent requests, batched into few INSERTs),
// an import, and an export that becomes ACTIVE with the right members and attributes. The catalog
// stays SQLite in the data folder. Uses a private ClickHouse 18.16 server (fails when missing).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { after, before, describe, test } from 'node:test';
import { E1 } from '../src/audience/fixtures/examples.ts';
import { api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, storedEvents, type TestProperty } from './helpers/property.ts';
import { createExportAndWait } from './helpers/exports.ts';
import { freshDatabaseName, sharedClickHouse, type ClickHouseServer } from './helpers/clickhouse-server.ts';

describe('audex serve on ClickHouse', () => {
  let ch: ClickHouseServer;
  let server: RunningServer;
  let p: TestProperty;
  let database: string;

  async function chCount(sql: string): Promise<number> {
    const res = await fetch(`${ch.nodes[0]!.httpUrl}/?database=${database}`, { method: 'POST', body: sql });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return Number(text.trim());
  }

  before(async () => {
    ch = await sharedClickHouse();
    database = freshDatabaseName('audex_e2e');
    server = await startServer({ args: ['--events-url', ch.eventsUrl(database)] });
    p = await createTestProperty(server);
  });
  after(async () => {
    if (process.env.AUDEX_SHOW_SERVER_LOG) console.log(server?.output());
    await server?.stop();
    if (server) removeDir(server.dataDir);
    await ch?.stop();
  });

  test('a bad events URL is one clear error at start', async () => {
    await assert.rejects(
      startServer({ args: ['--events-url', 'clickhouse://127.0.0.1:1/Bad-Name'], startTimeoutMs: 20_000 }),
      (err: Error) => /--events-url \/ AUDEX_EVENTS_URL/.test(err.message) && !/\n\s+at /.test(err.message),
    );
    await assert.rejects(
      startServer({ args: ['--events-url', 'clickhouse://127.0.0.1:1/db'], startTimeoutMs: 20_000 }),
      (err: Error) =>
        /audex: ClickHouse at http:\/\/127\.0\.0\.1:1 is unreachable/.test(err.message) &&
        !/\n\s+at /.test(err.message),
    );
  });

  test('MP and gtag hits are in ClickHouse when acknowledged', async () => {
    const now = BigInt(Date.now()) * 1000n;
    const sends = Array.from({ length: 40 }, (_, i) =>
      sendMp(server, p, {
        client_id: `c.${i}`,
        user_id: i % 4 === 0 ? `user-${i}` : undefined,
        timestamp_micros: String(now - BigInt(i) * 1_000_000n),
        consent: i % 5 === 0 ? { ad_personalization: 'DENIED' } : undefined,
        events: [{ name: i % 2 === 0 ? 'purchase' : 'page_view', params: { value: i, currency: 'EUR' } }],
      }),
    );
    const results = await Promise.all(sends);
    assert.ok(results.every((r) => r.status === 204));
    // Acknowledged means stored: count straight in ClickHouse, no waiting.
    assert.equal(await chCount(`SELECT count() FROM events WHERE property_id = ${p.propertyId}`), 40);
    const qs = new URLSearchParams({ v: '2', tid: p.measurementId, cid: 'g.1', en: 'purchase' });
    const g = await fetch(`${server.url}/g/collect?${qs}`);
    await g.arrayBuffer();
    assert.equal(g.status, 204);
    assert.equal(
      await chCount(
        `SELECT count() FROM events WHERE property_id = ${p.propertyId} AND user_pseudo_id = 'g.1'`,
      ),
      1,
    );
    const mine = await storedEvents(server, p, 'c.0');
    assert.equal(mine.length, 1);
    assert.equal(mine[0].user_id, 'user-0');
    assert.deepEqual(mine[0].event_params.value, { int_value: '0' });
  });

  test('an NDJSON import is stored and can be resent without duplicates', async () => {
    const t = (BigInt(Date.now()) - 3_600_000n) * 1000n;
    const rows = [0, 1, 2].map((i) =>
      JSON.stringify({
        event_name: 'purchase',
        event_timestamp: String(t + BigInt(i)),
        user_pseudo_id: `imp.${i}`,
      }),
    );
    const send = () =>
      fetch(`${server.url}/audex/v1/${p.property}:import?importId=imp-1`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer test-admin-key-0123456789abcdef',
          'content-type': 'application/x-ndjson',
        },
        body: rows.join('\n') + '\n',
      });
    const first = await send();
    const body = await first.text();
    assert.equal(first.status, 200, body);
    const again = await send();
    assert.equal(again.status, 200, await again.text());
    assert.equal(
      await chCount(
        `SELECT count() FROM events WHERE property_id = ${p.propertyId} AND startsWith(user_pseudo_id, 'imp.')`,
      ),
      3,
    );
  });

  test('a Parquet import is stored (read by audex, staged in ClickHouse) and can be resent without duplicates', async () => {
    const t = (BigInt(Date.now()) - 3_600_000n) * 1000n;
    const dir = mkdtempSync(join(tmpdir(), 'audex-ch-parquet-'));
    try {
      const file = join(dir, 'rows.parquet');
      const gen = await DuckDBInstance.create(':memory:');
      const con = await gen.connect();
      // Four rows (page views: the export below counts purchasers); the third has no
      // user_pseudo_id and is rejected with its reason.
      await con.run(
        `COPY (SELECT 'page_view' AS event_name, (${t} + i)::BIGINT AS event_timestamp, CASE WHEN i = 2 THEN NULL ELSE 'pq.' || i END AS user_pseudo_id FROM range(4) r(i)) TO '${file}' (FORMAT parquet)`,
      );
      con.closeSync();
      gen.closeSync();
      const send = (body: Buffer, importId = 'pq-1') =>
        fetch(`${server.url}/audex/v1/${p.property}:import?importId=${importId}`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer test-admin-key-0123456789abcdef',
            'content-type': 'application/vnd.apache.parquet',
          },
          body: new Uint8Array(body),
        });
      const first = await send(readFileSync(file));
      const result = (await first.json()) as Record<string, unknown>;
      assert.equal(first.status, 200, JSON.stringify(result));
      assert.equal(result.importedRows, 3);
      assert.equal(result.rejectedRows, 1);
      assert.deepEqual(result.errors, [{ row: 2, message: 'missing user_pseudo_id' }]);
      const again = await send(readFileSync(file));
      assert.equal(again.status, 200, await again.text());
      assert.equal(
        await chCount(
          `SELECT count() FROM events WHERE property_id = ${p.propertyId} AND startsWith(user_pseudo_id, 'pq.')`,
        ),
        3,
      );
      const bad = await send(Buffer.from('PAR1 not a parquet file'), 'pq-2');
      const error = (await bad.json()) as { error: { status: string } };
      assert.equal(bad.status, 400);
      assert.equal(error.error.status, 'INVALID_ARGUMENT');
    } finally {
      removeDir(dir);
    }
  });

  test('an export becomes ACTIVE with the purchasers and their attributes', async () => {
    const audience = (await api(server, 'POST', `/v1alpha/${p.property}/audiences`, E1)).json;
    assert.ok(audience.name, JSON.stringify(audience));
    const e = await createExportAndWait(server, p.property, audience.name, [
      'deviceId',
      'userId',
      'isAdsPersonalizationAllowed',
    ]);
    const expected = [
      ...Array.from({ length: 20 }, (_, k) => `c.${2 * k}`),
      'g.1',
      'imp.0',
      'imp.1',
      'imp.2',
    ].sort();
    assert.equal(e.rowCount, expected.length);
    const q = await api(server, 'POST', `/v1beta/${e.name}:query`, { offset: 0, limit: 1000 });
    assert.equal(q.status, 200, JSON.stringify(q.json));
    const rows = q.json.audienceRows.map((r: any) => r.dimensionValues.map((v: any) => v.value));
    assert.deepEqual(
      rows.map((r: string[]) => r[0]),
      expected,
    );
    const c0 = rows.find((r: string[]) => r[0] === 'c.0');
    assert.deepEqual(c0, ['c.0', 'user-0', 'false']);
    const c2 = rows.find((r: string[]) => r[0] === 'c.2');
    assert.deepEqual(c2, ['c.2', '', '(not set)']);
  });
});

// Issue 13 items 4 and 5 against a running `audex serve`: answers never carry server paths,
// int64 fields accept exactly proto3 JSON's forms in every endpoint, invalid Unicode is
// INVALID_ARGUMENT in both transports, and slow clients are cut off by audex's own timeouts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { createExportAndWait } from './helpers/exports.ts';

const HEADERS_TIMEOUT_MS = 1000;

describe('hardening: errors, int64, Unicode, slow clients', () => {
  let server: RunningServer;
  let p: TestProperty;
  let exportName: string;

  before(async () => {
    server = await startServer({ env: { AUDEX_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) } });
    p = await createTestProperty(server);
    const r = await sendMp(server, p, { client_id: '1.1', events: [{ name: 'page_view' }] });
    assert.equal(r.status, 204);
    const audiences = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as any[];
    const all = audiences.find((a) => a.displayName === 'All Users').name as string;
    exportName = (await createExportAndWait(server, p.property, all, ['deviceId'])).name as string;
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('an unreadable Parquet upload is INVALID_ARGUMENT without any server path', async () => {
    const res = await fetch(`${server.url}/audex/v1/${p.property}:import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/vnd.apache.parquet' },
      body: 'this is not a parquet file at all',
    });
    const body = await res.json();
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.status, 'INVALID_ARGUMENT');
    assert.match(body.error.message, /Parquet/);
    assert.ok(!body.error.message.includes(server.dataDir), body.error.message);
    assert.doesNotMatch(body.error.message, /import-tmp|\.parquet'|\/tmp\//, body.error.message);
  });

  test(':query int64 fields take exactly proto3 JSON forms', async () => {
    const query = (body: string) => api(server, 'POST', `/v1beta/${exportName}:query`, body);
    for (const ok of ['{"offset": "0"}', '{"offset": 0}', '{"offset": 1e0, "limit": "5"}', '{"limit": 2}']) {
      const r = await query(ok);
      assert.equal(r.status, 200, `${ok}: ${JSON.stringify(r.json)}`);
    }
    for (const bad of [
      '{"offset": 1e20}',
      '{"offset": " 5"}',
      '{"offset": "5 "}',
      '{"offset": "+5"}',
      '{"offset": "18446744073709551616"}',
      '{"offset": 1.5}',
      '{"limit": "1e3"}',
      '{"offset": true}',
    ]) {
      const r = await query(bad);
      assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
      assert.match(r.json.error.message, /^(offset|limit): /, bad);
    }
    const big = await query('{"offset": "18446744073709551616"}');
    assert.match(big.json.error.message, /int64 range/);
  });

  test('audience int64 values are read by the same rules as :query', async () => {
    const create = (int64Value: unknown) =>
      api(server, 'POST', `/v1alpha/${p.property}/audiences`, {
        displayName: 'n',
        description: 'int64 forms',
        membershipDurationDays: 30,
        filterClauses: [
          {
            clauseType: 'INCLUDE',
            simpleFilter: {
              scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
              filterExpression: {
                andGroup: {
                  filterExpressions: [
                    {
                      orGroup: {
                        filterExpressions: [
                          {
                            dimensionOrMetricFilter: {
                              fieldName: 'eventCount',
                              numericFilter: { operation: 'GREATER_THAN', value: { int64Value } },
                            },
                          },
                        ],
                      },
                    },
                  ],
                },
              },
            },
          },
        ],
      });
    const good = await create('2');
    assert.equal(good.status, 200, JSON.stringify(good.json));
    assert.equal((await create(2)).status, 200);
    for (const bad of [' 5', '18446744073709551616', 1e20, '1e3', 1.5]) {
      const r = await create(bad);
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error.message, /int64_value/);
    }
  });

  test('a lone surrogate is INVALID_ARGUMENT naming the field (REST), nothing stored', async () => {
    const body = '{"displayName": "bad \\ud800 name", "timeZone": "UTC"}';
    const r = await api(server, 'POST', '/v1beta/properties', body);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
    assert.match(r.json.error.message, /^displayName: .*Unicode/);
    const list = await api(server, 'GET', '/v1beta/properties?filter=parent:accounts/1');
    assert.ok(!JSON.stringify(list.json).includes('\ufffd'), 'no U+FFFD stored');
    const raw = await fetch(`${server.url}/v1beta/properties`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"displayName": "x'), Buffer.from([0xff]), Buffer.from('"}')]),
    });
    assert.equal(raw.status, 400);
  });

  test('a string field of invalid UTF-8 is INVALID_ARGUMENT over gRPC', async () => {
    // GetProperty{name}: field 1, a string. ED A0 80 is U+D800 in (invalid) UTF-8.
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${ADMIN_KEY}`);
    const name = Buffer.concat([Buffer.from('properties/'), Buffer.from([0xed, 0xa0, 0x80])]);
    const request = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          '/google.analytics.admin.v1beta.AnalyticsAdminService/GetProperty',
          (b: Buffer) => b,
          (b: Buffer) => b,
          request,
          metadata,
          (e) => resolve(e),
        ),
      );
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, String(err));
      assert.match(String(err?.details), /UTF-8/);
    } finally {
      client.close();
    }
  });

  test('a client that sends its headers slowly is cut off after the headers timeout', async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () =>
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'),
      );
      const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), 200);
      const guard = setTimeout(() => {
        socket.destroy();
        reject(new Error('still open after 15 s'));
      }, 15_000);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(drip);
        clearTimeout(guard);
        resolve(Date.now() - started);
      });
    });
    assert.ok(closedAfter >= HEADERS_TIMEOUT_MS - 100, `closed too early (${closedAfter} ms)`);
    // A keep-alive connection idle longer than the headers timeout still serves its next request.
    const agentRes = await fetch(`${server.url}/healthz`);
    assert.equal(agentRes.status, 200);
    await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS * 2.5));
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});

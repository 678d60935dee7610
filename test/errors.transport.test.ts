// Storage failures reach clients as what they are, over both transports and through the official
// Data API client: a memory limit is RESOURCE_EXHAUSTED, an engine outage or a full disk is
// UNAVAILABLE (REST adds Retry-After), and no answer carries the engine's text (it names files).
// The RPC registry, REST and gRPC transports are the real ones; only the handler behind
// QueryAudienceExport is a stand-in that throws the StorageError a backend would.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { RpcRegistry } from '../src/api/rpc/registry.ts';
import { RestApi } from '../src/api/rest/http-server.ts';
import { GrpcTransport } from '../src/api/grpc/server.ts';
import type { KeyService } from '../src/auth/keys.ts';
import type { Principal } from '../src/auth/principal.ts';
import { StorageError, type StorageErrorKind } from '../src/storage/errors.ts';
import { dataClient, dataGrpcClient, grpcCall } from './helpers/clients.ts';

const KEY = 'transport-test-key-0123456789';
const ADMIN: Principal = { keyId: 1, superuser: true, roles: new Map() };
const keys = { authenticate: async (k: string) => (k === KEY ? ADMIN : null) } as unknown as KeyService;
const quiet = { info() {}, error() {} };
const NAME = 'properties/1/audienceExports/1';
const ENGINE_TEXT =
  "duckdb: Out of Memory Error: could not allocate block for '/srv/audex-data/events.duckdb'";

describe('storage failures over REST and gRPC', () => {
  let failWith: StorageErrorKind = 'memory_limit';
  let http: Server;
  let port: number;
  let grpcServer: GrpcTransport;
  let grpcPort: number;

  before(async () => {
    const rpcs = new RpcRegistry().add(
      'google.analytics.data.v1beta.BetaAnalyticsData.QueryAudienceExport',
      async () => {
        throw new StorageError(failWith, ENGINE_TEXT);
      },
    );
    const api = new RestApi(keys, quiet, 1 << 20);
    rpcs.bindRest(api);
    http = api.createServer();
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
    grpcServer = new GrpcTransport(rpcs, keys, quiet);
    grpcPort = await grpcServer.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await grpcServer.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });

  async function rest(): Promise<{ status: number; retryAfter: string | null; body: any }> {
    const res = await fetch(`http://127.0.0.1:${port}/v1beta/${NAME}:query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{}',
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  }

  test('a memory limit is RESOURCE_EXHAUSTED (429) over REST, without the engine text', async () => {
    failWith = 'memory_limit';
    const r = await rest();
    assert.equal(r.status, 429);
    assert.equal(r.body.error.status, 'RESOURCE_EXHAUSTED');
    assert.match(r.body.error.message, /memory/);
    assert.doesNotMatch(JSON.stringify(r.body), /srv|duckdb|Out of Memory/);
  });

  test('a memory limit is RESOURCE_EXHAUSTED through the official client, REST and gRPC', async () => {
    failWith = 'memory_limit';
    const restClient = dataClient(port, KEY);
    const grpcClient = dataGrpcClient(grpcPort);
    try {
      await assert.rejects(restClient.queryAudienceExport({ name: NAME }), (err: any) => {
        assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, String(err));
        assert.doesNotMatch(String(err.message), /srv|duckdb/);
        return true;
      });
      await assert.rejects(grpcClient.queryAudienceExport({ name: NAME }, grpcCall(KEY)), (err: any) => {
        assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, String(err));
        assert.doesNotMatch(String(err.details ?? err.message), /srv|duckdb/);
        return true;
      });
    } finally {
      await restClient.close();
      await grpcClient.close();
    }
  });

  test('an engine outage and a full disk are UNAVAILABLE (503 + Retry-After; gRPC 14)', async () => {
    for (const kind of ['unavailable', 'disk_full'] as const) {
      failWith = kind;
      const r = await rest();
      assert.equal(r.status, 503, kind);
      assert.equal(r.body.error.status, 'UNAVAILABLE');
      assert.ok(Number(r.retryAfter) > 0, `Retry-After on ${kind}`);
      assert.doesNotMatch(JSON.stringify(r.body), /srv|duckdb/);
      const client = dataGrpcClient(grpcPort);
      try {
        await assert.rejects(client.queryAudienceExport({ name: NAME }, grpcCall(KEY)), (err: any) => {
          assert.equal(err.code, grpc.status.UNAVAILABLE, String(err));
          return true;
        });
      } finally {
        await client.close();
      }
    }
  });

  test('other storage failures stay INTERNAL (500) and say nothing of the engine', async () => {
    failWith = 'syntax';
    const r = await rest();
    assert.equal(r.status, 500);
    assert.equal(r.body.error.status, 'INTERNAL');
    assert.doesNotMatch(JSON.stringify(r.body), /srv|duckdb/);
  });
});

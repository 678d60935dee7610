// The export flow with the official @google-analytics/data client in its default gRPC mode
// (plaintext, local endpoint, the key as call metadata), compared with the same flow over REST.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { dataClient, dataGrpcClient, grpcCall } from './helpers/clients.ts';

const DIMS = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('audience exports over gRPC', () => {
  let server: RunningServer;
  let p: TestProperty;
  let purchasers: string;
  before(async () => {
    server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '300' } });
    p = await createTestProperty(server);
    for (let i = 0; i < 30; i++) {
      const r = await sendMp(server, p, {
        client_id: `${1000 + i}.1700000000`,
        ...(i % 3 === 0 ? { user_id: `u${i}` } : {}),
        ...(i % 4 === 0 ? { consent: { ad_personalization: 'DENIED' } } : {}),
        events: [{ name: i % 2 ? 'purchase' : 'page_view', params: { value: i } }],
      });
      assert.equal(r.status, 204);
    }
    const list = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as {
      name: string;
      displayName: string;
    }[];
    purchasers = list.find((a) => a.displayName === 'Purchasers')!.name;
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('create, operation.promise(), get, query pages and list give the same results as REST', async () => {
    const grpcClient = dataGrpcClient(server.grpcPort);
    const call = grpcCall(ADMIN_KEY);
    const request = {
      parent: p.property,
      audienceExport: { audience: purchasers, dimensions: DIMS.map((dimensionName) => ({ dimensionName })) },
    };

    const [operation] = await grpcClient.createAudienceExport(request, call);
    const [done] = await operation.promise();
    assert.equal(done.state, 2, 'the LRO result is the ACTIVE export');
    const name = done.name!;

    const rest = dataClient(server.port, ADMIN_KEY);
    const [restOp] = await rest.createAudienceExport(request);
    const [restDone] = await restOp.promise();

    const [viaGrpc] = await grpcClient.getAudienceExport({ name }, call);
    const [viaRest] = await rest.getAudienceExport({ name: restDone.name! });
    assert.equal(viaGrpc.state, 'ACTIVE');
    assert.equal(viaGrpc.rowCount, viaRest.rowCount);
    assert.equal(viaGrpc.audienceDisplayName, 'Purchasers');
    assert.ok(viaGrpc.beginCreatingTime?.seconds);
    assert.deepEqual(viaGrpc.dimensions, viaRest.dimensions);

    const grpcRows: string[][] = [];
    for (let offset = 0; ; offset += 4) {
      const [page] = await grpcClient.queryAudienceExport({ name, offset, limit: 4 }, call);
      assert.equal(page.rowCount, viaRest.rowCount);
      if (page.audienceRows!.length === 0) break;
      grpcRows.push(...page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)));
    }
    const [restPage] = await rest.queryAudienceExport({ name: restDone.name! });
    assert.deepEqual(
      grpcRows,
      restPage.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)),
    );
    assert.equal(grpcRows.length, 15);

    const names: string[] = [];
    // The async iterator pages by itself; autoPaginate: false says so (else gax warns).
    for await (const e of grpcClient.listAudienceExportsAsync(
      { parent: p.property, pageSize: 1 },
      { ...call, autoPaginate: false },
    ))
      names.push(e.name!);
    assert.deepEqual(names.slice(0, 2), [restDone.name, name], 'newest first across one-item pages');
  });

  test('errors carry the REST codes and messages', async () => {
    const client = dataGrpcClient(server.grpcPort);
    const call = grpcCall(ADMIN_KEY);
    await assert.rejects(
      client.getAudienceExport({ name: `${p.property}/audienceExports/999999` }, call),
      (e: { code: number }) => e.code === 5,
    );
    await assert.rejects(
      client.createAudienceExport(
        {
          parent: p.property,
          audienceExport: { audience: purchasers, dimensions: [{ dimensionName: 'city' }] },
        },
        call,
      ),
      (e: { code: number; message: string }) => e.code === 3 && /dimension/i.test(e.message),
    );
    await assert.rejects(
      client.getAudienceExport({ name: `${p.property}/audienceExports/1` }),
      (e: { code: number }) => e.code === 16,
    );
    const [op] = await client.createAudienceExport(
      {
        parent: p.property,
        audienceExport: { audience: purchasers, dimensions: [{ dimensionName: 'deviceId' }] },
      },
      call,
    );
    const creating = (op.latestResponse as { response?: { value?: Uint8Array } }).response;
    assert.ok(creating);
    const [list] = await client.listAudienceExports(
      { parent: p.property, pageSize: 1 },
      { ...call, autoPaginate: false },
    );
    const [first] = list;
    if (first!.state === 'CREATING') {
      await assert.rejects(
        client.queryAudienceExport({ name: first!.name! }, call),
        (e: { code: number }) => e.code === 9,
      );
    }
    await op.promise();
    for (
      let i = 0;
      i < 50 && (await client.getAudienceExport({ name: first!.name! }, call))[0].state !== 'ACTIVE';
      i++
    )
      await sleep(50);
  });
});

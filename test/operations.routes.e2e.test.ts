// Operation names every official client can poll: `operations/properties/{p}/operations/{id}` fits
// the Node REST client's route `GET /v1/{name=operations/**}` and the Python clients'
// `GET /v1beta/{name=**/operations/*}` (and /v1alpha/…). Each route shape is polled with raw HTTP,
// the Node client polls over REST and gRPC, and the older `operations/{id}` names still answer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { alphaDataClient, dataClient, dataGrpcClient, grpcCall } from './helpers/clients.ts';

const NAME = /^operations\/properties\/(\d+)\/operations\/(audienceExport|audienceList)-[A-Za-z0-9_-]+$/;

describe('operation names and routes', () => {
  let server: RunningServer;
  let p: TestProperty;
  let audience: string;
  before(async () => {
    server = await startServer();
    p = await createTestProperty(server);
    const r = await sendMp(server, p, {
      client_id: 'op.1',
      events: [{ name: 'purchase', params: { value: 1, currency: 'EUR' } }],
    });
    assert.equal(r.status, 204);
    const list = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as any[];
    audience = list.find((a) => a.displayName === 'Purchasers').name;
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  async function pollEveryRoute(name: string, resourceField: string) {
    const m = NAME.exec(name);
    assert.ok(m, name);
    assert.equal(Number(m[1]), p.propertyId);
    const opId = name.split('/').pop()!;
    // Node route, Python routes (v1beta, v1alpha), and the older short name on the Node route.
    for (const path of [`/v1/${name}`, `/v1beta/${name}`, `/v1alpha/${name}`, `/v1/operations/${opId}`]) {
      let op: any;
      for (let i = 0; i < 300; i++) {
        const r = await api(server, 'GET', path);
        assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.json)}`);
        op = r.json;
        if (op.done) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(op.done, true, path);
      assert.equal(op.name, name, `${path} answers with the long name`);
      assert.equal(op.response.state, 'ACTIVE', path);
      assert.match(op.response.name, new RegExp(`^${p.property}/${resourceField}/\\d+$`));
    }
    // A name of another property's shape, or an unknown id: NOT_FOUND on every route.
    const wrong = name.replace(`properties/${p.propertyId}/`, `properties/${p.propertyId + 1000}/`);
    for (const path of [
      `/v1/${wrong}`,
      `/v1beta/${wrong}`,
      '/v1beta/operations/properties/1/operations/audienceExport-nope',
    ])
      assert.equal((await api(server, 'GET', path)).json.error.status, 'NOT_FOUND', path);
  }

  test("an export's operation answers on the Node and Python routes, long and short names", async () => {
    const r = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
      audience,
      dimensions: [{ dimensionName: 'deviceId' }],
    });
    assert.equal(r.status, 200);
    await pollEveryRoute(r.json.name, 'audienceExports');
  });

  test("a list's operation answers on the Node and Python routes, long and short names", async () => {
    const r = await api(server, 'POST', `/v1alpha/${p.property}/audienceLists`, {
      audience,
      dimensions: [{ dimensionName: 'deviceId' }],
    });
    assert.equal(r.status, 200);
    await pollEveryRoute(r.json.name, 'audienceLists');
  });

  test('the Node client polls to the end over REST (export and list) and gRPC', async () => {
    const [restOp] = await dataClient(server.port, ADMIN_KEY).createAudienceExport({
      parent: p.property,
      audienceExport: { audience, dimensions: [{ dimensionName: 'deviceId' }] },
    });
    assert.match(restOp.name!, NAME);
    const [restDone] = await restOp.promise();
    assert.equal(restDone.rowCount, 1);

    const [listOp] = await alphaDataClient(server.port, ADMIN_KEY).createAudienceList({
      parent: p.property,
      audienceList: { audience, dimensions: [{ dimensionName: 'deviceId' }] },
    });
    assert.match(listOp.name!, NAME);
    const [listDone] = await listOp.promise();
    assert.equal(listDone.rowCount, 1);

    const grpc = dataGrpcClient(server.grpcPort);
    const call = grpcCall(ADMIN_KEY);
    const [grpcOp] = await grpc.createAudienceExport(
      { parent: p.property, audienceExport: { audience, dimensions: [{ dimensionName: 'deviceId' }] } },
      call,
    );
    assert.match(grpcOp.name!, NAME);
    const [grpcDone] = await grpcOp.promise();
    assert.equal(grpcDone.rowCount, 1);
  });

  test('an operation known by its older name answers through the Node client (REST and gRPC)', async () => {
    const r = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
      audience,
      dimensions: [{ dimensionName: 'deviceId' }],
    });
    const old = `operations/${(r.json.name as string).split('/').pop()}`;
    const rest = dataClient(server.port, ADMIN_KEY);
    const done = await (await rest.checkCreateAudienceExportProgress(old)).promise();
    assert.equal(done[0].rowCount, 1);
    const grpc = dataGrpcClient(server.grpcPort);
    const [op] = await grpc.operationsClient.getOperation(
      { name: old } as Parameters<typeof grpc.operationsClient.getOperation>[0],
      grpcCall(ADMIN_KEY),
    );
    assert.equal(op.done, true);
    assert.equal(op.name, r.json.name);
  });
});

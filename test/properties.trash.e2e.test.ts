// Trashed properties and the required ListProperties filter, against `audex serve`: deleteProperty
// moves the property to the trash (deleteTime, expireTime = +35 days), its reads answer NOT_FOUND,
// collection stops, showDeleted lists it, the operator restores it with the CLI. The expiry purge
// runs on an injected clock in test/privacy.lifecycle.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, storedEvents, type TestProperty } from './helpers/property.ts';
import { adminBetaClient, adminClient, adminGrpcClient, grpcCall } from './helpers/clients.ts';
import { runCli } from './helpers/cli.ts';

const DAY_MS = 86_400_000;

describe('trashed properties', () => {
  let server: RunningServer;
  let p: TestProperty;
  before(async () => {
    server = await startServer();
    p = await createTestProperty(server);
    const r = await sendMp(server, p, { client_id: 'before.trash', events: [{ name: 'page_view' }] });
    assert.equal(r.status, 204);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('deleteProperty answers the property with deleteTime and expireTime 35 days later', async () => {
    const [deleted] = await adminClient(server.port, ADMIN_KEY).deleteProperty({ name: p.property });
    assert.equal(deleted.name, p.property);
    const del = Number(deleted.deleteTime!.seconds) * 1000;
    const exp = Number(deleted.expireTime!.seconds) * 1000;
    assert.ok(Math.abs(del - Date.now()) < 60_000);
    assert.equal(exp - del, 35 * DAY_MS);
    // A second delete: the property is already gone.
    assert.equal((await api(server, 'DELETE', `/v1beta/${p.property}`)).json.error.status, 'NOT_FOUND');
  });

  test('reads of the property and its children answer NOT_FOUND (REST and gRPC)', async () => {
    for (const path of [
      `/v1beta/${p.property}`,
      `/v1beta/${p.stream}`,
      `/v1beta/${p.stream}/measurementProtocolSecrets`,
      `/v1beta/${p.property}/dataStreams`,
      `/v1alpha/${p.property}/audiences`,
      `/v1beta/${p.property}/audienceExports`,
      `/v1alpha/${p.property}/audienceLists`,
      `/v1beta/${p.property}/dataRetentionSettings`,
      `/audex/v1/${p.property}/events`,
    ]) {
      const r = await api(server, 'GET', path);
      assert.equal(r.status, 404, `${path}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.status, 'NOT_FOUND', path);
    }
    await assert.rejects(
      adminGrpcClient(server.grpcPort).getProperty({ name: p.property }, grpcCall(ADMIN_KEY)),
      (err: { code?: number }) => err.code === 5,
    );
  });

  test('collection stops: Measurement Protocol answers as for an unknown stream and stores nothing', async () => {
    const r = await sendMp(server, p, { client_id: 'during.trash', events: [{ name: 'page_view' }] });
    assert.ok(r.status >= 200 && r.status < 300, String(r.status));
    const debug = await sendMp(
      server,
      p,
      { client_id: 'during.trash', events: [{ name: 'page_view' }] },
      { debug: true },
    );
    const unknown = await sendMp(
      server,
      p,
      { client_id: 'x', events: [{ name: 'page_view' }] },
      { debug: true, measurementId: 'G-UNKNOWN000' },
    );
    assert.deepEqual(debug.json, unknown.json, 'the same answer as for an unknown measurement id');
  });

  test('listProperties lists it only with showDeleted', async () => {
    const client = adminBetaClient(server.port, ADMIN_KEY);
    const [live] = await client.listProperties({ filter: 'parent:accounts/1' });
    assert.ok(!live.some((x) => x.name === p.property));
    const [all] = await client.listProperties({ filter: 'parent:accounts/1', showDeleted: true });
    const trashed = all.find((x) => x.name === p.property);
    assert.ok(trashed?.deleteTime?.seconds, JSON.stringify(trashed));
    assert.ok(trashed.expireTime?.seconds);
  });

  test('only the operator restores (403 for an admin key); the CLI command restores it and everything answers again', async () => {
    // An admin of another property (not the operator) may not restore.
    const other = await createTestProperty(server);
    const created = await api(server, 'POST', '/audex/v1/keys', {
      displayName: 'other admin',
      bindings: [{ property: other.property, role: 'admin' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const denied = await api(server, 'POST', `/audex/v1/${p.property}:restore`, undefined, created.json.key);
    assert.equal(denied.status, 403);
    const cli = await runCli(['properties', 'restore', p.property], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: ADMIN_KEY,
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`Restored ${p.property}`));
    const got = await api(server, 'GET', `/v1beta/${p.property}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.deleteTime, undefined);
    // Events from before the trash are still there; none from while it was trashed.
    assert.equal((await storedEvents(server, p, 'before.trash')).length, 1);
    assert.deepEqual(await storedEvents(server, p, 'during.trash'), []);
    // Collection works again.
    assert.equal(
      (await sendMp(server, p, { client_id: 'after.restore', events: [{ name: 'page_view' }] })).status,
      204,
    );
    assert.equal((await storedEvents(server, p, 'after.restore')).length, 1);
    // A live property cannot be restored.
    const again = await runCli(['properties', 'restore', p.property], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: ADMIN_KEY,
    });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not in the trash/);
  });
});

describe('data retention settings with the official admin client', () => {
  let server: RunningServer;
  let p: TestProperty;
  before(async () => {
    server = await startServer();
    p = await createTestProperty(server);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('get (v1beta REST), update (v1alpha gRPC), get again; bad values are INVALID_ARGUMENT', async () => {
    const name = `${p.property}/dataRetentionSettings`;
    const rest = adminBetaClient(server.port, ADMIN_KEY);
    const [initial] = await rest.getDataRetentionSettings({ name });
    assert.equal(initial.eventDataRetention, 'RETENTION_DURATION_UNSPECIFIED');
    const grpc = adminGrpcClient(server.grpcPort);
    const [updated] = await grpc.updateDataRetentionSettings(
      {
        dataRetentionSettings: {
          name,
          eventDataRetention: 'FOURTEEN_MONTHS',
          userDataRetention: 'TWO_MONTHS',
          resetUserDataOnNewActivity: false,
        },
        updateMask: {
          paths: ['event_data_retention', 'user_data_retention', 'reset_user_data_on_new_activity'],
        },
      },
      grpcCall(ADMIN_KEY),
    );
    assert.equal(updated.eventDataRetention, 'FOURTEEN_MONTHS');
    const [again] = await rest.getDataRetentionSettings({ name });
    assert.equal(again.eventDataRetention, 'FOURTEEN_MONTHS');
    assert.equal(again.userDataRetention, 'TWO_MONTHS');
    assert.equal(again.resetUserDataOnNewActivity, false);
    const bad = await api(server, 'PATCH', `/v1beta/${name}?updateMask=userDataRetention`, {
      userDataRetention: 'FIFTY_MONTHS',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /^data_retention_settings\.user_data_retention: /);
  });
});

describe('listProperties requires its filter', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer();
    await createTestProperty(server);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('without a filter, or a malformed one: INVALID_ARGUMENT naming filter (REST, Node client, gRPC)', async () => {
    for (const qs of [
      '',
      '?filter=',
      '?filter=parent:foo',
      '?filter=owner:accounts/1',
      '?filter=parent:accounts/x',
    ]) {
      const r = await api(server, 'GET', `/v1beta/properties${qs}`);
      assert.equal(r.status, 400, qs);
      assert.equal(r.json.error.status, 'INVALID_ARGUMENT', qs);
      assert.match(r.json.error.message, /^filter: /, qs);
      assert.equal(r.json.error.details[0].fieldViolations[0].field, 'filter');
    }
    await assert.rejects(
      adminBetaClient(server.port, ADMIN_KEY).listProperties({}),
      (err: { message?: string }) => /filter/.test(err.message ?? ''),
    );
    await assert.rejects(
      adminGrpcClient(server.grpcPort).listProperties({ filter: 'nonsense' }, grpcCall(ADMIN_KEY)),
      (err: { code?: number; details?: string }) => err.code === 3 && /filter/.test(err.details ?? ''),
    );
  });

  test('the forms of the proto: parent and ancestor accounts, subproperties, Firebase projects', async () => {
    const names = async (filter: string) =>
      (
        (await api(server, 'GET', `/v1beta/properties?filter=${encodeURIComponent(filter)}`)).json
          .properties ?? []
      ).length;
    assert.equal(await names('parent:accounts/1'), 1);
    assert.equal(await names('ancestor:accounts/1'), 1);
    assert.equal(await names('parent:accounts/2'), 0);
    assert.equal(await names('parent:properties/1'), 0, 'audex has no subproperties');
    assert.equal(await names('firebase_project:my-project'), 0, 'audex has no Firebase links');
  });
});

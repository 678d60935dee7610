// SubmitUserDeletion end to end, against `audex serve`, with the official admin client over REST and
// gRPC: the user's events leave the event store, existing exports (pages, rowCount, downloads) and
// new ones; other users stay; errors are Google-shaped; a deletion acknowledged just before a
// SIGKILL is completed after the restart; the id never appears in the log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, storedEvents, type TestProperty } from './helpers/property.ts';
import { adminClient, adminGrpcClient, dataClient, grpcCall } from './helpers/clients.ts';
import { createExportAndWait } from './helpers/exports.ts';
import { runCli } from './helpers/cli.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function purchasers(server: RunningServer, property: string): Promise<string> {
  const list = (await api(server, 'GET', `/v1alpha/${property}/audiences`)).json.audiences as any[];
  return list.find((a) => a.displayName === 'Purchasers').name as string;
}

async function buy(server: RunningServer, p: TestProperty, clientId: string, userId?: string) {
  const r = await sendMp(server, p, {
    client_id: clientId,
    ...(userId ? { user_id: userId } : {}),
    events: [
      { name: 'page_view', params: {} },
      { name: 'purchase', params: { value: 5, currency: 'EUR' } },
    ],
  });
  assert.equal(r.status, 204);
}

/** Every row of an export through the official client, page by page. */
async function exportRows(server: RunningServer, name: string, limit = 2) {
  const client = dataClient(server.port, ADMIN_KEY);
  const rows: string[][] = [];
  let rowCount = 0;
  for (let offset = 0; ; offset += limit) {
    const [page] = await client.queryAudienceExport({ name, offset, limit });
    rowCount = Number(page.rowCount);
    rows.push(...page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)));
    if (page.audienceRows!.length < limit) break;
  }
  return { rows, rowCount };
}

async function waitDeletionsDone(server: RunningServer, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const m = (await api(server, 'GET', '/audex/v1/metrics')).json.userDeletions;
    if (m.pending === 0 && m.acknowledged <= m.completed) return;
    if (Date.now() > end) throw new Error(`deletions not done: ${JSON.stringify(m)}`);
    await sleep(100);
  }
}

describe('SubmitUserDeletion with the official admin client (REST and gRPC)', () => {
  let server: RunningServer;
  let p: TestProperty;
  let exportName: string;
  const DIMS = ['deviceId', 'userId'];
  before(async () => {
    server = await startServer();
    p = await createTestProperty(server);
    await buy(server, p, 'dev.a', 'user-a');
    await buy(server, p, 'dev.b');
    await buy(server, p, 'dev.c', 'user-c');
    await buy(server, p, 'dev.c2', 'user-c'); // the same signed-in user on a second device
    await buy(server, p, 'dev.d', 'user-d');
    const e = await createExportAndWait(server, p.property, await purchasers(server, p.property), DIMS);
    exportName = e.name;
    assert.equal(e.rowCount, 5);
    // Pages are pre-rendered once the export is ACTIVE; reading one makes sure they exist.
    assert.equal((await exportRows(server, exportName)).rows.length, 5);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('deletes by client id (REST) and by user id (gRPC); answers deletionRequestTime', async () => {
    const before = Date.now();
    const [rest] = await adminClient(server.port, ADMIN_KEY).submitUserDeletion({
      name: p.property,
      clientId: 'dev.a',
    });
    const restTime = Number(rest.deletionRequestTime!.seconds) * 1000;
    assert.ok(restTime >= before - 1000 && restTime <= Date.now() + 1000, String(restTime));
    const [grpc] = await adminGrpcClient(server.grpcPort).submitUserDeletion(
      { name: p.property, userId: 'user-c' },
      grpcCall(ADMIN_KEY),
    );
    assert.ok(Number(grpc.deletionRequestTime!.seconds) * 1000 >= before - 1000);
    await waitDeletionsDone(server);
  });

  test("the user's events are gone; other users' events are untouched", async () => {
    for (const dev of ['dev.a', 'dev.c', 'dev.c2']) assert.deepEqual(await storedEvents(server, p, dev), []);
    for (const dev of ['dev.b', 'dev.d']) assert.equal((await storedEvents(server, p, dev)).length, 2, dev);
  });

  test("an existing export's pages and rowCount no longer hold the users", async () => {
    const { rows, rowCount } = await exportRows(server, exportName);
    assert.deepEqual(rows, [
      ['dev.b', ''],
      ['dev.d', 'user-d'],
    ]);
    assert.equal(rowCount, 2);
    const got = await api(server, 'GET', `/v1beta/${exportName}`);
    assert.equal(got.json.rowCount, 2);
    // Raw REST (the pre-rendered pages path) with a page past the new end.
    const page = await api(server, 'POST', `/v1beta/${exportName}:query`, { offset: 1, limit: 10 });
    assert.deepEqual(page.json.audienceRows, [
      { dimensionValues: [{ value: 'dev.d' }, { value: 'user-d' }] },
    ]);
    assert.equal(page.json.rowCount, 2);
  });

  test('the CLI download of an existing export no longer holds the users', async () => {
    const out = join(server.dataDir, 'download.csv');
    const r = await runCli(['exports', 'download', exportName, '--format', 'csv', '--out', out], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: ADMIN_KEY,
    });
    assert.equal(r.code, 0, r.stderr);
    const csv = readFileSync(out, 'utf8');
    assert.ok(!/dev\.a|dev\.c|user-c/.test(csv), csv);
    assert.match(csv, /dev\.b/);
  });

  test('a new export does not contain the users', async () => {
    const e = await createExportAndWait(server, p.property, await purchasers(server, p.property), DIMS);
    assert.equal(e.rowCount, 2);
    assert.deepEqual(
      (await exportRows(server, e.name)).rows.map((r) => r[0]),
      ['dev.b', 'dev.d'],
    );
  });

  test('the deleted ids never appear in the log', () => {
    const log = server.output();
    assert.match(log, /user deletion completed/);
    assert.ok(!/dev\.a|user-c/.test(log), 'the ids are not logged');
  });

  test('errors: user_provided_data, no id, two ids, viewer key, unknown property', async () => {
    const submit = (body: unknown, key = ADMIN_KEY, name = p.property) =>
      api(server, 'POST', `/v1alpha/${name}:submitUserDeletion`, body, key);
    const upd = await submit({ userProvidedData: 'someone@example.com' });
    assert.equal(upd.status, 400);
    assert.equal(upd.json.error.status, 'INVALID_ARGUMENT');
    assert.match(upd.json.error.message, /^user_provided_data: .*stores no user-provided data/);
    const none = await submit({});
    assert.equal(none.json.error.status, 'INVALID_ARGUMENT');
    assert.match(none.json.error.message, /user_id, client_id or app_instance_id/);
    const two = await submit({ userId: 'x', clientId: 'y' });
    assert.equal(two.json.error.status, 'INVALID_ARGUMENT');
    const viewer = (
      await api(server, 'POST', '/audex/v1/keys', {
        displayName: 'viewer',
        bindings: [{ property: p.property, role: 'viewer' }],
      })
    ).json.key as string;
    const denied = await submit({ clientId: 'dev.b' }, viewer);
    assert.equal(denied.status, 403);
    const editor = (
      await api(server, 'POST', '/audex/v1/keys', {
        displayName: 'editor',
        bindings: [{ property: p.property, role: 'editor' }],
      })
    ).json.key as string;
    const ok = await submit({ appInstanceId: 'no-such-device' }, editor);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.match(ok.json.deletionRequestTime, /^\d{4}-\d\d-\d\dT/);
    const unknown = await submit({ clientId: 'x' }, ADMIN_KEY, 'properties/999999');
    assert.equal(unknown.status, 404);
    await waitDeletionsDone(server);
  });
});

describe('a deletion acknowledged before a SIGKILL is completed after the restart', () => {
  let server: RunningServer;
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('kill -9 between the answer and the work; the restart finishes it', async () => {
    // Each deletion waits 60 s after it is journaled: the kill lands before any work.
    server = await startServer({ env: { AUDEX_TEST_USER_DELETION_DELAY_MS: '60000' } });
    const p = await createTestProperty(server);
    await buy(server, p, 'dev.x', 'user-x');
    await buy(server, p, 'dev.y');
    const e = await createExportAndWait(server, p.property, await purchasers(server, p.property), [
      'deviceId',
    ]);
    assert.equal(e.rowCount, 2);
    const [ack] = await adminClient(server.port, ADMIN_KEY).submitUserDeletion({
      name: p.property,
      userId: 'user-x',
    });
    assert.ok(ack.deletionRequestTime?.seconds);
    assert.equal((await storedEvents(server, p, 'dev.x')).length, 2, 'not deleted yet');
    await server.kill();
    server = await startServer({ dataDir: server.dataDir });
    // The new process acknowledged nothing: wait until it has completed the journaled request.
    const end = Date.now() + 30_000;
    while ((await api(server, 'GET', '/audex/v1/metrics')).json.userDeletions.completed < 1) {
      assert.ok(Date.now() < end, 'the journaled deletion was not completed after the restart');
      await sleep(100);
    }
    assert.deepEqual(await storedEvents(server, p, 'dev.x'), []);
    assert.equal((await storedEvents(server, p, 'dev.y')).length, 2);
    const { rows, rowCount } = await exportRows(server, e.name);
    assert.deepEqual(rows, [['dev.y']]);
    assert.equal(rowCount, 1);
  });
});

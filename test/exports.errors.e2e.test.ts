// Audience export errors over the wire (spec data-api.md §6): status, HTTP code, and a message
// naming the field; the official client sees the canonical gRPC code. Quotas with small limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { dataClient } from './helpers/clients.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function purchasersOf(server: RunningServer, property: string): Promise<string> {
  const list = (await api(server, 'GET', `/v1alpha/${property}/audiences`)).json.audiences as any[];
  return list.find((a) => a.displayName === 'Purchasers').name;
}

async function waitState(server: RunningServer, name: string, state: string): Promise<any> {
  for (let i = 0; i < 400; i++) {
    const r = await api(server, 'GET', `/v1beta/${name}`);
    if (r.json.state === state) return r.json;
    await sleep(50);
  }
  throw new Error(`${name} never reached ${state}`);
}

function expectError(r: { status: number; json: any }, status: string, http: number, field?: RegExp): void {
  assert.equal(r.status, http, JSON.stringify(r.json));
  assert.equal(r.json.error.status, status);
  assert.equal(r.json.error.code, http);
  if (field) assert.match(r.json.error.message, field);
}

describe('audience export errors', () => {
  let server: RunningServer;
  let p: TestProperty;
  let other: TestProperty;
  let audience: string;
  let otherKey: string;
  before(async () => {
    server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '1500' } });
    p = await createTestProperty(server);
    other = await createTestProperty(server);
    audience = await purchasersOf(server, p.property);
    await sendMp(server, p, {
      client_id: '1.1',
      events: [{ name: 'purchase', params: { value: 1, currency: 'EUR' } }],
    });
    const key = await api(server, 'POST', '/audex/v1/keys', {
      displayName: 'other only',
      bindings: [{ property: other.property, role: 'editor' }],
    });
    otherKey = key.json.key;
    assert.ok(otherKey);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  const create = (body: unknown, key = ADMIN_KEY, parent?: string) =>
    api(server, 'POST', `/v1beta/${parent ?? p.property}/audienceExports`, body, key);

  test('bad create input is INVALID_ARGUMENT naming the field', async () => {
    expectError(
      await create({ audience: 'audiences/1', dimensions: [{ dimensionName: 'deviceId' }] }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.audience/,
    );
    expectError(
      await create({ dimensions: [{ dimensionName: 'deviceId' }] }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.audience/,
    );
    expectError(
      await create({
        audience: `${other.property}/audiences/1`,
        dimensions: [{ dimensionName: 'deviceId' }],
      }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.audience/,
    );
    expectError(
      await create({ audience, dimensions: [] }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.dimensions/,
    );
    expectError(await create({ audience }), 'INVALID_ARGUMENT', 400, /audience_export\.dimensions/);
    expectError(
      await create({ audience, dimensions: [{ dimensionName: 'deviceId' }, { dimensionName: 'city' }] }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.dimensions\[1\]\.dimension_name.*city/,
    );
    expectError(
      await create({ audience, dimensions: [{ dimensionName: 'userId' }, { dimensionName: 'userId' }] }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.dimensions\[1\]\.dimension_name.*more than once/,
    );
    expectError(
      await create({ audience, dimensions: [{}] }),
      'INVALID_ARGUMENT',
      400,
      /dimensions\[0\]\.dimension_name/,
    );
    // A wrapped body ({audienceExport: ...}) is not the AudienceExport.
    expectError(
      await create({ audienceExport: { audience, dimensions: [{ dimensionName: 'deviceId' }] } }),
      'INVALID_ARGUMENT',
      400,
      /audience_export\.audience/,
    );
    expectError(
      await api(server, 'POST', `/v1beta/properties/abc/audienceExports`, { audience }),
      'INVALID_ARGUMENT',
      400,
      /parent/,
    );
  });

  test('an unknown audience, an unknown property and a deleted property are NOT_FOUND', async () => {
    const deviceId = [{ dimensionName: 'deviceId' }];
    expectError(
      await create({ audience: `${p.property}/audiences/999`, dimensions: deviceId }),
      'NOT_FOUND',
      404,
      /audience_export\.audience.*audiences\/999.*not found/,
    );
    // The admin key may see every property, so these are about existence, not permission.
    expectError(
      await create(
        { audience: 'properties/424242/audiences/1', dimensions: deviceId },
        ADMIN_KEY,
        'properties/424242',
      ),
      'NOT_FOUND',
      404,
      /properties\/424242/,
    );
    expectError(
      await api(server, 'GET', '/v1beta/properties/424242/audienceExports'),
      'NOT_FOUND',
      404,
      /properties\/424242/,
    );
    // A property with an ACTIVE export, then deleted: the export goes with it.
    const gone = await createTestProperty(server);
    const goneAudience = await purchasersOf(server, gone.property);
    const op = (
      await api(server, 'POST', `/v1beta/${gone.property}/audienceExports`, {
        audience: goneAudience,
        dimensions: deviceId,
      })
    ).json;
    const name = op.response.name as string;
    await waitState(server, name, 'ACTIVE');
    assert.equal((await api(server, 'DELETE', `/v1beta/${gone.property}`)).status, 200);
    expectError(await api(server, 'GET', `/v1beta/${name}`), 'NOT_FOUND', 404);
    expectError(await api(server, 'POST', `/v1beta/${name}:query`, {}), 'NOT_FOUND', 404);
    expectError(await api(server, 'GET', `/v1beta/${gone.property}/audienceExports`), 'NOT_FOUND', 404);
    expectError(await api(server, 'GET', `/v1/${op.name}`), 'NOT_FOUND', 404);
    // The official client sees code 5 for an unknown audience.
    await assert.rejects(
      dataClient(server.port, ADMIN_KEY).createAudienceExport({
        parent: p.property,
        audienceExport: { audience: `${p.property}/audiences/999`, dimensions: deviceId },
      }),
      (e: { code: number; message: string }) => e.code === 5 && /audience/.test(e.message),
    );
  });

  test('the official client sees the same codes', async () => {
    const client = dataClient(server.port, ADMIN_KEY);
    await assert.rejects(
      client.createAudienceExport({
        parent: p.property,
        audienceExport: { audience, dimensions: [{ dimensionName: 'city' }] },
      }),
      (e: { code: number; message: string }) => e.code === 3 && /dimension_name/.test(e.message),
    );
    await assert.rejects(
      client.getAudienceExport({ name: `${p.property}/audienceExports/424242` }),
      (e: { code: number }) => e.code === 5,
    );
    await assert.rejects(
      client.queryAudienceExport({ name: `${p.property}/audienceExports/424242` }),
      (e: { code: number }) => e.code === 5,
    );
  });

  test('query while CREATING is FAILED_PRECONDITION; limit <= 0 and negative offset are INVALID_ARGUMENT', async () => {
    const op = (await create({ audience, dimensions: [{ dimensionName: 'deviceId' }] })).json;
    const name = op.response.name as string;
    expectError(await api(server, 'POST', `/v1beta/${name}:query`, {}), 'FAILED_PRECONDITION', 400, /ACTIVE/);
    const client = dataClient(server.port, ADMIN_KEY);
    await assert.rejects(client.queryAudienceExport({ name }), (e: { code: number }) => e.code === 9);
    await waitState(server, name, 'ACTIVE');
    expectError(
      await api(server, 'POST', `/v1beta/${name}:query`, { limit: '0' }),
      'INVALID_ARGUMENT',
      400,
      /limit/,
    );
    expectError(
      await api(server, 'POST', `/v1beta/${name}:query`, { limit: -5 }),
      'INVALID_ARGUMENT',
      400,
      /limit/,
    );
    expectError(
      await api(server, 'POST', `/v1beta/${name}:query`, { offset: '-1' }),
      'INVALID_ARGUMENT',
      400,
      /offset/,
    );
    expectError(
      await api(server, 'POST', `/v1beta/${name}:query`, { limit: 'ten' }),
      'INVALID_ARGUMENT',
      400,
      /limit/,
    );
    expectError(
      await api(server, 'POST', `/v1beta/${name}:query`, { limit: 1.5 }),
      'INVALID_ARGUMENT',
      400,
      /limit/,
    );
    const ok = await api(server, 'POST', `/v1beta/${name}:query`, { limit: '999999999' });
    assert.equal(ok.status, 200);
    expectError(
      await api(server, 'GET', `/v1beta/${p.property}/audienceExports?pageSize=-1`),
      'INVALID_ARGUMENT',
      400,
      /page_size/,
    );
    expectError(
      await api(server, 'GET', `/v1beta/${p.property}/audienceExports?pageToken=bogus`),
      'INVALID_ARGUMENT',
      400,
      /page_token/,
    );
  });

  test("another property's export is PERMISSION_DENIED, the same whether it exists or not", async () => {
    const op = (await create({ audience, dimensions: [{ dimensionName: 'deviceId' }] })).json;
    const name = op.response.name as string;
    const missing = `${p.property}/audienceExports/987654`;
    for (const n of [name, missing]) {
      const get = await api(server, 'GET', `/v1beta/${n}`, undefined, otherKey);
      expectError(get, 'PERMISSION_DENIED', 403);
      const q = await api(server, 'POST', `/v1beta/${n}:query`, {}, otherKey);
      expectError(q, 'PERMISSION_DENIED', 403);
      assert.deepEqual(q.json, get.json);
    }
    expectError(
      await api(server, 'GET', `/v1beta/${p.property}/audienceExports`, undefined, otherKey),
      'PERMISSION_DENIED',
      403,
    );
    expectError(
      await create({ audience, dimensions: [{ dimensionName: 'deviceId' }] }, otherKey),
      'PERMISSION_DENIED',
      403,
    );
    // Operations of other properties look like unknown ones.
    expectError(await api(server, 'GET', `/v1/${op.name}`, undefined, otherKey), 'NOT_FOUND', 404);
    expectError(await api(server, 'GET', `/v1/operations/nope`), 'NOT_FOUND', 404);
    // Unauthenticated.
    expectError(await api(server, 'GET', `/v1beta/${name}`, undefined, null), 'UNAUTHENTICATED', 401);
  });
});

describe('audience export quotas', () => {
  let server: RunningServer;
  let p: TestProperty;
  before(async () => {
    server = await startServer({
      env: {
        AUDEX_TEST_EXPORT_DELAY_MS: '1000',
        AUDEX_EXPORT_MAX_CONCURRENT: '1',
        AUDEX_EXPORT_DAILY_TOKENS: '3',
      },
    });
    p = await createTestProperty(server);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('concurrent creations and daily tokens are RESOURCE_EXHAUSTED at request time', async () => {
    const audience = await purchasersOf(server, p.property);
    const body = { audience, dimensions: [{ dimensionName: 'deviceId' }] };
    const first = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, body);
    assert.equal(first.status, 200);
    const busy = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, body);
    expectError(busy, 'RESOURCE_EXHAUSTED', 429, /concurrent/);
    const client = dataClient(server.port, ADMIN_KEY);
    await assert.rejects(
      client.createAudienceExport({ parent: p.property, audienceExport: body }),
      (e: { code: number }) => e.code === 8,
    );
    const done = await waitState(server, first.json.response.name, 'ACTIVE');
    assert.equal(done.creationQuotaTokensCharged, 1);
    for (let i = 0; i < 2; i++) {
      const r = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, body);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      await waitState(server, r.json.response.name, 'ACTIVE');
    }
    expectError(
      await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, body),
      'RESOURCE_EXHAUSTED',
      429,
      /tokens per day/,
    );
  });
});

describe('audience export expiry', () => {
  test('an expired export answers NOT_FOUND to get, query and its operation, and leaves the list', async () => {
    const server = await startServer({ env: { AUDEX_EXPORT_EXPIRY_HOURS: '0.001' } }); // 3.6 s
    try {
      const p = await createTestProperty(server);
      const audience = await purchasersOf(server, p.property);
      const op = (
        await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
          audience,
          dimensions: [{ dimensionName: 'deviceId' }],
        })
      ).json;
      const name = op.response.name as string;
      await waitState(server, name, 'ACTIVE');
      const expireAt = Date.parse(op.response.beginCreatingTime) + 3600;
      await sleep(Math.max(0, expireAt - Date.now()) + 200);
      expectError(await api(server, 'GET', `/v1beta/${name}`), 'NOT_FOUND', 404);
      expectError(await api(server, 'POST', `/v1beta/${name}:query`, {}), 'NOT_FOUND', 404);
      expectError(await api(server, 'GET', `/v1/${op.name}`), 'NOT_FOUND', 404);
      const list = await api(server, 'GET', `/v1beta/${p.property}/audienceExports`);
      assert.deepEqual(list.json, { audienceExports: [] });
    } finally {
      await server.stop();
      removeDir(server.dataDir);
    }
  });
});

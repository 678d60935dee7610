// The official @google-analytics/admin client (REST mode) against a server started as a user starts it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { adminBetaClient, adminClient } from './helpers/clients.ts';

describe('Admin API with the official client', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    assert.equal(await server.stop(), 0, 'SIGTERM exits 0');
    removeDir(server.dataDir);
  });

  test('healthz answers 200 once requests are accepted', async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
  });

  test('creates a property, a web data stream and a secret, and lists them back', async () => {
    for (const client of [adminClient(server.port, ADMIN_KEY), adminBetaClient(server.port, ADMIN_KEY)]) {
      const [property] = await client.createProperty({
        property: {
          parent: 'accounts/1',
          displayName: 'Shop',
          timeZone: 'Europe/Berlin',
          currencyCode: 'EUR',
        },
      });
      assert.match(property.name!, /^properties\/\d+$/);
      assert.equal(property.displayName, 'Shop');
      assert.equal(property.timeZone, 'Europe/Berlin');
      assert.equal(property.currencyCode, 'EUR');

      const [stream] = await client.createDataStream({
        parent: property.name!,
        dataStream: {
          type: 'WEB_DATA_STREAM',
          displayName: 'Web',
          webStreamData: { defaultUri: 'https://shop.example' },
        },
      });
      assert.match(stream.name!, new RegExp(`^${property.name}/dataStreams/\\d+$`));
      assert.match(stream.webStreamData!.measurementId!, /^G-[A-Z0-9]{10}$/);
      assert.equal(stream.type, 'WEB_DATA_STREAM');

      const [secret] = await client.createMeasurementProtocolSecret({
        parent: stream.name!,
        measurementProtocolSecret: { displayName: 'server' },
      });
      assert.match(secret.name!, new RegExp(`^${stream.name}/measurementProtocolSecrets/\\d+$`));
      assert.ok(secret.secretValue && secret.secretValue.length >= 16);

      const [properties] = await client.listProperties({ filter: 'parent:accounts/1' });
      assert.ok(properties.some((p) => p.name === property.name));
      const [streams] = await client.listDataStreams({ parent: property.name! });
      assert.deepEqual(
        streams.map((s) => s.name),
        [stream.name],
      );
      const [secrets] = await client.listMeasurementProtocolSecrets({ parent: stream.name! });
      assert.deepEqual(
        secrets.map((s) => s.secretValue),
        [secret.secretValue],
      );

      const [got] = await client.getProperty({ name: property.name! });
      assert.equal(got.displayName, 'Shop');
      const [patched] = await client.updateProperty({
        property: { name: property.name!, displayName: 'Shop 2' },
        updateMask: { paths: ['display_name'] },
      });
      assert.equal(patched.displayName, 'Shop 2');
    }
  });

  test('bad input gets Google-shaped errors naming the field', async () => {
    const bad = await api(server, 'POST', '/v1beta/properties', {
      displayName: 'x',
      timeZone: 'Mars/Olympus',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.status, 'INVALID_ARGUMENT');
    assert.match(bad.json.error.message, /time_zone/);
    const notJson = await api(server, 'POST', '/v1beta/properties', '{nope');
    assert.equal(notJson.status, 400);
    const missing = await api(server, 'GET', '/v1beta/properties/999999');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.status, 'NOT_FOUND');
    const badName = await api(server, 'GET', '/v1beta/properties/abc');
    assert.equal(badName.status, 400);
    assert.equal(
      badName.json.error.message,
      'name: must be a resource name of the form properties/{id} (got "properties/abc").',
    );
    const badSecret = await api(
      server,
      'GET',
      '/v1beta/properties/1/dataStreams/x/measurementProtocolSecrets/1',
    );
    assert.equal(badSecret.status, 400);
    assert.match(
      badSecret.json.error.message,
      /of the form properties\/\{id\}\/dataStreams\/\{id\}\/measurementProtocolSecrets\/\{id\} /,
    );
  });
});

// The auth matrix: no key, another property's key, a viewer key on a write, a revoked key; keys
// managed with the CLI through the server's key endpoint.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { runCli } from './helpers/cli.ts';
import { request as httpRequest } from 'node:http';

describe('auth matrix', () => {
  let server: RunningServer;
  let p1: string;
  let p2: string;
  const keys: Record<string, string> = {};

  async function createKey(property: string, role: string): Promise<string> {
    const res = await runCli(['keys', 'create', '--property', property, '--role', role, '--json'], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: ADMIN_KEY,
    });
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout).key as string;
  }

  before(async () => {
    server = await startServer();
    p1 = (await api(server, 'POST', '/v1beta/properties', { displayName: 'P1', timeZone: 'UTC' })).json.name;
    p2 = (await api(server, 'POST', '/v1beta/properties', { displayName: 'P2', timeZone: 'UTC' })).json.name;
    keys.viewer1 = await createKey(p1, 'viewer');
    keys.admin1 = await createKey(p1, 'admin');
    keys.admin2 = await createKey(p2, 'admin');
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  // The ErrorInfo reason, checked to sit in Google's domain for credential reasons.
  const reasonOf = (json: any): string | undefined => {
    const info = json.error.details?.find(
      (d: any) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo',
    );
    if (info) assert.equal(info.domain, 'googleapis.com');
    return info?.reason;
  };

  test('no key: 401 UNAUTHENTICATED', async () => {
    const res = await api(server, 'GET', `/v1beta/${p1}`, undefined, null);
    assert.equal(res.status, 401);
    assert.equal(res.json.error.status, 'UNAUTHENTICATED');
    const bogus = await api(server, 'GET', `/v1beta/${p1}`, undefined, 'not-a-key');
    assert.equal(bogus.status, 401);
  });

  test('no credentials: CREDENTIALS_MISSING; an unknown key: API_KEY_INVALID', async () => {
    const none = await api(server, 'GET', `/v1beta/${p1}`, undefined, null);
    assert.equal(none.status, 401);
    assert.equal(none.json.error.status, 'UNAUTHENTICATED');
    assert.equal(reasonOf(none.json), 'CREDENTIALS_MISSING');
    const unknown = await api(server, 'GET', `/v1beta/${p1}`, undefined, 'audex_not-a-key-at-all-0000000000');
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.error.status, 'UNAUTHENTICATED');
    assert.equal(reasonOf(unknown.json), 'API_KEY_INVALID');
    const header = await fetch(`${server.url}/v1beta/${p1}`, { headers: { 'x-goog-api-key': 'nope-nope' } });
    assert.equal(header.status, 401);
    assert.equal(reasonOf(await header.json()), 'API_KEY_INVALID');
  });

  test('the key as ?key= query parameter, after the header forms; never logged', async () => {
    const ok = await fetch(`${server.url}/v1beta/${p1}?key=${encodeURIComponent(keys.viewer1!)}`);
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).name, p1);
    const bad = await fetch(`${server.url}/v1beta/${p1}?key=not-a-valid-key-123`);
    assert.equal(bad.status, 401);
    assert.equal(reasonOf(await bad.json()), 'API_KEY_INVALID');
    // A header wins over the query parameter.
    const both = await fetch(`${server.url}/v1beta/${p1}?key=not-a-valid-key-123`, {
      headers: { authorization: `Bearer ${keys.viewer1!}` },
    });
    assert.equal(both.status, 200);
    const both2 = await fetch(`${server.url}/v1beta/${p1}?key=${encodeURIComponent(keys.viewer1!)}`, {
      headers: { 'x-goog-api-key': 'not-a-valid-key-456' },
    });
    assert.equal(both2.status, 401);
    // Alongside other query parameters (with numeric enums, as the clients ask).
    const list = await fetch(
      `${server.url}/v1beta/${p1}/dataStreams?$alt=json%3Benum-encoding%3Dint&key=${encodeURIComponent(keys.viewer1!)}`,
    );
    assert.equal(list.status, 200);
    // A request that fails mid-body is logged with its URL: the key is not in the log.
    const marker = `${keys.viewer1!}`;
    await new Promise<void>((resolve) => {
      const req = httpRequest(
        `${server.url}/mp/collect?measurement_id=G-NOPE&api_secret=x&key=${encodeURIComponent(marker)}`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } },
      );
      req.on('error', () => resolve());
      req.write('{"client_id":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.match(server.output(), /request failed/);
    assert.ok(!server.output().includes(marker), 'the API key never appears in the log');
    assert.ok(!server.output().includes(encodeURIComponent(marker)), 'nor URL-encoded');
  });

  test('a revoked key: 401 API_KEY_INVALID', async () => {
    const key = await createKey(p1, 'viewer');
    assert.equal((await api(server, 'GET', `/v1beta/${p1}`, undefined, key)).status, 200);
    const entry = JSON.parse(
      (await runCli(['keys', 'list', '--json'], { AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY })).stdout,
    ).keys.find(
      (k: { keyPrefix: string; revokeTime?: string }) => key.startsWith(k.keyPrefix) && !k.revokeTime,
    );
    assert.ok(entry);
    assert.equal((await api(server, 'POST', `/audex/v1/${entry.name}:revoke`, {})).status, 200);
    const res = await api(server, 'GET', `/v1beta/${p1}`, undefined, key);
    assert.equal(res.status, 401);
    assert.equal(res.json.error.status, 'UNAUTHENTICATED');
    assert.equal(reasonOf(res.json), 'API_KEY_INVALID');
  });

  test('X-Goog-Api-Key is accepted like a bearer token', async () => {
    const res = await fetch(`${server.url}/v1beta/${p1}`, { headers: { 'x-goog-api-key': keys.viewer1! } });
    assert.equal(res.status, 200);
  });

  test("another property's key: 403, and the property's existence is not revealed", async () => {
    const other = await api(server, 'GET', `/v1beta/${p1}`, undefined, keys.admin2);
    assert.equal(other.status, 403);
    assert.equal(other.json.error.status, 'PERMISSION_DENIED');
    const missing = await api(server, 'GET', '/v1beta/properties/987654', undefined, keys.admin2);
    assert.deepEqual(missing, other, 'a missing property and a foreign one look the same');
    const list = await api(
      server,
      'GET',
      '/v1beta/properties?filter=parent:accounts/1',
      undefined,
      keys.admin2,
    );
    assert.deepEqual(
      list.json.properties.map((p: { name: string }) => p.name),
      [p2],
    );
  });

  test('a viewer key on a write: 403', async () => {
    const res = await api(
      server,
      'POST',
      `/v1beta/${p1}/dataStreams`,
      { type: 'WEB_DATA_STREAM', displayName: 'w' },
      keys.viewer1,
    );
    assert.equal(res.status, 403);
    const ok = await api(
      server,
      'POST',
      `/v1beta/${p1}/dataStreams`,
      { type: 'WEB_DATA_STREAM', displayName: 'w' },
      keys.admin1,
    );
    assert.equal(ok.status, 200);
    const noProps = await api(
      server,
      'POST',
      '/v1beta/properties',
      { displayName: 'x', timeZone: 'UTC' },
      keys.admin1,
    );
    assert.equal(noProps.status, 403, 'only the operator key creates properties');
  });

  test('a revoked key: 401; keys list shows it revoked', async () => {
    const key = await createKey(p1, 'editor');
    assert.equal((await api(server, 'GET', `/v1beta/${p1}`, undefined, key)).status, 200);
    const list = await runCli(['keys', 'list', '--json'], { AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY });
    const entry = JSON.parse(list.stdout).keys.find((k: { keyPrefix: string }) =>
      key.startsWith(k.keyPrefix),
    );
    assert.ok(entry);
    const revoke = await runCli(['keys', 'revoke', entry.name], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: ADMIN_KEY,
    });
    assert.equal(revoke.code, 0, revoke.stderr);
    const res = await api(server, 'GET', `/v1beta/${p1}`, undefined, key);
    assert.equal(res.status, 401);
    const table = await runCli(['keys', 'list'], { AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY });
    assert.match(table.stdout, new RegExp(`${entry.name}\\s.*revoked`));
  });

  test('a property admin cannot mint keys for another property', async () => {
    const res = await api(
      server,
      'POST',
      '/audex/v1/keys',
      { bindings: [{ property: p2, role: 'viewer' }] },
      keys.admin1,
    );
    assert.equal(res.status, 403);
  });
});

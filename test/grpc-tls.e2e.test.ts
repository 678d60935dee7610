// gRPC the way clients run it in production: over TLS (a certificate from `npm run tls-cert`),
// with the key attached to every call by the official client's authClient. The client runs in a
// child process because GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is read when grpc-js loads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';

const ROOT = join(import.meta.dirname, '..');

// The client program: nothing but the official client, an OAuth2Client holding the audex key, and
// the endpoint; no sslCreds (the default TLS credentials trust the roots file named by the env).
const CLIENT = `
import { BetaAnalyticsDataClient } from '@google-analytics/data';
import { OAuth2Client } from 'google-auth-library';
const authClient = new OAuth2Client();
authClient.setCredentials({ access_token: process.env.AUDEX_KEY });
const data = new BetaAnalyticsDataClient({ apiEndpoint: 'localhost', port: Number(process.env.GRPC_PORT), authClient });
const [operation] = await data.createAudienceExport({
  parent: process.env.PROPERTY,
  audienceExport: { audience: process.env.AUDIENCE, dimensions: [{ dimensionName: 'deviceId' }] },
});
const progress = await data.checkCreateAudienceExportProgress(operation.name);
const [exp] = await operation.promise();
const [page] = await data.queryAudienceExport({ name: exp.name, limit: 100 });
console.log(JSON.stringify({ progressName: progress.name, state: exp.state, rows: page.audienceRows.map((r) => r.dimensionValues[0].value).sort() }));
`;

describe('gRPC over TLS with the official client', () => {
  let server: RunningServer;
  let p: TestProperty;
  let tls: string;
  let work: string;

  before(async () => {
    tls = mkdtempSync(join(ROOT, '.tmp-tls-'));
    const made = spawnSync('bash', [join(ROOT, 'scripts', 'self-signed-cert.sh'), tls], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /wrote .*audex-cert\.pem and .*audex-key\.pem/);
    server = await startServer({
      env: { AUDEX_TLS_CERT: join(tls, 'audex-cert.pem'), AUDEX_TLS_KEY: join(tls, 'audex-key.pem') },
    });
    assert.match(server.output(), /serving gRPC on .* \(TLS\)/);
    p = await createTestProperty(server);
    for (const id of ['tls.1', 'tls.2'])
      assert.equal((await sendMp(server, p, { client_id: id, events: [{ name: 'page_view' }] })).status, 204);
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    work = mkdtempSync(join(ROOT, '.tmp', 'grpc-tls-'));
    writeFileSync(join(work, 'client.mjs'), CLIENT);
  });
  after(async () => {
    await server?.stop();
    removeDir(server.dataDir);
    rmSync(tls, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  test('authClient authenticates every call, including checkCreateAudienceExportProgress', async () => {
    const all = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as {
      name: string;
      displayName: string;
    }[];
    const audience = all.find((a) => a.displayName === 'All Users')!.name;
    const r = spawnSync(process.execPath, ['client.mjs'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: join(tls, 'audex-cert.pem'),
        METADATA_SERVER_DETECTION: 'none',
        AUDEX_KEY: ADMIN_KEY,
        GRPC_PORT: String(server.grpcPort),
        PROPERTY: p.property,
        AUDIENCE: audience,
      },
    });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim()) as { progressName: string; state: number; rows: string[] };
    assert.match(res.progressName, /^operations\//);
    assert.equal(res.state, 2); // ACTIVE (gRPC enums are numbers)
    assert.deepEqual(res.rows, ['tls.1', 'tls.2']);
    assert.ok(readFileSync(join(tls, 'audex-cert.pem'), 'utf8').startsWith('-----BEGIN CERTIFICATE-----'));
  });
});
